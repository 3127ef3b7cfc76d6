"""One upstream session per credential set, at most `MAX_LINKS` per connector.

A `Link` holds what belongs to one session slot: the session itself, its stderr (stdio),
the last HTTP status, its restarts, and the grant whose credentials it was opened with.
`Links` finds a call's link by the secret names it draws on: a rotated secret (same names,
new fingerprint) retires the link of the old value; past `MAX_LINKS` the least recently used
link is retired. A retired link is closed as soon as no call is using it.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping

from connectors.mcp.credentials import Grant
from connectors.mcp.failures import informative, leaf_error, transient
from connectors.mcp.session import Opener, Session
from connectors.mcp.stderr import StderrTail
from connectors.scrub import Scrubber

MAX_LINKS = 8
"""Sessions (stdio: processes) one connector keeps open, one per distinct credential set."""
CONNECT_DELAYS = (0.0, 0.2, 0.5)
"""Pauses before each attempt to (re)connect for a call: three attempts, then the call fails."""


class LinkClosed(Exception):
    """The link or its connector is closed: no session will be opened."""


class Link:
    """The session slot of one credential set."""

    def __init__(self, grant: Grant, make_opener: Callable[[Link], Opener]) -> None:
        self.grant = grant
        self.stderr = StderrTail()
        self.http_status = 200
        self.session: Session | None = None
        self.starting: Session | None = None
        """A session still connecting (not yet `session`): closing the link stops it too."""
        self.connecting = asyncio.Lock()
        self.listed = False
        """Whether the current session's tools were listed since it connected."""
        self.listing: asyncio.Future[None] | None = None
        self.restarts = 0
        self.restart: asyncio.Task[None] | None = None
        self.users = 0
        self.retired = False
        self.last_used = time.monotonic()
        self.opener = make_opener(self)

    @property
    def scrub(self) -> Scrubber:
        return self.grant.scrub

    def headers(self) -> Mapping[str, str]:
        """The auth headers of the latest call (read on every request)."""
        return self.grant.headers

    def note_status(self, status: int) -> None:
        self.http_status = status

    async def connected(
        self, within_seconds: float, closed: Callable[[], bool], new_session: Callable[[], Session]
    ) -> Session:
        """The live session, else a new one (a few attempts when connecting fails transiently).

        Raises what the last attempt failed with, or LinkClosed once `closed()` or when the
        link is retired and unused."""
        session = self.session
        if session is not None and session.alive:
            return session
        async with self.connecting:
            if self.session is not None and self.session.alive:
                return self.session
            failure: BaseException | None = None
            for delay in CONNECT_DELAYS:
                if closed() or (self.retired and not self.users):
                    break
                await asyncio.sleep(delay)
                session = self.starting = new_session()
                try:
                    await session.start(within_seconds)
                except Exception as exc:
                    failure = leaf_error(exc)
                    if not transient(failure):
                        break  # slow, cannot start, or refused: trying again at once will not help
                    continue
                finally:
                    self.starting = None
                if closed() or (self.retired and not self.users):
                    await session.stop()
                    break
                self.session, self.listed = session, False
                return session
            if failure is None:
                raise LinkClosed()
            raise failure

    async def drop(self, session: Session, exc: BaseException) -> BaseException:
        """Forget a lost session; return the best explanation of what happened."""
        session.lost()
        await asyncio.wait({asyncio.ensure_future(session.closed.wait())}, timeout=0.5)
        if self.session is session:
            self.session = None
        return session.error if session.error is not None and informative(session.error) else exc

    async def stop(self) -> None:
        """Close the session (stdio: terminate the process) and stop what runs for it."""
        for task in (self.restart, self.listing):
            if task is not None and not task.done():
                task.cancel()
        sessions = [s for s in (self.starting, self.session) if s is not None]
        self.session = None
        await asyncio.gather(*(session.stop() for session in sessions))


class Links:
    """The links of one connector, most recently used last."""

    def __init__(
        self, make_opener: Callable[[Link], Opener], limit: int = MAX_LINKS, idle_seconds: float | None = None
    ) -> None:
        self._make_opener = make_opener
        self._limit = limit
        self._idle_seconds = idle_seconds
        """Links unused this long are retired (per-user sessions); None: kept until evicted."""
        self._links: OrderedDict[tuple[str, ...], Link] = OrderedDict()

    def acquire(self, grant: Grant) -> tuple[Link, list[Link]]:
        """The link for this grant, marked in use (pair with `release`), and the links that
        were retired by it and are idle: the caller stops those."""
        retired: list[Link] = self._idle(grant.key)
        link = self._links.get(grant.key)
        if link is not None and link.grant.fingerprint != grant.fingerprint:
            retired.append(self._links.pop(grant.key))
            link = None
        if link is None:
            link = Link(grant, self._make_opener)
            self._links[grant.key] = link
            while len(self._links) > self._limit:
                retired.append(self._links.popitem(last=False)[1])
        else:
            link.grant = grant  # same secrets; maybe a renewed OAuth token
            self._links.move_to_end(grant.key)
        link.users += 1
        for old in retired:
            old.retired = True
        return link, [old for old in retired if old.users == 0]

    def _idle(self, keep: tuple[str, ...]) -> list[Link]:
        if self._idle_seconds is None:
            return []
        horizon = time.monotonic() - self._idle_seconds
        idle = [
            k for k, link in self._links.items() if k != keep and not link.users and link.last_used < horizon
        ]
        return [self._links.pop(k) for k in idle]

    def release(self, link: Link) -> bool:
        """Done with the link; True when it is retired and idle now: the caller stops it."""
        link.users -= 1
        link.last_used = time.monotonic()
        return link.retired and link.users == 0

    def latest(self) -> Link | None:
        """The most recently used link, for work that comes with no call (background listings)."""
        return next(reversed(self._links.values()), None)

    def drain(self) -> list[Link]:
        """Every link, forgotten: the connector is closing."""
        links = list(self._links.values())
        self._links.clear()
        for link in links:
            link.retired = True
        return links
