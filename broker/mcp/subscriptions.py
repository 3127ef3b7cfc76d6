"""resources/subscribe and resources/unsubscribe, relayed to the upstream and back.

A subscription is a `ResourceWatch` through the one pipeline: authorised like a read of the
URI (an unknown or hidden URI is -32602), credentialed, audited, and handed to the
connector, which subscribes on the caller's upstream session (connectors/mcp: a request on a
2025 upstream, the `subscriptions/listen` filter on a 2026-07-28 one). Which client sessions
want which URI is kept in the session store (Redis with several instances), so an update
heard by any instance reaches every subscribed session: `notifications/resources/updated`
goes to the session's GET stream wherever it is open (broker/mcp/sessions.py). The upstream
is asked to unsubscribe when the last session here leaves; DELETE forgets a session's
subscriptions.

2026-07-28 clients have no session to deliver to: their subscribe is checked and answered,
and they learn of changes by reading again (`ttlMs`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any
from weakref import WeakSet

from mcp.server.context import ServerRequestContext

from broker.mcp.channel import session_id
from broker.mcp.sessions import Sessions
from broker.offerings import shown_uri
from broker.pipeline import ResourceWatch
from connectors.base import OffersSubscriptions, Output

log = logging.getLogger("broker.mcp.subscriptions")

Run = Callable[[ResourceWatch], Awaitable[Output]]
UPDATED = "notifications/resources/updated"


class Subscriptions:
    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions
        self._hooked: WeakSet[Any] = WeakSet()
        self._tasks: set[asyncio.Task[None]] = set()

    async def subscribe(self, ctx: ServerRequestContext[Any], watch: ResourceWatch, run: Run) -> bool:
        """Subscribe the request's session; False when it has none (a 2026-07-28 exchange)."""
        sid = session_id(ctx)
        if sid is None:
            return False
        await run(watch)
        assert watch.connector is not None
        connector = watch.snapshot.connectors.get(watch.connector)
        if isinstance(connector, OffersSubscriptions) and connector not in self._hooked:
            self._hooked.add(connector)
            connector.on_resource_updated(partial(self._updated, shown_uri(watch.connector, connector)))
        await self._sessions.store.subscribe(sid, watch.uri)
        return True

    async def unsubscribe(self, ctx: ServerRequestContext[Any], watch: ResourceWatch, run: Run) -> bool:
        """Unsubscribe the request's session; the upstream too when no session is left."""
        sid = session_id(ctx)
        if sid is None:
            return False
        if await self._sessions.store.unsubscribe(sid, watch.uri) == 0:
            await run(watch)
        return True

    def _updated(self, show: Callable[[str], str], local_uri: str) -> None:
        """An upstream's update, as the URI its subscribers know (namespaced, or verbatim)."""
        task = asyncio.get_running_loop().create_task(self._deliver(show(local_uri)))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, uri: str) -> None:
        try:
            for sid in await self._sessions.store.subscribers(uri):
                await self._sessions.notify(sid, UPDATED, {"uri": uri})
        except Exception as exc:
            log.warning("could not relay a resource update to its subscribers: %s", exc)
