"""Instances of one gateway telling each other that something changed.

The database's state revision is the truth; this only says "look now" sooner than the poll
would. An instance that changed the stored state publishes the new revision; every instance
(itself included) hears it and reads the revision from the database when it differs from
what it has. A lost message costs nothing but time: the poll still runs, and a listener that
reconnects after an outage wakes everyone once, since messages sent meanwhile are gone.

Without Redis there is one instance (or several that poll) and publishing does nothing.
Other kinds of news (a circuit breaker opening) travel on the same channel under their own
topic.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable

from broker.tasks import cancel_and_wait

log = logging.getLogger("broker.cluster")

Listener = Callable[[str], None]
"""Called on the event loop with a message's payload; must not block."""

REVISION = "revision"


class Notices:
    """One follower's mailbox of announced revisions: `wait` returns the latest announced one
    (or None when `timeout` passed with no news)."""

    def __init__(self) -> None:
        self._event = asyncio.Event()
        self._latest: int | None = None

    def announce(self, revision: int | None) -> None:
        """`None` says "something may have changed, check" (after a reconnect)."""
        self._latest = revision
        self._event.set()

    async def wait(self, seconds: float) -> tuple[bool, int | None]:
        """(woken, announced revision) after news or `seconds`."""
        try:
            async with asyncio.timeout(seconds):  # not wait_for: see sql_vault._run
                await self._event.wait()
        except TimeoutError:
            return False, None
        self._event.clear()
        return True, self._latest


class Bus:
    """The in-process bus: messages reach this instance's listeners only."""

    def __init__(self) -> None:
        self.instance = uuid.uuid4().hex[:12]
        self._listeners: dict[str, list[Listener]] = {}
        self._notices: list[Notices] = []

    @property
    def shared(self) -> bool:
        return False

    def subscribe(self, topic: str, listener: Listener) -> None:
        self._listeners.setdefault(topic, []).append(listener)

    def notices(self) -> Notices:
        """A mailbox of announced state revisions, for one follower of the database revision."""
        notices = Notices()
        self._notices.append(notices)
        return notices

    async def publish(self, topic: str, payload: str) -> None:
        self._deliver(topic, payload)

    async def publish_revision(self, revision: int) -> None:
        await self.publish(REVISION, str(revision))

    def _deliver(self, topic: str, payload: str) -> None:
        if topic == REVISION:
            announced = int(payload) if payload.lstrip("-").isdigit() else None
            for notices in self._notices:
                notices.announce(announced)
        for listener in self._listeners.get(topic, ()):
            try:
                listener(payload)
            except Exception:
                log.exception("a listener of '%s' failed", topic)

    def _wake_all(self) -> None:
        for notices in self._notices:
            notices.announce(None)

    async def start(self) -> None:
        return None

    async def ping(self) -> None:
        return None

    async def claim(self, key: str, seconds: float) -> bool:
        """Whether this instance is the one (of all) to act on `key` for `seconds`."""
        return True

    async def close(self) -> None:
        return None


class RedisBus(Bus):
    """Messages through one Redis pub/sub channel, heard by every instance."""

    def __init__(self, url: str, channel: str) -> None:
        super().__init__()
        from redis.asyncio import Redis

        self._redis = Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)
        self._channel = channel
        self._task: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()

    @property
    def shared(self) -> bool:
        return True

    async def publish(self, topic: str, payload: str) -> None:
        """Best effort: when Redis is away the others learn of it by polling."""
        self._deliver(topic, payload)
        try:
            await self._redis.publish(self._channel, f"{self.instance} {topic} {payload}")
        except Exception as exc:
            log.warning("could not announce a change through Redis (others will poll): %s", exc)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._listen(), name="broker-cluster-listen")

    async def ping(self) -> None:
        await self._redis.ping()

    async def claim(self, key: str, seconds: float) -> bool:
        claimed = await self._redis.set(
            f"{self._channel}:claim:{key}", self.instance, nx=True, px=max(1, round(seconds * 1000))
        )
        return bool(claimed)

    async def close(self) -> None:
        if self._task is not None:
            await cancel_and_wait(self._task)
        await self._redis.aclose()

    async def _listen(self) -> None:
        delay = 0.1
        while True:
            try:
                async with self._redis.pubsub(ignore_subscribe_messages=True) as pubsub:
                    await pubsub.subscribe(self._channel)
                    if delay > 0.1:
                        log.info("listening for changes through Redis again")
                    self.connected.set()
                    self._wake_all()  # anything sent while we were away is lost: check now
                    delay = 0.1
                    while True:
                        message = await pubsub.get_message(timeout=1.0)
                        if message is not None:
                            self._receive(message["data"])
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.connected.clear()
                if delay == 0.1:
                    log.warning("lost the Redis change channel (polling meanwhile): %s", exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    def _receive(self, data: object) -> None:
        text = data.decode() if isinstance(data, bytes) else str(data)
        parts = text.split(" ", 2)
        if len(parts) != 3:
            return
        sender, topic, payload = parts
        if sender != self.instance:  # our own were delivered when sent
            self._deliver(topic, payload)


def make_bus(redis_url: str | None, channel: str) -> Bus:
    return RedisBus(redis_url, channel) if redis_url else Bus()
