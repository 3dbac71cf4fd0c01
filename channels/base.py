"""The contract a transport meets so the Broker can carry events between processes."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence


class TransportLost(Exception):
    """Raised by ``next_published()`` after the transport dropped: events may have been missed.

    Nobody can tell which events fell into the gap, so the broker fails every local subscriber
    and each consumer catches up from the database. The next ``next_published()`` call carries
    on with events received after the transport recovered.
    """


class TransportUnavailable(ConnectionError):
    """The transport is not answering, so a subscribe, publish or ping could not be done.

    One exception type for every backend, so callers (a WebSocket handshake, ``/healthz``)
    need not know which transport is configured.
    """


class BrokerBackend(ABC):
    """Moves ``(topic, payload)`` pairs between processes; knows nothing of local subscribers.

    The broker calls ``subscribe``/``unsubscribe`` at most once at a time per topic (it holds a
    per-topic lock), only for the first local subscriber and after the last one left.
    """

    @abstractmethod
    async def connect(self) -> None:
        """Open the transport; raise ``TransportUnavailable`` if it cannot be reached."""

    @abstractmethod
    async def disconnect(self) -> None:
        """Close the transport and release everything ``connect()`` opened."""

    @abstractmethod
    async def subscribe(self, topic: str) -> None:
        """Return only once the transport confirmed it will deliver ``topic`` to this process.

        Callers subscribe and then read a backlog from the database; an earlier return would
        let an event published in between slip through unseen.
        """

    @abstractmethod
    async def unsubscribe(self, topic: str) -> None:
        """Stop receiving ``topic`` in this process."""

    @abstractmethod
    async def publish(self, topic: str, payload: str) -> None:
        """Send ``payload`` to every process subscribed to ``topic``, this one included."""

    async def publish_many(self, events: Sequence[tuple[str, str]]) -> None:
        """Publish ``(topic, payload)`` pairs in order; a transport may send them at once."""
        for topic, payload in events:
            await self.publish(topic, payload)

    @abstractmethod
    async def next_published(self) -> tuple[str, str]:
        """Wait for the next ``(topic, payload)``; raise ``TransportLost`` after a gap."""

    @abstractmethod
    async def ping(self) -> None:
        """Raise ``TransportUnavailable`` unless the transport answers (used by /healthz)."""
