"""2025 sessions that any gateway instance can serve, without sticky load balancing.

The SDK's `StreamableHTTPSessionManager` keeps each session in the memory of the instance
that answered `initialize`. We keep its state in a `SessionStore` (Redis when configured,
broker/mcp/session_store.py) and, when a request names a session this instance does not
hold, **adopt** it: check the caller is the one that opened it, then start the SDK's own
transport and server loop for that id here, born initialized with the stored protocol
version and client params. The request then goes to the SDK as if the session had always
been here. What one instance must tell the others travels on the cluster bus (topic
`mcp-session`): a DELETE (every copy ends), a `logging/setLevel` (every copy hears the new
level), what the client posts that is not a request (answers to the server's requests,
`notifications/cancelled`: whichever copy is waiting for it takes it, the SDK drops it
elsewhere) and notifications meant for the session's GET stream (delivered by whichever
instance holds that stream; the others have no stream and the SDK drops them).

Going past the SDK here means its private `_server_instances`, `_session_owners`,
`_session_creation_lock`, `_task_group`, `_lifespan_state` and `_discard_session`, the
transport's `connect()` and a copy of its manager's per-session server task; uv.lock pins
them and tests/cluster/test_sessions.py covers them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

import anyio
from anyio.abc import TaskStatus
from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.middleware.bearer_auth import (
    AuthenticatedUser,
    AuthorizationContext,
    authorization_context,
)
from mcp.server.auth.provider import principal_components
from mcp.server.connection import Connection
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.runner import serve_connection
from mcp.server.streamable_http import StreamableHTTPServerTransport
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.shared.jsonrpc_dispatcher import JSONRPCDispatcher
from mcp.shared.message import SessionMessage
from mcp.shared.transport_context import TransportContext
from mcp_types import InitializeRequestParams, jsonrpc_message_adapter
from pydantic import ValidationError
from starlette.types import Scope

from broker.catalog import AgentIdentity, Snapshot
from broker.cluster import Bus
from broker.identity.resource import caller_of
from broker.mcp.channel import LogLevels
from broker.mcp.context import CONTEXT_HEADER, narrowing
from broker.mcp.notify import ListWatchers
from broker.mcp.session_store import SessionRecord, SessionStore, owner_digest

log = logging.getLogger("broker.mcp.sessions")

TOPIC = "mcp-session"
TOUCH_SECONDS = 300.0
"""How often a session in use renews its record's expiry (at most, per instance)."""


class Sessions:
    def __init__(
        self,
        store: SessionStore,
        bus: Bus,
        snapshot: Callable[[], Snapshot],
        watchers: ListWatchers | None = None,
    ) -> None:
        self.store = store
        self.levels = LogLevels()
        self._bus = bus
        self._snapshot = snapshot
        self._watchers = watchers
        self._manager: StreamableHTTPSessionManager | None = None
        self._connections: dict[str, Connection] = {}
        self._callers: dict[str, tuple[AgentIdentity, frozenset[str] | None]] = {}
        self._touched: dict[str, float] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        bus.subscribe(TOPIC, self._heard)

    def bind(self, manager: StreamableHTTPSessionManager) -> None:
        self._manager = manager

    def held(self, session_id: str) -> bool:
        return self._manager is not None and session_id in self._manager._server_instances

    # --- opening: a server middleware that records what initialize negotiated

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        if ctx.method != "initialize":
            return await call_next(ctx)
        result = await call_next(ctx)
        connection: Connection = ctx.session._connection
        session_id = connection.session_id
        if session_id is None or not isinstance(result, Mapping):
            return result
        params = InitializeRequestParams.model_validate(ctx.params or {}, by_name=False)
        token = get_access_token()
        requestor = None
        if token is not None:
            client_id, issuer, subject = principal_components(token)
            requestor = AuthorizationContext(client_id=client_id, issuer=issuer, subject=subject)
        record = SessionRecord(
            owner=owner_digest(requestor),
            version=str(result.get("protocolVersion", params.protocol_version)),
            client=params.model_dump_json(by_alias=True, exclude_none=True),
        )
        if token is not None:
            self._attach(session_id, connection, caller_of(token), narrowing(ctx))
        try:
            await self.store.save(session_id, record)
        except Exception as exc:  # the session still works, on this instance only
            log.warning("could not store an MCP session; it is served by this instance only: %s", exc)
        return result

    # --- adopting a session another instance opened

    async def adopt(self, session_id: str, scope: Scope) -> None:
        """Serve `session_id` here from its stored record, when the caller is its owner; otherwise
        leave it unknown (the SDK answers 404, and a client then opens a new session)."""
        manager = self._manager
        if manager is None or manager._task_group is None:
            return
        try:
            record = await self.store.load(session_id)
        except Exception as exc:
            log.warning("could not read an MCP session from the store: %s", exc)
            return
        if record is None:
            return
        user = scope.get("user")
        requestor = authorization_context(user) if isinstance(user, AuthenticatedUser) else None
        if record.owner != owner_digest(requestor):
            log.warning("refused an MCP session to a caller other than the one that opened it")
            return
        try:
            params = InitializeRequestParams.model_validate_json(record.client)
        except ValueError:
            log.warning("an MCP session's stored client parameters are unreadable; refusing it")
            return
        async with manager._session_creation_lock:
            if session_id in manager._server_instances:  # adopted meanwhile by a concurrent request
                return
            transport = StreamableHTTPServerTransport(
                mcp_session_id=session_id,
                is_json_response_enabled=manager.json_response,
                event_store=manager.event_store,
                security_settings=manager.security_settings,
                retry_interval=manager.retry_interval,
                idle_timeout=manager.session_idle_timeout,
            )
            if requestor is not None:
                manager._session_owners[session_id] = requestor
            manager._server_instances[session_id] = transport
        if record.level is not None:
            self.levels.set(session_id, record.level)
        agent = caller_of(user.access_token) if isinstance(user, AuthenticatedUser) else None
        only = _narrowing(scope)

        async def serve(*, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
            async with transport.connect() as (read_stream, write_stream):
                task_status.started()
                try:
                    idle_scope = transport.idle_scope or anyio.CancelScope()
                    with idle_scope:
                        dispatcher: JSONRPCDispatcher[TransportContext] = JSONRPCDispatcher(
                            read_stream, write_stream, inline_methods=frozenset({"initialize"})
                        )
                        connection = Connection.for_loop(
                            dispatcher, session_id=session_id, protocol_version_hint=record.version
                        )
                        connection.client_params = params
                        connection.initialized.set()
                        if agent is not None:
                            self._attach(session_id, connection, agent, only)
                        await serve_connection(
                            manager.app,
                            dispatcher,
                            connection=connection,
                            lifespan_state=manager._lifespan_state,
                        )
                except Exception:
                    log.exception("an adopted MCP session failed")
                finally:
                    await manager._discard_session(session_id, transport)

        await manager._task_group.start(serve)
        log.info("serving an MCP session opened on another instance")

    def touch(self, session_id: str) -> None:
        """Renew the record's expiry now and then while the session is in use."""
        now = time.monotonic()
        if now - self._touched.get(session_id, 0.0) < TOUCH_SECONDS:
            return
        if len(self._touched) > 100_000:
            self._touched.clear()
        self._touched[session_id] = now
        self._spawn(self._quietly(self.store.touch(session_id)))

    # --- what the other instances must hear

    async def ended(self, session_id: str) -> None:
        """The client deleted the session: forget it in the store and on every instance."""
        try:
            await self.store.delete(session_id)
        except Exception as exc:
            log.warning("could not delete an MCP session from the store: %s", exc)
        await self._bus.publish(TOPIC, json.dumps({"end": session_id}))

    async def set_level(self, session_id: str | None, level: str) -> None:
        if session_id is None:
            return
        self.levels.set(session_id, level)
        await self._quietly(self.store.set_level(session_id, level))
        await self._bus.publish(TOPIC, json.dumps({"level": session_id, "to": level}))

    async def notify(self, session_id: str, method: str, params: Mapping[str, Any] | None) -> None:
        """Send a notification to the session's GET stream, wherever that stream is open."""
        message = {"notify": session_id, "method": method, "params": dict(params) if params else None}
        await self._bus.publish(TOPIC, json.dumps(message))

    async def relay(self, session_id: str, message: Mapping[str, Any]) -> None:
        """A client's answer or notification, posted here, for the copies on other instances."""
        relayed = {"relay": session_id, "message": dict(message), "from": self._bus.instance}
        await self._bus.publish(TOPIC, json.dumps(relayed))

    def _heard(self, payload: str) -> None:
        try:
            message = json.loads(payload)
        except ValueError:
            return
        if not isinstance(message, dict):
            return
        if isinstance(ended := message.get("end"), str):
            self._spawn(self._discard(ended))
        elif isinstance(session_id := message.get("level"), str) and isinstance(message.get("to"), str):
            self.levels.set(session_id, message["to"])
        elif isinstance(session_id := message.get("notify"), str) and isinstance(message.get("method"), str):
            connection = self._connections.get(session_id)
            params = message.get("params")
            if connection is not None and self._may_hear(session_id, message["method"], params):
                self._spawn(connection.notify(message["method"], params))
        elif (
            isinstance(session_id := message.get("relay"), str) and message.get("from") != self._bus.instance
        ):
            self._spawn(self._inject(session_id, message.get("message")))

    def _may_hear(self, session_id: str, method: str, params: Any) -> bool:
        """A resource update reaches a session only while its caller may still read the resource
        (a policy may have changed since it subscribed)."""
        if method != "notifications/resources/updated":
            return True
        caller = self._callers.get(session_id)
        uri = params.get("uri") if isinstance(params, dict) else None
        if caller is None or not isinstance(uri, str):
            return False
        agent, only = caller
        snapshot = self._snapshot()
        owner = snapshot.resolve_resource(uri)  # namespaced or the upstream's own URI, as reads find it
        if owner is None or (only is not None and owner[0] not in only):
            return False
        return snapshot.policy_set.decide_resource(agent.subject, uri).allowed

    async def _inject(self, session_id: str, raw: Any) -> None:
        manager = self._manager
        transport = manager._server_instances.get(session_id) if manager is not None else None
        writer = transport._read_stream_writer if transport is not None else None
        if writer is None:
            return
        try:
            message = jsonrpc_message_adapter.validate_python(raw, by_name=False)
        except ValidationError:
            return
        with contextlib.suppress(anyio.BrokenResourceError, anyio.ClosedResourceError):
            await writer.send(SessionMessage(message))

    async def _discard(self, session_id: str) -> None:
        manager = self._manager
        transport = manager._server_instances.get(session_id) if manager is not None else None
        if manager is not None and transport is not None:
            await manager._discard_session(session_id, transport)

    def _attach(
        self, session_id: str, connection: Connection, agent: AgentIdentity, only: frozenset[str] | None
    ) -> None:
        """Remember the session's connection while it lives here, and watch its view."""
        self._connections[session_id] = connection
        self._callers[session_id] = (agent, only)

        def detach() -> None:
            if self._connections.get(session_id) is connection:
                del self._connections[session_id]
                self._callers.pop(session_id, None)
            if self._watchers is not None:
                self._watchers.forget(session_id, connection)

        connection.exit_stack.callback(detach)
        if self._watchers is not None:
            self._watchers.follow(session_id, connection, self._snapshot(), agent, only)

    def _spawn(self, work: Any) -> None:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _quietly(work: Any) -> None:
        try:
            await work
        except Exception as exc:
            log.warning("could not update an MCP session in the store: %s", exc)


def _narrowing(scope: Scope) -> frozenset[str] | None:
    name = CONTEXT_HEADER.encode("ascii")
    raw = next((v.decode("latin-1") for k, v in scope["headers"] if k == name), None)
    if raw is None:
        return None
    return frozenset(part.strip() for part in raw.split(",") if part.strip())
