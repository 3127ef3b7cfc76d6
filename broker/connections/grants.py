"""The per-user grant service: connect links, the authorization code flow with PKCE through
authlib's client, and each user's tokens (encrypted, cached, refreshed before they expire)."""

from __future__ import annotations

import asyncio
import json
import logging
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx2
from authlib.common.security import generate_token  # type: ignore[import-untyped]
from sqlalchemy.orm import Session, sessionmaker

from broker.connections import store
from broker.connections.errors import GrantRefused, NotConnected
from broker.connections.oauth import ask, oauth_client
from broker.connections.tokens import Tokens
from broker.secrets.keys import Cipher, Undecryptable
from broker.secrets.vault import Vault
from connectors.auth import UserOAuth

log = logging.getLogger("broker.connections")

TICKET_SECONDS = 600
"""A connect link works this long after the call that made it."""
STATE_SECONDS = 600
"""An authorization request must come back to the callback within this time."""
CALLBACK_PATH = "/connect/callback"
_TICKET = "connect-ticket"


@dataclass(frozen=True, slots=True)
class Ticket:
    """Who connects what: the end user, the agent they use, and the connector."""

    end_user: str
    agent: str
    connector: str


def user_oauth_of(connector: object) -> UserOAuth | None:
    """The connector's per-user grant config, when it has one (http and mcp connectors)."""
    auth = getattr(getattr(connector, "config", None), "auth", None)
    return auth if isinstance(auth, UserOAuth) else None


def private_network(connector: object) -> bool:
    return bool(getattr(getattr(connector, "config", None), "allow_private_network", False))


class UserGrants:
    def __init__(self, sessions: sessionmaker[Session], vault: Vault, public_url: str) -> None:
        self._sessions = sessions
        self._vault = vault
        self.public_url = public_url
        self._cache: dict[tuple[str, str], Tokens] = {}
        self._revision = -1
        self._locks: weakref.WeakValueDictionary[tuple[str, str], asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )

    @property
    def callback_url(self) -> str:
        """The exact redirect URI to register at each upstream's authorization server."""
        return self.public_url + CALLBACK_PATH

    # --- the browser flow ---------------------------------------------------------------------

    def connect_url(self, ticket: Ticket) -> str:
        sealed = self._cipher.encrypt(_TICKET, json.dumps([ticket.end_user, ticket.agent, ticket.connector]))
        return f"{self.public_url}/connect/{sealed.decode()}"

    def ticket(self, sealed: str) -> Ticket:
        try:
            user, agent, connector = json.loads(
                self._cipher.decrypt(_TICKET, sealed.encode("ascii"), ttl=TICKET_SECONDS)
            )
        except (Undecryptable, UnicodeEncodeError, ValueError):
            raise GrantRefused(
                "this connect link has expired or is not valid; ask your assistant again and use the new link"
            ) from None
        return Ticket(user, agent, connector)

    async def authorize_url(self, ticket: Ticket, config: UserOAuth, private: bool) -> str:
        """Record a single-use state bound to the ticket (with its PKCE verifier) and return
        the authorization request to send the browser to."""
        state, verifier = await self.stash(ticket, "connect-state")
        async with oauth_client(config, None, private, self.callback_url) as client:
            url, _ = client.create_authorization_url(
                config.authorization_url, state=state, code_verifier=verifier, **config.authorize_params
            )
        return str(url)

    async def stash(self, ticket: Ticket, kind: str) -> tuple[str, str]:
        """A new state and PKCE verifier, recorded for one use within STATE_SECONDS; `kind`
        seals the verifier, so a state of one step cannot be replayed at another."""
        state, verifier = generate_token(43), generate_token(64)
        digest = store.state_hash(state)
        pending = store.Pending(
            ticket.connector,
            ticket.end_user,
            ticket.agent,
            self._cipher.encrypt(f"{kind}:{digest}", verifier),
            store.expiry(STATE_SECONDS),
        )
        await asyncio.to_thread(self._write, lambda s: store.add_state(s, digest, pending))
        return state, verifier

    async def take(self, state: str, kind: str) -> tuple[Ticket, str]:
        """The ticket and verifier of a state, which is gone afterwards; GrantRefused when it
        is unknown, used, expired or of another step."""
        digest = store.state_hash(state)
        pending = await asyncio.to_thread(self._write, lambda s: store.take_state(s, digest))
        refused = GrantRefused(
            "this authorization answer is unknown, already used or too late; start again from your "
            "assistant's connect link"
        )
        if pending is None or pending.expires_at < datetime.now(UTC):
            raise refused
        try:
            verifier = self._cipher.decrypt(f"{kind}:{digest}", pending.ciphertext)
        except Undecryptable:
            raise refused from None
        return Ticket(pending.end_user, pending.agent, pending.connector), verifier

    async def complete(
        self, state: str, code: str | None, error: str | None, lookup: Callable[[str], object | None]
    ) -> Ticket:
        """The callback: take the state (once), redeem the code with its PKCE verifier, store
        the user's tokens. `lookup` finds a connector by name in the live catalog."""
        ticket, verifier = await self.take(state, "connect-state")
        if error is not None:
            raise GrantRefused(
                f"the authorization server did not grant access ({error[:80]}); nothing was stored"
            )
        if not code:
            raise GrantRefused("the authorization server sent no code; nothing was stored")
        connector = lookup(ticket.connector)
        config = user_oauth_of(connector)
        if config is None:
            raise GrantRefused(f"connector '{ticket.connector}' no longer takes per-user grants")
        secret = await self._client_secret(config)
        async with oauth_client(config, secret, private_network(connector), self.callback_url) as client:
            answer = await ask(
                ticket.connector,
                client.fetch_token(
                    config.token_url, grant_type="authorization_code", code=code, code_verifier=verifier
                ),
                "redeem the authorization code",
            )
        tokens = Tokens.from_answer(answer)
        await asyncio.to_thread(self._write, lambda s: self._save(s, ticket, tokens))
        self._cache[(ticket.connector, ticket.end_user)] = tokens
        log.info("user connected to upstream '%s'", ticket.connector)
        return ticket

    # --- the call path ------------------------------------------------------------------------

    async def access_token(
        self, ticket: Ticket, config: UserOAuth, secrets: dict[str, str], private: bool, revision: int
    ) -> str:
        """The user's current access token at this upstream (refreshed when due). Raises
        NotConnected with the connect link when there is none (any more)."""
        if revision > self._revision:
            self._revision = revision
            self._cache.clear()
        key = (ticket.connector, ticket.end_user)
        tokens = self._cache.get(key)
        if tokens is None:
            tokens = await asyncio.to_thread(self._read, *key)
            if tokens is None:
                raise self.not_connected(ticket, "have not connected it yet")
            self._cache[key] = tokens
        if tokens.stale(time.time()):
            lock = self._locks.setdefault(key, asyncio.Lock())
            async with lock:
                current = self._cache.get(key)
                if current is None or current.stale(time.time()):
                    current = await self._refresh(ticket, config, secrets, private, current or tokens)
                tokens = current
        return tokens.access_token

    async def renewed(
        self, ticket: Ticket, config: UserOAuth, secrets: dict[str, str], private: bool, refused: str
    ) -> str:
        """The upstream refused the access token `refused` (HTTP 401) before it was due: renew
        it now, unless another call already did. Raises NotConnected when it cannot be."""
        key = (ticket.connector, ticket.end_user)
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            current = self._cache.get(key) or await asyncio.to_thread(self._read, *key)
            if current is None:
                raise self.not_connected(ticket, "have not connected it yet")
            if current.access_token == refused:
                current = await self._refresh(ticket, config, secrets, private, current, force=True)
            return current.access_token

    def not_connected(self, ticket: Ticket, what: str) -> NotConnected:
        url = self.connect_url(ticket)
        return NotConnected(
            f"upstream '{ticket.connector}' acts with your own account there, and you {what}: open {url} in "
            "your browser, allow access, then call again (the link works for 10 minutes)",
            connector=ticket.connector,
            url=url,
        )

    async def _refresh(
        self,
        ticket: Ticket,
        config: UserOAuth,
        secrets: dict[str, str],
        private: bool,
        tokens: Tokens,
        force: bool = False,
    ) -> Tokens:
        key = (ticket.connector, ticket.end_user)
        if tokens.refresh_token is None:
            if not force and tokens.expires_at is not None and tokens.expires_at > time.time():
                return tokens  # no way to renew it: use it while it lasts
            await self._disconnect(ticket)
            raise self.not_connected(ticket, "were disconnected (the grant expired)")
        secret = secrets.get(config.secret) if config.secret else None
        async with oauth_client(config, secret, private, self.callback_url) as client:
            try:
                answer = await ask(
                    ticket.connector,
                    client.refresh_token(config.token_url, refresh_token=tokens.refresh_token),
                    "renew your access",
                )
            except GrantRefused:
                latest = await asyncio.to_thread(self._read, *key)
                if latest is not None and latest.refresh_token != tokens.refresh_token:
                    self._cache[key] = latest  # another instance renewed it first
                    return latest
                await self._disconnect(ticket)
                raise self.not_connected(ticket, "were disconnected (renewing the grant failed)") from None
        fresh = Tokens.from_answer(answer, tokens)
        await asyncio.to_thread(self._write, lambda s: self._save(s, ticket, fresh, agent=False))
        self._cache[key] = fresh
        return fresh

    async def _disconnect(self, ticket: Ticket) -> None:
        self._cache.pop((ticket.connector, ticket.end_user), None)
        await asyncio.to_thread(self._write, lambda s: store.disconnect(s, ticket.connector, ticket.end_user))
        log.warning(
            "a user's grant at upstream '%s' could not be renewed: marked disconnected", ticket.connector
        )

    # --- revocation and listing -----------------------------------------------------------------

    async def revoke(
        self, connector: str, end_user: str, config: UserOAuth | None = None, private: bool = False
    ) -> bool:
        """Forget the user's grant; with a `revocation_url`, revoke its tokens there too (RFC 7009;
        a failure there is logged, the gateway forgets them all the same)."""
        self._cache.pop((connector, end_user), None)
        upstream = config is not None and config.revocation_url is not None
        tokens = await asyncio.to_thread(self._read, connector, end_user) if upstream else None
        gone: bool = await asyncio.to_thread(
            self._write, lambda s: store.remove_connection(s, connector, end_user)
        )
        if gone and tokens is not None and config is not None:
            await self._revoke_upstream(connector, config, private, tokens)
        return gone

    async def _revoke_upstream(
        self, connector: str, config: UserOAuth, private: bool, tokens: Tokens
    ) -> None:
        assert config.revocation_url is not None
        try:
            secret = await self._client_secret(config)
            async with oauth_client(config, secret, private, self.callback_url) as client:
                for token, hint in (
                    (tokens.refresh_token, "refresh_token"),
                    (tokens.access_token, "access_token"),
                ):
                    if token is None:
                        continue
                    answer = await client.revoke_token(
                        config.revocation_url, token=token, token_type_hint=hint
                    )
                    if answer.status_code != 200:
                        log.warning(
                            "upstream '%s' refused to revoke a %s (HTTP %d)",
                            connector,
                            hint,
                            answer.status_code,
                        )
        except (GrantRefused, httpx2.HTTPError, OSError) as exc:
            log.warning(
                "upstream '%s': revoking a user's tokens there failed (%s)", connector, type(exc).__name__
            )

    async def connections(
        self, connector: str | None = None, end_user: str | None = None
    ) -> list[dict[str, Any]]:
        def listing(session: Session) -> list[dict[str, Any]]:
            return [
                {
                    "connector": row.connector,
                    "user": row.end_user,
                    "agent": row.agent,
                    "status": row.status,
                    "scopes": row.scopes.split(),
                    "expires_at": store.aware(row.expires_at),
                    "connected_at": store.aware(row.created_at),
                    "updated_at": store.aware(row.updated_at),
                }
                for row in store.list_connections(session, connector, end_user)
            ]

        return await asyncio.to_thread(self._readonly, listing)

    # --- helpers --------------------------------------------------------------------------------

    @property
    def _cipher(self) -> Cipher:
        return self._vault.cipher

    async def _client_secret(self, config: UserOAuth) -> str | None:
        if config.secret is None:
            return None
        value = (await self._vault.resolve([config.secret])).get(config.secret)
        if value is None:
            raise GrantRefused(
                f"the gateway's client secret '{config.secret}' for this upstream is missing; ask an "
                f"operator to add it (`broker secrets add {config.secret}`)"
            )
        return value

    def _save(self, session: Session, ticket: Ticket, tokens: Tokens, agent: bool = True) -> None:
        sealed = self._cipher.encrypt(_sealed_name(ticket.connector, ticket.end_user), tokens.seal())
        expires = datetime.fromtimestamp(tokens.expires_at, UTC) if tokens.expires_at is not None else None
        store.save_connection(
            session,
            connector=ticket.connector,
            end_user=ticket.end_user,
            agent=ticket.agent if agent else None,
            scopes=tokens.scope,
            ciphertext=sealed,
            expires_at=expires,
        )

    def _read(self, connector: str, end_user: str) -> Tokens | None:
        with self._sessions() as session:
            row = store.read_connection(session, connector, end_user)
            if row is None or row.status != "connected" or row.ciphertext is None:
                return None
            sealed = row.ciphertext
        try:
            return Tokens.unseal(self._cipher.decrypt(_sealed_name(connector, end_user), sealed))
        except Undecryptable as exc:
            log.error(
                "a user's grant at upstream '%s' cannot be decrypted: %s", connector, type(exc).__name__
            )
            return None

    def _write(self, operation: Callable[[Session], Any]) -> Any:
        with self._sessions.begin() as session:
            return operation(session)

    def _readonly(self, operation: Callable[[Session], Any]) -> Any:
        with self._sessions() as session:
            return operation(session)


def _sealed_name(connector: str, end_user: str) -> str:
    return f"user-connection:{connector}:{end_user}"
