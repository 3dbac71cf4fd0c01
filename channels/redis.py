"""Redis pub/sub transport: one subscribed connection per process, shared by every topic."""

from __future__ import annotations

import asyncio
import logging
import re
from collections import deque
from collections.abc import Sequence
from typing import Any, TypeAlias
from uuid import uuid4

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from channels.base import BrokerBackend, TransportLost, TransportUnavailable

logger = logging.getLogger(__name__)

# One entry per SUBSCRIBE (a future its callers wait on) or UNSUBSCRIBE (None) sent for a topic
# and not yet answered. Redis answers each in order, so the head is what the next reply settles.
_Replies: TypeAlias = deque[asyncio.Future[bool] | None]


class RedisBackend(BrokerBackend):
    """Carries events between processes through Redis PUBLISH/SUBSCRIBE.

    A single reader task owns the subscribed connection and reads every reply from it, so the
    ``subscribe`` confirmations are settled by that reader through per-topic futures. When the
    connection drops, the reader reports ``TransportLost`` (events may have been missed),
    reconnects with exponential backoff and resubscribes the topics still wanted.

    Channels are named ``prefix + topic`` so several deployments (or test runs) can share one
    Redis without hearing each other.
    """

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "",
        min_reconnect_delay: float = 0.1,
        max_reconnect_delay: float = 5.0,
    ) -> None:
        self._url = url
        self._prefix = prefix
        self._prefix_bytes = prefix.encode()
        self._min_reconnect_delay = min_reconnect_delay
        self._max_reconnect_delay = max_reconnect_delay
        self._commands: Redis | None = None
        self._listening: Redis | None = None
        self._pubsub: PubSub | None = None
        self._wanted: set[str] = set()
        self._confirmed: set[str] = set()
        self._replies: dict[str, _Replies] = {}
        # Serialises commands on the subscribed connection with (re)connecting, so the reply
        # bookkeeping always matches what was sent on the live connection.
        self._lock = asyncio.Lock()
        # None marks the point where the connection dropped. Unbounded: the broker's listener
        # drains it without waiting on any consumer.
        self._received: asyncio.Queue[tuple[str, str] | None] = asyncio.Queue()
        self._reader: asyncio.Task[None] | None = None
        # Redis refuses names with spaces or non-ASCII; unique per backend, as nodes share a prefix.
        readable_prefix = re.sub(r"[^!-~]", "_", prefix)
        self._client_name = f"channels-pubsub:{readable_prefix}{uuid4().hex[:12]}"

    @property
    def client_name(self) -> str:
        """The CLIENT SETNAME of the subscribed connection, so operators (and tests) find it."""
        return self._client_name

    async def connect(self) -> None:
        self._commands = Redis.from_url(self._url)
        # No retries on the subscribed connection: redis-py would silently reconnect and
        # resubscribe, hiding the gap in which events were missed. We reconnect ourselves.
        self._listening = Redis.from_url(
            self._url,
            retry=Retry(NoBackoff(), 0, supported_errors=()),
            client_name=self.client_name,
            socket_keepalive=True,
        )
        try:
            pubsub = await self._open()
        except (RedisError, OSError) as exc:
            await self._close_clients()
            raise TransportUnavailable(f"cannot open the redis pub/sub connection: {exc}") from exc
        self._reader = asyncio.create_task(self._read_forever(pubsub), name="channels-redis")

    async def disconnect(self) -> None:
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.cancel()
            await asyncio.wait([reader])
        async with self._lock:
            pubsub = self._forget_connection()
        if pubsub is not None:
            await self._close_pubsub(pubsub)
        await self._close_clients()

    async def subscribe(self, topic: str) -> None:
        async with self._lock:
            if self._pubsub is None:
                raise TransportUnavailable("the redis pub/sub connection is down; reconnecting")
            newly_wanted = topic not in self._wanted
            self._wanted.add(topic)
            if topic in self._confirmed:
                return
            replies = self._replies.setdefault(topic, deque())
            confirmation = replies[-1] if replies else None
            if confirmation is None:
                confirmation = asyncio.get_running_loop().create_future()
                replies.append(confirmation)
                try:
                    await self._pubsub.subscribe(self._prefix + topic)
                except (RedisError, OSError) as exc:
                    # The reader sees the broken connection and resets the bookkeeping.
                    confirmation.set_result(False)
                    if newly_wanted:
                        self._wanted.discard(topic)
                    raise TransportUnavailable(f"SUBSCRIBE {topic!r} failed: {exc}") from exc
        try:
            # Shielded: a cancelled caller must not cancel a confirmation others may await.
            if not await asyncio.shield(confirmation):
                raise TransportUnavailable(
                    f"the redis pub/sub connection dropped before confirming {topic!r}"
                )
        except BaseException:
            if newly_wanted:
                await self.unsubscribe(topic)
            raise

    async def unsubscribe(self, topic: str) -> None:
        async with self._lock:
            self._wanted.discard(topic)
            self._confirmed.discard(topic)
            if self._pubsub is None:
                return  # the reconnect only resubscribes wanted topics
            self._replies.setdefault(topic, deque()).append(None)
            try:
                await self._pubsub.unsubscribe(self._prefix + topic)
            except (RedisError, OSError) as exc:
                logger.warning(
                    "redis pub/sub: UNSUBSCRIBE %r failed (%s); the reconnect will leave it out",
                    topic,
                    exc,
                )

    async def publish(self, topic: str, payload: str) -> None:
        if self._commands is None:
            raise TransportUnavailable("the redis broker backend is not connected")
        try:
            await self._commands.publish(self._prefix + topic, payload)
        except (RedisError, OSError) as exc:
            raise TransportUnavailable(f"PUBLISH to {topic!r} failed: {exc}") from exc

    async def publish_many(self, events: Sequence[tuple[str, str]]) -> None:
        """One round trip for all of them: a pipeline (not a transaction) keeps their order."""
        if self._commands is None:
            raise TransportUnavailable("the redis broker backend is not connected")
        pipeline = self._commands.pipeline(transaction=False)
        for topic, payload in events:
            pipeline.publish(self._prefix + topic, payload)
        try:
            await pipeline.execute()
        except (RedisError, OSError) as exc:
            raise TransportUnavailable(f"PUBLISH of {len(events)} events failed: {exc}") from exc

    async def next_published(self) -> tuple[str, str]:
        event = await self._received.get()
        if event is None:
            raise TransportLost("the redis pub/sub connection dropped")
        return event

    async def ping(self) -> None:
        if self._commands is None or self._pubsub is None:
            raise TransportUnavailable("the redis pub/sub connection is down")
        try:
            await self._commands.ping()
        except (RedisError, OSError) as exc:
            raise TransportUnavailable(f"redis does not answer PING: {exc}") from exc

    async def _open(self) -> PubSub:
        """Connect the subscribed connection and resubscribe every wanted topic."""
        if self._listening is None:
            raise TransportUnavailable("the redis broker backend is not connected")
        async with self._lock:
            pubsub = self._listening.pubsub()
            try:
                await pubsub.connect()  # type: ignore[no-untyped-call]  # redis-py lacks hints
                if self._wanted:
                    loop = asyncio.get_running_loop()
                    self._replies = {t: deque([loop.create_future()]) for t in self._wanted}
                    await pubsub.subscribe(*(self._prefix + t for t in self._wanted))
            except BaseException:
                self._forget_connection()
                await self._close_pubsub(pubsub)
                raise
            self._pubsub = pubsub
            return pubsub

    def _forget_connection(self) -> PubSub | None:
        """Reset the per-connection state; waiting subscribers learn it was not confirmed."""
        pubsub, self._pubsub = self._pubsub, None
        self._confirmed.clear()
        for replies in self._replies.values():
            for confirmation in replies:
                if confirmation is not None and not confirmation.done():
                    confirmation.set_result(False)
        self._replies.clear()
        return pubsub

    async def _read_forever(self, pubsub: PubSub | None) -> None:
        delay = self._min_reconnect_delay
        while True:
            if pubsub is not None:
                try:
                    await self._read_until_dropped(pubsub)
                except Exception as exc:  # any failure to read means events may be lost
                    logger.warning(
                        "redis pub/sub connection lost (%s: %s); failing local subscribers "
                        "and reconnecting",
                        type(exc).__name__,
                        exc,
                    )
                async with self._lock:
                    self._forget_connection()
                self._received.put_nowait(None)
                await self._close_pubsub(pubsub)
                pubsub = None
            await asyncio.sleep(delay)
            try:
                pubsub = await self._open()
            except Exception as exc:
                delay = min(delay * 2, self._max_reconnect_delay)
                logger.warning(
                    "redis pub/sub reconnect failed (%s: %s); retrying in %.1fs",
                    type(exc).__name__,
                    exc,
                    delay,
                )
                continue
            delay = self._min_reconnect_delay
            logger.info("redis pub/sub reconnected; resubscribing %d topics", len(self._wanted))

    async def _read_until_dropped(self, pubsub: PubSub) -> None:
        while True:
            # redis-py reconnects a closed connection on read without telling us; refuse.
            if pubsub.connection is None or not pubsub.connection.is_connected:
                raise ConnectionError("the subscribed connection was closed")
            message = await pubsub.get_message(timeout=None)
            if message is None:
                continue
            try:
                self._handle(message)
            except Exception:
                logger.exception(
                    "redis pub/sub: could not handle a %r on %r",
                    message.get("type"),
                    message.get("channel"),
                )

    def _handle(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        channel: bytes = message["channel"]
        if not channel.startswith(self._prefix_bytes):
            logger.warning("redis pub/sub: ignoring %s on foreign channel %r", kind, channel)
            return
        topic = channel[len(self._prefix_bytes) :].decode()
        if kind == "message":
            data: bytes = message["data"]
            try:
                payload = data.decode()
            except UnicodeDecodeError:
                logger.error("redis pub/sub: dropping non-UTF-8 payload on %r", topic)
                return
            self._received.put_nowait((topic, payload))
        elif kind in ("subscribe", "unsubscribe"):
            self._settle(kind, topic)

    def _settle(self, kind: str, topic: str) -> None:
        replies = self._replies.get(topic)
        if not replies:
            logger.warning("redis pub/sub: unexpected %s reply for %r", kind, topic)
            return
        confirmation = replies.popleft()
        if not replies:
            del self._replies[topic]
            # Confirmed only when no later UNSUBSCRIBE/SUBSCRIBE is still on its way.
            if kind == "subscribe" and topic in self._wanted:
                self._confirmed.add(topic)
        if confirmation is not None and not confirmation.done():
            confirmation.set_result(True)

    async def _close_pubsub(self, pubsub: PubSub) -> None:
        try:
            await pubsub.aclose()  # type: ignore[no-untyped-call]  # redis-py lacks hints
        except Exception:
            logger.exception("redis pub/sub: closing the subscribed connection failed")

    async def _close_clients(self) -> None:
        commands, self._commands = self._commands, None
        listening, self._listening = self._listening, None
        for client in (commands, listening):
            if client is not None:
                await client.aclose()
