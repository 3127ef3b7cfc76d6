from __future__ import annotations

import logging

from sqlalchemy.exc import SQLAlchemyError

from broker.connections import Ticket, UserGrants, user_oauth_of
from broker.connections.grants import private_network
from broker.identity.signing import GatewaySigner
from broker.pipeline.call import Next, Request
from broker.secrets.errors import CredentialsMissing, CredentialsUnavailable
from broker.secrets.vault import Vault
from connectors.auth import UserOAuth
from connectors.base import Output

log = logging.getLogger("broker.secrets")


class InjectCredentials:
    """Resolve the secrets the answering connector references into `request.secrets`, last
    before dispatch, for every kind of request alike. Every referenced name is resolved
    (cached, so usually no I/O); the connector picks this agent's secret and fails the call as
    `credentials_missing` when it is absent. A connector with per-user grants (`user_oauth`)
    gets the end user's own access token, or the call answers how to connect."""

    def __init__(
        self, vault: Vault, signer: GatewaySigner | None = None, grants: UserGrants | None = None
    ) -> None:
        self._vault = vault
        self._signer = signer
        self._grants = grants

    async def __call__(self, request: Request, call_next: Next) -> Output:
        name = request.connector
        assert name is not None, "Authorize resolves the connector first"
        if self._signer is not None:
            agent = request.agent
            request.assertion = self._signer.for_request(
                agent.name, agent.team, agent.end_user, request.target
            )
        connector = request.snapshot.connectors[name]
        refs = connector.secret_refs()
        if refs:
            try:
                request.secrets = await self._vault.resolve(refs, revision=request.snapshot.revision)
            except SQLAlchemyError:
                log.exception("could not read secrets for connector '%s'", name)
                raise CredentialsUnavailable(
                    f"{name}: the gateway cannot read its credentials right now; try again shortly"
                ) from None
        grant = user_oauth_of(connector)
        if grant is not None:
            request.user_token = await self._user_token(request, name, grant, private_network(connector))
        return await call_next(request)

    async def _user_token(self, request: Request, name: str, grant: UserOAuth, private: bool) -> str:
        agent = request.agent
        if agent.end_user is None or self._grants is None:
            raise CredentialsMissing(
                f"upstream '{name}' acts with each user's own account: connect with your identity provider's "
                "sign-in (OAuth), not an agent key"
            )
        ticket, grants, secrets = (
            Ticket(agent.end_user, agent.name, name),
            self._grants,
            dict(request.secrets),
        )
        request.renew_user_token = lambda refused: grants.renewed(ticket, grant, secrets, private, refused)
        try:
            return await grants.access_token(ticket, grant, secrets, private, request.snapshot.revision)
        except SQLAlchemyError:
            log.exception("could not read a user's grant for connector '%s'", name)
            raise CredentialsUnavailable(
                f"{name}: the gateway cannot read your connection right now; try again shortly"
            ) from None
