"""Guardrails on the model path: PII and secrets in prompts, prompt injection, denied topics,
and output rules on answers (streams included). Configured per agent or team in the
`guardrails:` section of policies (policies/guardrails.py); verdicts go to the ledger and metrics."""
