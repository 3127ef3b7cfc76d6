"""The encrypted secret store: keys (`keys`), stored values (`service`), the call-time cache
(`vault`). Import the module you need; this package imports nothing, so the CLI can read
`kinds` without loading the cryptography stack."""
