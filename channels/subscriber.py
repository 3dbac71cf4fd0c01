"""A consumer's bounded inbox for events on any number of topics."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from typing import Protocol

logger = logging.getLogger(__name__)


class SubscriberOverflow(Exception):
    """Events were dropped for this subscriber, so it must reconnect and catch up.

    Raised by ``Subscriber.get()`` once the subscriber fell a whole queue behind: dropping it
    keeps one slow socket from stalling every other recipient or growing memory without bound.
    The database is the source of truth, so catching up from it loses nothing.
    """


class SubscriptionLost(SubscriberOverflow):
    """The transport dropped (or the broker closed), so events may have been missed.

    A subclass of ``SubscriberOverflow`` because the consumer's remedy is the same: reconnect
    and catch up from the database. Catching ``SubscriberOverflow`` handles both.
    """


class TopicRegistry(Protocol):
    """What a Subscriber needs from its broker: joining and leaving a topic's fan-out."""

    async def _attach(self, subscriber: Subscriber, topic: str) -> None: ...

    async def _detach(self, subscriber: Subscriber, topic: str) -> None: ...


class Subscriber:
    """One bounded queue fed by every topic this consumer follows.

    A WebSocket follows several networks plus its user's own topic; one queue keeps their
    events in arrival order and bounds the memory a slow socket can hold. Get one from
    ``Broker.subscriber()`` or ``Broker.subscribe(topic)``, which remove its topics on exit.
    """

    def __init__(self, registry: TopicRegistry, queue_size: int) -> None:
        if queue_size < 1:
            raise ValueError(f"queue_size must be at least 1, not {queue_size}")
        self._registry = registry
        self._queue_size = queue_size
        self._topics: set[str] = set()
        # A deque and one waiter rather than an asyncio.Queue: there is exactly one consumer,
        # and with one subscriber per socket the Queue's bookkeeping (two waiter deques, an
        # Event, a loop lookup per get) was a measurable share of fan-out CPU and idle memory.
        # An empty deque is ~600 bytes; most sockets are idle, so it exists only while needed.
        self._inbox: deque[tuple[str, str]] | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._on_ready: Callable[[], None] | None = None
        self._failure: SubscriberOverflow | None = None

    @property
    def queued(self) -> int:
        """How many events wait to be taken."""
        return len(self._inbox) if self._inbox else 0

    @property
    def topics(self) -> frozenset[str]:
        """The topics this subscriber currently follows."""
        return frozenset(self._topics)

    async def add_topic(self, topic: str) -> None:
        """Follow ``topic``; returns once the transport confirmed delivery of its events.

        So a consumer may add its topics, then read the backlog from the database, and never
        miss an event published in between.
        """
        self._raise_if_failed()
        if topic in self._topics:
            return
        await self._registry._attach(self, topic)
        self._topics.add(topic)

    async def remove_topic(self, topic: str) -> None:
        """Stop following ``topic``; events of it already queued stay queued."""
        if topic not in self._topics:
            return
        self._topics.discard(topic)
        await self._registry._detach(self, topic)

    async def get(self) -> tuple[str, str]:
        """Wait for the next ``(topic, payload)``.

        Raises ``SubscriberOverflow`` (or ``SubscriptionLost``) at once when events were
        dropped, without handing out what was still queued: the consumer catches up from the
        database anyway. One consumer at a time.
        """
        self._raise_if_failed()
        while not self._inbox:
            if self._waiter is not None:
                raise RuntimeError("a subscriber has one consumer at a time")
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
            self._raise_if_failed()
        return self._take()

    def get_nowait(self) -> tuple[str, str] | None:
        """The next queued ``(topic, payload)`` if one is waiting, else None; raises like ``get()``.

        Lets a consumer that woke up for one event take the others that queued meanwhile
        without waiting again: one wake-up per burst instead of one per event.
        """
        self._raise_if_failed()
        return self._take() if self._inbox else None

    def when_ready(self, callback: Callable[[], None] | None) -> None:
        """Call ``callback`` once, as soon as an event (or a failure) is waiting; None disarms.

        For a consumer that keeps no task waiting in ``get()`` while there is nothing to do:
        most sockets are idle, and a suspended task per socket was ~1 KB of each one's memory.
        The consumer takes what is queued with ``get_nowait()`` and arms this again once empty.
        """
        self._on_ready = callback
        if callback is not None and (self._inbox or self._failure is not None):
            self._wake()

    def _take(self) -> tuple[str, str]:
        assert self._inbox
        event = self._inbox.popleft()
        if not self._inbox:
            self._inbox = None
        return event

    def __aiter__(self) -> Subscriber:
        return self

    async def __anext__(self) -> tuple[str, str]:
        return await self.get()

    async def _remove_all_topics(self) -> None:
        for topic in sorted(self._topics):
            try:
                await self.remove_topic(topic)
            except Exception:
                logger.exception("could not remove topic %r from a closing subscriber", topic)

    def _offer(self, event: tuple[str, str]) -> None:
        """Queue ``event`` without waiting, so fan-out never stalls on a slow consumer."""
        if self._failure is not None:
            return
        if self._inbox is None:
            self._inbox = deque()
        elif len(self._inbox) >= self._queue_size:
            logger.warning(
                "subscriber of %s fell %d events behind; dropping it so it catches up",
                sorted(self._topics),
                self._queue_size,
            )
            self._fail(
                SubscriberOverflow(f"more than {self._queue_size} events were waiting; catch up")
            )
            return
        self._inbox.append(event)
        self._wake()

    def _fail(self, failure: SubscriberOverflow) -> None:
        """Drop queued events and make every later ``get()`` raise ``failure``."""
        if self._failure is not None:
            return
        self._failure = failure
        self._inbox = None
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        elif self._on_ready is not None:
            callback, self._on_ready = self._on_ready, None
            callback()

    def _raise_if_failed(self) -> None:
        if self._failure is not None:
            # A fresh traceback each time instead of one growing with every raise.
            raise self._failure.with_traceback(None)
