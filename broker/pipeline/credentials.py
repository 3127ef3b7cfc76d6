from __future__ import annotations

import logging

from sqlalchemy.exc import SQLAlchemyError

from broker.identity.signing import GatewaySigner
from broker.pipeline.call import Next, Request
from broker.secrets.errors import CredentialsUnavailable
from broker.secrets.vault import Vault
from connectors.base import Output

log = logging.getLogger("broker.secrets")


class InjectCredentials:
    """Resolve the secrets the answering connector references into `request.secrets`, last
    before dispatch, for every kind of request alike. Every referenced name is resolved
    (cached, so usually no I/O); the connector picks this agent's secret and fails the call as
    `credentials_missing` when it is absent."""

    def __init__(self, vault: Vault, signer: GatewaySigner | None = None) -> None:
        self._vault = vault
        self._signer = signer

    async def __call__(self, request: Request, call_next: Next) -> Output:
        name = request.connector
        assert name is not None, "Authorize resolves the connector first"
        if self._signer is not None:
            agent = request.agent
            request.assertion = self._signer.for_request(
                agent.name, agent.team, agent.end_user, request.target
            )
        refs = request.snapshot.connectors[name].secret_refs()
        if refs:
            try:
                request.secrets = await self._vault.resolve(refs, revision=request.snapshot.revision)
            except SQLAlchemyError:
                log.exception("could not read secrets for connector '%s'", name)
                raise CredentialsUnavailable(
                    f"{name}: the gateway cannot read its credentials right now; try again shortly"
                ) from None
        return await call_next(request)
