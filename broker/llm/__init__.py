"""The metered LLM proxy at /v1: OpenAI-compatible (and Anthropic Messages) in front of providers.

The request path: proxy (ASGI, auth, routing) → openai_api / anthropic_api (per endpoint)
→ metering (admit against accounts: budgets and rate limits, in process or in Redis) →
upstream (retries, fallbacks over http1, a lean keep-alive client per provider) → relay
(whole or streamed, metered by usage, translated by translate where the APIs differ) →
metering again (settle, ledger, metrics). Configuration: config (vocabulary), services
(storage), state and catalog (the in-memory snapshot), admin API in broker/admin/llm*.py.
"""
