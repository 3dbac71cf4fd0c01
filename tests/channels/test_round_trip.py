"""The same round trips against every backend: what a consumer of the channel layer sees."""

from __future__ import annotations

import asyncio

import pytest

from channels import Broker, SubscriberOverflow, SubscriptionLost
from channels.base import TransportUnavailable
from tests.channels.waiting import next_event, wait_until


async def test_publish_reaches_subscriber(broker: Broker) -> None:
    async with broker.subscribe("network:1") as subscriber:
        await broker.publish("network:1", '{"text": "hallo"}')
        assert await next_event(subscriber) == ("network:1", '{"text": "hallo"}')


async def test_publish_many_keeps_the_order(broker: Broker) -> None:
    async with broker.subscribe("network:1") as one, broker.subscribe("user:7") as seven:
        await broker.publish_many(
            [("network:1", "a"), ("user:7", "b"), ("network:2", "c"), ("network:1", "d")]
        )
        assert [await next_event(one) for _ in range(2)] == [("network:1", "a"), ("network:1", "d")]
        assert await next_event(seven) == ("user:7", "b")


async def test_topics_are_isolated(broker: Broker) -> None:
    async with broker.subscribe("network:1") as subscriber:
        await broker.publish("network:2", "not for you")
        await broker.publish("network:1", "for you")
        # Events from one publisher arrive in order, so a leak would have come first.
        assert await next_event(subscriber) == ("network:1", "for you")
        assert subscriber.queued == 0


async def test_every_subscriber_gets_the_same_payload_object(broker: Broker) -> None:
    async with (
        broker.subscribe("network:1") as first,
        broker.subscribe("network:1") as second,
        broker.subscribe("network:1") as third,
    ):
        payload = '{"seq": 1, "text": "één keer geserialiseerd"}'
        await broker.publish("network:1", payload)
        received = [await next_event(subscriber) for subscriber in (first, second, third)]

    assert all(event == ("network:1", payload) for event in received)
    # Fan-out hands on the one str it received instead of copying it per subscriber.
    assert received[0][1] is received[1][1] is received[2][1]


async def test_memory_backend_hands_on_the_published_object() -> None:
    async with Broker("memory://") as broker, broker.subscribe("t") as subscriber:
        payload = "".join(["built ", "at runtime"])
        await broker.publish("t", payload)
        assert (await next_event(subscriber))[1] is payload


async def test_one_subscriber_follows_many_topics(broker: Broker) -> None:
    async with broker.subscriber() as subscriber:
        await subscriber.add_topic("network:1")
        await subscriber.add_topic("user:7")
        assert subscriber.topics == {"network:1", "user:7"}

        await broker.publish("network:1", "a")
        await broker.publish("network:2", "not followed")
        await broker.publish("user:7", "b")
        await broker.publish("network:1", "c")

        received = [await next_event(subscriber) for _ in range(3)]
        assert received == [("network:1", "a"), ("user:7", "b"), ("network:1", "c")]


async def test_order_is_preserved(broker: Broker) -> None:
    async with broker.subscribe("network:1") as subscriber:
        for seq in range(500):
            await broker.publish("network:1", str(seq))
        received = [(await next_event(subscriber))[1] for _ in range(500)]
    assert received == [str(seq) for seq in range(500)]


async def test_async_iteration_yields_events(broker: Broker) -> None:
    async with broker.subscribe("network:1") as subscriber:
        for text in ("a", "b", "c"):
            await broker.publish("network:1", text)
        received = []
        async with asyncio.timeout(2):
            async for _topic, payload in subscriber:
                received.append(payload)
                if len(received) == 3:
                    break
    assert received == ["a", "b", "c"]


async def test_remove_topic_stops_delivery(broker: Broker) -> None:
    async with broker.subscriber() as subscriber, broker.subscribe("network:1") as witness:
        await subscriber.add_topic("network:1")
        await subscriber.add_topic("network:2")
        await subscriber.remove_topic("network:1")
        assert subscriber.topics == {"network:2"}

        await broker.publish("network:1", "gone")
        await broker.publish("network:2", "still here")
        # The witness proves the event was really published while the subscriber skipped it.
        assert await next_event(witness) == ("network:1", "gone")
        assert await next_event(subscriber) == ("network:2", "still here")


async def test_leaving_the_context_removes_every_topic(broker: Broker) -> None:
    async with broker.subscriber() as subscriber:
        await subscriber.add_topic("network:1")
        await subscriber.add_topic("user:7")
    assert broker._subscribers == {}
    assert broker._guards == {}

    async with broker.subscribe("network:1") as later:
        await broker.publish("network:1", "x")
        assert await next_event(later) == ("network:1", "x")
    assert subscriber.queued == 0


async def test_slow_subscriber_overflows_without_stalling_others(broker: Broker) -> None:
    async with (
        broker.subscribe("network:1", queue_size=5) as slow,
        broker.subscribe("network:1") as fast,
    ):
        for seq in range(50):
            await broker.publish("network:1", str(seq))
        received = [(await next_event(fast))[1] for _ in range(50)]
        assert received == [str(seq) for seq in range(50)]

        # Nothing of what was queued is handed out: the consumer must catch up instead.
        with pytest.raises(SubscriberOverflow) as overflow:
            await next_event(slow)
        assert not isinstance(overflow.value, SubscriptionLost)
        with pytest.raises(SubscriberOverflow):
            await next_event(slow)

        await broker.publish("network:1", "after")
        assert await next_event(fast) == ("network:1", "after")


async def test_overflow_frees_the_queued_events(broker: Broker) -> None:
    async with (
        broker.subscribe("network:1", queue_size=2) as slow,
        broker.subscribe("network:1") as witness,
    ):
        for seq in range(3):
            await broker.publish("network:1", str(seq))
        for _ in range(3):
            await next_event(witness)  # the same fan-out also reached ``slow``
        # The dropped events no longer hold memory, and the consumer learns why.
        assert slow.queued == 0
        with pytest.raises(SubscriberOverflow):
            await slow.get()


async def test_concurrent_subscribers_of_one_topic_stay_consistent(broker: Broker) -> None:
    async def come_and_go(seed: int) -> None:
        for round_ in range(5):
            async with broker.subscribe("network:1"):
                await asyncio.sleep(0.001 * ((seed + round_) % 3))

    # The topic's local count keeps dropping to zero and rising again while others join.
    await asyncio.gather(*(come_and_go(seed) for seed in range(20)))
    assert broker._subscribers == {}
    assert broker._guards == {}

    async with broker.subscribe("network:1") as last:
        await broker.publish("network:1", "still delivered")
        assert await next_event(last) == ("network:1", "still delivered")


async def test_ping_answers_while_connected(broker_url: str, prefix: str) -> None:
    broker = Broker(broker_url, prefix=prefix)
    await broker.connect()
    await broker.ping()
    await broker.disconnect()
    with pytest.raises(TransportUnavailable):
        await broker.ping()


async def test_disconnect_wakes_waiting_subscribers(broker_url: str, prefix: str) -> None:
    broker = Broker(broker_url, prefix=prefix)
    await broker.connect()
    async with broker.subscribe("network:1") as subscriber:
        waiting = asyncio.create_task(subscriber.get())
        await asyncio.sleep(0.05)
        await broker.disconnect()
        with pytest.raises(SubscriptionLost):
            await asyncio.wait_for(waiting, 2)


async def test_unknown_scheme_is_refused() -> None:
    with pytest.raises(ValueError, match="kafka"):
        Broker("kafka://localhost")


async def test_queue_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="queue_size"):
        Broker("memory://", queue_size=0)


async def test_a_consumer_without_a_waiting_task_is_called_once_events_wait(
    broker: Broker,
) -> None:
    """How an idle socket holds no writer task: it is told when to start taking events."""
    async with broker.subscribe("when-ready") as subscriber:

        async def holds(count: int) -> bool:
            return subscriber.queued == count

        calls: list[int] = []
        subscriber.when_ready(lambda: calls.append(subscriber.queued))
        await broker.publish("when-ready", "first")
        await broker.publish("when-ready", "second")
        await wait_until(lambda: holds(2))
        assert calls == [1]  # once, at the first event; the second found it already called
        assert [subscriber.get_nowait(), subscriber.get_nowait()] == [
            ("when-ready", "first"),
            ("when-ready", "second"),
        ]
        assert subscriber.get_nowait() is None
        # Armed while an event already waits, it is called at once.
        await broker.publish("when-ready", "third")
        await wait_until(lambda: holds(1))
        subscriber.when_ready(lambda: calls.append(-1))
        assert calls == [1, -1]
        # Disarmed, it is not called.
        subscriber.get_nowait()
        subscriber.when_ready(None)
        await broker.publish("when-ready", "fourth")
        await wait_until(lambda: holds(1))
        assert calls == [1, -1]
