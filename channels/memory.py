"""In-process transport for a single node, development and tests."""

from __future__ import annotations

import asyncio

from channels.base import BrokerBackend, TransportUnavailable


class MemoryBackend(BrokerBackend):
    """Every published event goes through one queue straight back to this process's broker.

    Each Broker gets its own instance, so two ``memory://`` brokers do not hear each other:
    use Redis as soon as more than one process serves WebSockets.

    Subscriptions need no bookkeeping: the broker drops events for topics nobody follows. The
    queue is unbounded because the broker's listener drains it without ever waiting on a
    consumer; slow consumers are bounded by their own subscriber queues instead.
    """

    def __init__(self) -> None:
        self._published: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        self._connected = False

    async def connect(self) -> None:
        self._connected = True

    async def disconnect(self) -> None:
        self._connected = False

    async def subscribe(self, topic: str) -> None:
        self._require_connection()

    async def unsubscribe(self, topic: str) -> None:
        pass

    async def publish(self, topic: str, payload: str) -> None:
        self._require_connection()
        self._published.put_nowait((topic, payload))

    async def next_published(self) -> tuple[str, str]:
        return await self._published.get()

    async def ping(self) -> None:
        self._require_connection()

    def _require_connection(self) -> None:
        # Behave like a real transport, so code that forgets connect() fails in tests too.
        if not self._connected:
            raise TransportUnavailable("the memory broker backend is not connected")
