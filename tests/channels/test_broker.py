"""The promises the broker makes to every backend: one call at a time per topic, ref-counted."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from channels import Broker
from channels.memory import MemoryBackend
from tests.channels.waiting import next_event


class RecordingBackend(MemoryBackend):
    """A memory backend whose (un)subscribe take a while, like a network round trip."""

    def __init__(self) -> None:
        super().__init__()
        self.in_flight: Counter[str] = Counter()
        self.overlaps: list[str] = []
        self.subscribed: Counter[str] = Counter()
        self.calls: list[tuple[str, str]] = []

    async def subscribe(self, topic: str) -> None:
        await self._round_trip("subscribe", topic)
        self.subscribed[topic] += 1

    async def unsubscribe(self, topic: str) -> None:
        self.subscribed[topic] -= 1
        await self._round_trip("unsubscribe", topic)

    async def _round_trip(self, call: str, topic: str) -> None:
        self.calls.append((call, topic))
        self.in_flight[topic] += 1
        if self.in_flight[topic] > 1:
            self.overlaps.append(topic)
        await asyncio.sleep(0.001)
        self.in_flight[topic] -= 1


def recording_broker() -> tuple[Broker, RecordingBackend]:
    broker = Broker("memory://")
    backend = broker._backend = RecordingBackend()
    return broker, backend


async def test_backend_hears_only_the_first_and_the_last_subscriber() -> None:
    broker, backend = recording_broker()
    async with broker:
        async with broker.subscribe("t"), broker.subscribe("t"), broker.subscribe("t"):
            assert backend.calls == [("subscribe", "t")]
        assert backend.calls == [("subscribe", "t"), ("unsubscribe", "t")]


async def test_concurrent_joins_and_leaves_never_overlap_on_the_backend() -> None:
    broker, backend = recording_broker()

    async def come_and_go(seed: int) -> None:
        for round_ in range(5):
            async with broker.subscribe("t"):
                await asyncio.sleep(0.001 * ((seed + round_) % 3))

    async with broker:
        await asyncio.gather(*(come_and_go(seed) for seed in range(20)))
        assert backend.overlaps == []
        assert backend.subscribed["t"] == 0
        # Calls alternate: never two subscribes (or unsubscribes) for one topic in a row.
        kinds = [call for call, _ in backend.calls]
        assert kinds == ["subscribe", "unsubscribe"] * (len(kinds) // 2)

        async with broker.subscribe("t") as last:
            await broker.publish("t", "x")
            assert await next_event(last) == ("t", "x")


class StumblingBackend(MemoryBackend):
    """A memory backend whose first read fails, like a transport returning garbage once."""

    def __init__(self) -> None:
        super().__init__()
        self.stumbled = False

    async def next_published(self) -> tuple[str, str]:
        if not self.stumbled:
            self.stumbled = True
            raise RuntimeError("garbled frame")
        return await super().next_published()


async def test_listener_survives_a_failing_read(caplog: pytest.LogCaptureFixture) -> None:
    broker = Broker("memory://")
    broker._backend = StumblingBackend()
    async with broker, broker.subscribe("t") as subscriber:
        await broker.publish("t", "after the stumble")
        assert await next_event(subscriber) == ("t", "after the stumble")
    assert "reading from the backend failed" in caplog.text
    assert "garbled frame" in caplog.text
