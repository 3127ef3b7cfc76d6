from __future__ import annotations

import logging

from sqlalchemy.exc import SQLAlchemyError

from broker.pipeline.call import Next, ToolCall
from broker.secrets.errors import CredentialsUnavailable
from broker.secrets.vault import Vault
from connectors.base import ToolOutput

log = logging.getLogger("broker.secrets")


class InjectCredentials:
    """Resolve the secrets the tool's connector references into `call.secrets`, last before
    dispatch. Every referenced name is resolved (cached, so usually no I/O); the connector
    picks this agent's secret and fails the call as `credentials_missing` when it is absent."""

    def __init__(self, vault: Vault) -> None:
        self._vault = vault

    async def __call__(self, call: ToolCall, call_next: Next) -> ToolOutput:
        assert call.tool is not None, "Authorize resolves the tool first"
        refs = call.snapshot.connectors[call.tool.connector].secret_refs()
        if refs:
            try:
                call.secrets = await self._vault.resolve(refs, revision=call.snapshot.revision)
            except SQLAlchemyError:
                log.exception("could not read secrets for connector '%s'", call.tool.connector)
                raise CredentialsUnavailable(
                    f"{call.tool.connector}: the gateway cannot read its credentials right now; "
                    "try again shortly"
                ) from None
        return await call_next(call)
