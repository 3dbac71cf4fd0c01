"""Publishes events and fans them out to this process's subscribers, whatever the transport."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from types import TracebackType
from typing import Self
from urllib.parse import urlsplit

from channels.base import BrokerBackend, TransportLost
from channels.memory import MemoryBackend
from channels.redis import RedisBackend
from channels.subscriber import Subscriber, SubscriptionLost

logger = logging.getLogger(__name__)

# After an unexpected backend error, pause before reading again so a persistent fault
# cannot spin the listener and flood the log.
_LISTENER_ERROR_PAUSE = 0.5


def backend_for_url(url: str, prefix: str = "") -> BrokerBackend:
    """Choose the transport from the URL scheme, so deployments pick it in configuration."""
    scheme = urlsplit(url).scheme
    if scheme == "memory":
        return MemoryBackend()
    if scheme in ("redis", "rediss"):
        return RedisBackend(url, prefix=prefix)
    raise ValueError(
        f"unsupported broker URL scheme {scheme!r}; use memory://, redis:// or rediss://"
    )


@dataclass
class _TopicGuard:
    """Serialises subscribing and unsubscribing one topic; dropped when nobody holds it."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0


class Broker:
    """Publishes events and hands each received one to the local subscribers of its topic.

    Fan-out is kept apart from the transport: the backend subscribes a topic only for its
    first local subscriber and unsubscribes after the last, and one listener task hands each
    received payload (the same ``str`` object) to every local subscriber without waiting.
    """

    def __init__(self, url: str, *, prefix: str = "", queue_size: int = 1000) -> None:
        if queue_size < 1:
            raise ValueError(f"queue_size must be at least 1, not {queue_size}")
        self._backend = backend_for_url(url, prefix)
        self._queue_size = queue_size
        self._subscribers: dict[str, set[Subscriber]] = {}
        self._guards: dict[str, _TopicGuard] = {}
        # Topics whose backend subscription predates a transport loss: the next subscriber
        # must wait for the backend to confirm it again before it may trust it.
        self._unconfirmed: set[str] = set()
        self._losses = 0
        self._listener: asyncio.Task[None] | None = None

    async def connect(self) -> None:
        """Open the transport and start handing received events to local subscribers."""
        if self._listener is not None:
            raise RuntimeError("the broker is already connected")
        await self._backend.connect()
        self._listener = asyncio.create_task(self._listen(), name="channels-broker")

    async def disconnect(self) -> None:
        """Stop listening; waiting subscribers get ``SubscriptionLost`` instead of hanging."""
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.cancel()
            await asyncio.wait([listener])
        self._fail_all(SubscriptionLost("the broker was disconnected"))
        await self._backend.disconnect()

    async def __aenter__(self) -> Self:
        await self.connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.disconnect()

    async def publish(self, topic: str, payload: str) -> None:
        """Send ``payload`` to every subscriber of ``topic`` on every node."""
        await self._backend.publish(topic, payload)

    async def publish_many(self, events: Sequence[tuple[str, str]]) -> None:
        """Publish ``(topic, payload)`` pairs in this order, in as few round trips as the
        transport allows (one on Redis)."""
        await self._backend.publish_many(events)

    async def ping(self) -> None:
        """Raise ``TransportUnavailable`` unless the transport answers."""
        await self._backend.ping()

    @asynccontextmanager
    async def subscriber(self, queue_size: int | None = None) -> AsyncIterator[Subscriber]:
        """A subscriber with no topics yet; all its topics are removed on exit."""
        subscriber = Subscriber(self, self._queue_size if queue_size is None else queue_size)
        try:
            yield subscriber
        finally:
            await subscriber._remove_all_topics()

    @asynccontextmanager
    async def subscribe(
        self, topic: str, queue_size: int | None = None
    ) -> AsyncIterator[Subscriber]:
        """A subscriber already following ``topic``."""
        async with self.subscriber(queue_size) as subscriber:
            await subscriber.add_topic(topic)
            yield subscriber

    async def _attach(self, subscriber: Subscriber, topic: str) -> None:
        async with self._guard(topic):
            confirm = not self._subscribers.get(topic) or topic in self._unconfirmed
            losses = self._losses
            if confirm:
                await self._backend.subscribe(topic)
            self._subscribers.setdefault(topic, set()).add(subscriber)
            if self._losses != losses:
                # The confirmation may have come from the connection that just dropped.
                self._unconfirmed.add(topic)
                subscriber._fail(SubscriptionLost("the transport dropped while subscribing"))
            elif confirm:
                self._unconfirmed.discard(topic)

    async def _detach(self, subscriber: Subscriber, topic: str) -> None:
        async with self._guard(topic):
            subscribers = self._subscribers.get(topic)
            if subscribers is None or subscriber not in subscribers:
                return
            subscribers.discard(subscriber)
            if subscribers:
                return
            del self._subscribers[topic]
            self._unconfirmed.discard(topic)
            await self._backend.unsubscribe(topic)

    @asynccontextmanager
    async def _guard(self, topic: str) -> AsyncIterator[None]:
        guard = self._guards.get(topic)
        if guard is None:
            guard = self._guards[topic] = _TopicGuard()
        guard.users += 1
        try:
            async with guard.lock:
                yield
        finally:
            guard.users -= 1
            if guard.users == 0:
                del self._guards[topic]

    async def _listen(self) -> None:
        while True:
            try:
                topic, payload = await self._backend.next_published()
            except TransportLost as exc:
                self._on_transport_lost(exc)
                continue
            except Exception:
                logger.exception("broker listener: reading from the backend failed")
                await asyncio.sleep(_LISTENER_ERROR_PAUSE)
                continue
            try:
                self._fan_out(topic, payload)
            except Exception:
                logger.exception("broker listener: fan-out of an event on %r failed", topic)

    def _fan_out(self, topic: str, payload: str) -> None:
        subscribers = self._subscribers.get(topic)
        if not subscribers:
            return  # an event still in flight when its last subscriber left
        event = (topic, payload)  # one tuple, one str, shared by every subscriber
        for subscriber in subscribers:
            subscriber._offer(event)

    def _on_transport_lost(self, exc: TransportLost) -> None:
        self._losses += 1
        self._unconfirmed.update(self._subscribers)
        logger.warning(
            "broker transport lost (%s); failing the subscribers of %d topics so they catch up",
            exc,
            len(self._subscribers),
        )
        self._fail_all(SubscriptionLost("the transport dropped; events may have been missed"))

    def _fail_all(self, failure: SubscriptionLost) -> None:
        for subscribers in self._subscribers.values():
            for subscriber in subscribers:
                subscriber._fail(failure)
