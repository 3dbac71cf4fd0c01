"""What only Redis can show: several nodes, the subscription on the server, a dropped link."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from channels import Broker, SubscriptionLost, TransportUnavailable
from channels.redis import RedisBackend
from tests.channels.slow_link import SlowLink
from tests.channels.waiting import next_event, wait_until

pytestmark = pytest.mark.services


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    """A plain client of our own, to look at the server the way an operator would."""
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


async def subscriber_count(redis: Redis, channel: str) -> int:
    """How many connections Redis delivers ``channel`` to (PUBSUB NUMSUB)."""
    [(_, count)] = await redis.pubsub_numsub(channel)
    return int(count)


async def test_event_crosses_to_another_node(redis_url: str, prefix: str) -> None:
    async with (
        Broker(redis_url, prefix=prefix) as node_a,
        Broker(redis_url, prefix=prefix) as node_b,
        node_a.subscribe("network:1") as on_a,
        node_b.subscribe("network:1") as on_b,
    ):
        await node_b.publish("network:1", "from b")
        assert await next_event(on_a) == ("network:1", "from b")
        assert await next_event(on_b) == ("network:1", "from b")


async def test_prefixes_keep_deployments_apart(redis_url: str, prefix: str) -> None:
    async with (
        Broker(redis_url, prefix=prefix + "one:") as one,
        Broker(redis_url, prefix=prefix + "two:") as two,
        one.subscribe("network:1") as on_one,
    ):
        await two.publish("network:1", "other deployment")
        await one.publish("network:1", "ours")
        # Both PUBLISHes share no connection, so give the foreign one time to arrive first.
        await asyncio.sleep(0.1)
        assert await next_event(on_one) == ("network:1", "ours")
        assert on_one.queued == 0


async def test_backend_subscribes_once_and_unsubscribes_after_the_last(
    redis_url: str, prefix: str, redis: Redis
) -> None:
    channel = prefix + "network:1"
    async with SlowLink(redis_url, delay=0.005) as link, Broker(link.url, prefix=prefix) as broker:
        async with broker.subscribe("network:1"):
            # Returning from subscribe means Redis confirmed, even over a slow link.
            assert await subscriber_count(redis, channel) == 1
            async with broker.subscribe("network:1"):
                assert await subscriber_count(redis, channel) == 1
            assert await subscriber_count(redis, channel) == 1

        await wait_until(lambda: _has_count(redis, channel, 0))
        async with broker.subscribe("network:1") as again:
            assert await subscriber_count(redis, channel) == 1
            await broker.publish("network:1", "back")
            assert await next_event(again) == ("network:1", "back")


async def _has_count(redis: Redis, channel: str, expected: int) -> bool:
    return await subscriber_count(redis, channel) == expected


async def test_subscribe_then_publish_from_another_node_never_loses_the_event(
    redis_url: str, prefix: str
) -> None:
    # The listening node sits behind a slow link: its SUBSCRIBE reaches Redis late.
    async with (
        SlowLink(redis_url, delay=0.002) as link,
        Broker(link.url, prefix=prefix) as listening,
        Broker(redis_url, prefix=prefix) as publishing,
    ):
        for attempt in range(200):
            topic = f"network:{attempt}"
            async with listening.subscribe(topic) as subscriber:
                await publishing.publish(topic, str(attempt))
                assert await next_event(subscriber) == (topic, str(attempt)), attempt


async def test_lost_connection_fails_subscribers_then_resubscribes(
    redis_url: str, prefix: str, redis: Redis
) -> None:
    channel = prefix + "network:1"
    async with (
        SlowLink(redis_url, delay=0.005) as link,
        Broker(link.url, prefix=prefix) as node,
        Broker(redis_url, prefix=prefix) as other,
        node.subscribe("network:1") as before,
    ):
        waiting = asyncio.create_task(before.get())
        await _kill_pubsub_connection(redis, node)

        with pytest.raises(SubscriptionLost):
            await asyncio.wait_for(waiting, 5)
        with pytest.raises(SubscriptionLost):
            await before.get()

        # ``before`` still holds the topic, yet a new subscriber must not trust the old
        # subscription: it returns only once Redis confirmed the resubscription.
        async with node.subscriber() as after:
            async with asyncio.timeout(5):
                while True:  # refused while the node is still reconnecting
                    try:
                        await after.add_topic("network:1")
                        break
                    except TransportUnavailable:
                        await asyncio.sleep(0.01)
            await other.publish("network:1", "after the drop")
            assert await next_event(after) == ("network:1", "after the drop")
            assert await subscriber_count(redis, channel) == 1
        await node.ping()


async def test_subscribing_while_the_connection_is_down_fails_fast(
    redis_url: str, prefix: str, redis: Redis
) -> None:
    backend = RedisBackend(redis_url, prefix=prefix, min_reconnect_delay=1.0)
    await backend.connect()
    try:
        await _kill_by_name(redis, backend.client_name)
        with pytest.raises(TransportUnavailable):
            async with asyncio.timeout(0.5):
                while True:  # until the reader has noticed the drop
                    await backend.subscribe("network:1")
                    await backend.unsubscribe("network:1")
                    await asyncio.sleep(0.01)
        with pytest.raises(TransportUnavailable):
            await backend.ping()
    finally:
        await backend.disconnect()


async def test_unreachable_redis_is_reported_on_connect(prefix: str) -> None:
    # Port 1 is never a Redis server; connecting must fail with our exception, not hang.
    broker = Broker("redis://127.0.0.1:1/0", prefix=prefix)
    with pytest.raises(TransportUnavailable):
        await broker.connect()


async def _kill_pubsub_connection(redis: Redis, broker: Broker) -> None:
    backend = broker._backend
    assert isinstance(backend, RedisBackend)
    await _kill_by_name(redis, backend.client_name)


async def _kill_by_name(redis: Redis, name: str) -> None:
    """Close one subscribed connection from the server side, as a Redis restart would."""
    ids = [client["id"] for client in await redis.client_list() if client["name"] == name]
    assert len(ids) == 1, ids
    await redis.client_kill_filter(_id=ids[0])


async def test_churn_on_one_topic_leaves_redis_consistent(
    redis_url: str, prefix: str, redis: Redis
) -> None:
    channel = prefix + "network:1"

    async def come_and_go(node: Broker, seed: int) -> None:
        for round_ in range(5):
            async with node.subscribe("network:1") as subscriber:
                await asyncio.sleep(0.002 * ((seed + round_) % 3))
                assert subscriber.topics == {"network:1"}

    async with (
        SlowLink(redis_url, delay=0.002) as link,
        Broker(link.url, prefix=prefix) as node,
        Broker(redis_url, prefix=prefix) as other,
    ):
        await asyncio.gather(*(come_and_go(node, seed) for seed in range(20)))
        await wait_until(lambda: _has_count(redis, channel, 0))
        async with node.subscribe("network:1") as last:
            assert await subscriber_count(redis, channel) == 1
            await other.publish("network:1", "still delivered")
            assert await next_event(last) == ("network:1", "still delivered")


async def test_outage_is_survived_with_retries(redis_url: str, prefix: str, redis: Redis) -> None:
    channel = prefix + "network:1"
    async with (
        SlowLink(redis_url, delay=0) as link,
        Broker(link.url, prefix=prefix) as node,
        Broker(redis_url, prefix=prefix) as other,
        node.subscribe("network:1") as before,
    ):
        link.cut()
        with pytest.raises(SubscriptionLost):
            await next_event(before)
        await asyncio.sleep(0.5)  # several reconnect attempts fail meanwhile
        with pytest.raises(TransportUnavailable):
            await node.ping()
        async with node.subscriber() as during:
            with pytest.raises(TransportUnavailable):
                await during.add_topic("user:7")

        link.restore()
        await wait_until(lambda: _has_count(redis, channel, 1))
        async with node.subscribe("network:1") as after:
            await other.publish("network:1", "back online")
            assert await next_event(after) == ("network:1", "back online")
        await node.ping()


async def test_a_bad_message_is_logged_and_skipped(
    redis_url: str, prefix: str, redis: Redis, caplog: pytest.LogCaptureFixture
) -> None:
    async with Broker(redis_url, prefix=prefix) as node, node.subscribe("network:1") as subscriber:
        await redis.publish(prefix + "network:1", b"\xff\xfe not utf-8")
        await node.publish("network:1", "fine")
        assert await next_event(subscriber) == ("network:1", "fine")
    assert "non-UTF-8 payload on 'network:1'" in caplog.text
