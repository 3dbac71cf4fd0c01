"""The WebSocket hub: one socket per browser tab, fed from the broker in per-network seq order.

Each socket has one bounded subscriber queue for every topic it follows (its networks and the
user's own stream). The process's write round drains the queues once the broker has handed out
a batch (a writer task takes over a socket only when it has to wait); frames that must stay in
order with the events — backlogs, acks — go out under the same lock, so a client sees each
network's events in seq order, each once, even while it is catching up.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, NamedTuple, TypeVar

from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from channels import Subscriber, SubscriberOverflow
from chat import eager, metrics, wire
from chat.actions import Services
from chat.actions.accounts import get_user
from chat.actions.messages import backlog_frames, last_seq, may_read, send_message
from chat.actions.notifications import current_user_seq, notification_frames_since
from chat.actions.posts import PostOptions, check_post
from chat.auth import current_user, read_session_cookie, services_of
from chat.errors import ActionError
from chat.events import dumps, network_topic, user_topic
from chat.guard import origin_allowed
from chat.models import User
from chat.protocol import (
    CLOSE_FLOOD,
    CLOSE_NOT_AUTHENTICATED,
    CLOSE_ORIGIN_NOT_ALLOWED,
    CLOSE_SLOW_CONSUMER,
    CLOSE_TOO_BIG,
    error_frame,
    int_field,
    parse_frame,
)
from chat.ratelimit import TokenBucket

log = logging.getLogger(__name__)

T = TypeVar("T")

#: sends of one socket waiting for their group commit at once; the socket reads on meanwhile.
SENDS_IN_FLIGHT = 8
#: A burst of frames for one socket leaves in WebSocket messages of up to this many bytes of
#: UTF-8, one frame per line (docs/protocol.md): one write to the kernel instead of one per
#: frame. A larger single frame leaves on its own.
MAX_MESSAGE_BYTES = 65536


@lru_cache(maxsize=4096)
def stream_position(frame: str) -> tuple[str, int, int]:
    """(frame type, network id, seq or user_seq) of a published frame.

    Cached by the frame string itself: the broker hands every local socket the same str object,
    so the JSON is parsed once per process, not once per socket.
    """
    parsed = json.loads(frame)
    kind = parsed["type"]
    if kind == "event":
        return kind, parsed["network_id"], parsed["seq"]
    return kind, parsed.get("network_id", 0), parsed.get("user_seq", 0)


TRANSPORT_SEND = "bwt.transport_send"


class SocketFrontDoor:
    """Outermost middleware: hand the chat socket straight to the hub.

    Every middleware and the router keep a suspended frame (and the session and exception
    layers a ``send`` wrapper) for as long as a socket lives, although none of them does
    anything for WebSocket frames: about 6 KB per idle socket, and a chain of calls per socket
    for every event fanned out (~30 % of the hub's CPU in the profile). The front door reads the
    session cookie as SessionMiddleware would, keeps the server's own ``send`` for the hub, and
    sends every other request down the usual stack.
    """

    def __init__(self, app: ASGIApp, path: str, secret: str) -> None:
        self.app = app
        self.path = path
        self.secret = secret

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket" or scope["path"] != self.path:
            await self.app(scope, receive, send)
            return
        scope["session"] = read_session_cookie(scope, self.secret)
        scope[TRANSPORT_SEND] = send
        await websocket_endpoint(WebSocket(scope, receive, send))


class SendWatchdog:
    """Cuts off sockets whose writes have been stuck longer than the send timeout.

    One check a second over every socket of the process instead of a timer armed around each
    burst: arming and cancelling that timer was about a tenth of the CPU spent fanning an event
    out. A write only blocks while the client does not read (the transport paused), so a
    socket is cut off between one and two timeouts after it stopped reading.
    """

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.connections: set[Connection] = set()
        self.task: asyncio.Task[None] | None = None

    def watch(self, connection: Connection) -> None:
        self.connections.add(connection)
        if self.task is None or self.task.done():
            self.task = asyncio.create_task(self.patrol())

    def forget(self, connection: Connection) -> None:
        self.connections.discard(connection)

    async def patrol(self) -> None:
        loop = asyncio.get_running_loop()
        while self.connections:
            await asyncio.sleep(min(1.0, self.timeout))
            now = loop.time()
            for connection in list(self.connections):
                since = connection.writing_since
                if since is not None and now - since > self.timeout:
                    connection.cut_off_stalled_writer()


class WriteRound:
    """The sockets with events waiting, written in one pass once the event loop is free.

    The broker hands a batch of events to every subscriber before anything is written; writing
    each socket's share once the batch is in makes a burst one WebSocket message per socket (as
    a writer task per socket did) at the cost of one callback per round, not a task per socket.
    """

    def __init__(self) -> None:
        self.waiting: list[Connection] = []
        #: the round's messages, framed once (see chat.wire): most go to every socket alike.
        self.frames: dict[str, bytes] = {}

    def add(self, connection: Connection) -> None:
        if not self.waiting:
            asyncio.get_running_loop().call_soon(self.write_all)
        self.waiting.append(connection)

    def frame_of(self, text: str) -> bytes:
        frame = self.frames.get(text)
        if frame is None:
            frame = self.frames[text] = wire.text_frame(text)
        return frame

    def write_all(self) -> None:
        waiting, self.waiting = self.waiting, []
        try:
            for connection in waiting:
                try:
                    connection.write_waiting()
                except Exception:  # a bug: the other sockets of the round still get their events
                    log.exception("writing to a socket of user %s failed", connection.user.id)
        finally:
            self.frames.clear()


@dataclass(frozen=True, slots=True)
class SocketUser:
    """What a socket keeps of its user, instead of the ORM ``User``.

    The ORM object with its instance state (and the user's email, password hash and search
    name) was ~2.1 KB of every idle socket's ~31 KB; this is ~0.2 KB. The actions a socket calls
    take it where they take a ``User``: they read only these attributes of it.
    """

    id: int
    username: str
    display_name: str
    is_admin: bool
    session_epoch: int

    @classmethod
    def of(cls, user: User) -> SocketUser:
        assert user.id is not None
        return cls(user.id, user.username, user.display_name, user.is_admin, user.session_epoch)


class BegunBurst(NamedTuple):
    """What the write round began and a writer task must finish (see write_waiting)."""

    #: the rest of a write the client is not taking yet
    rest: eager.Suspended | None = None
    #: the first event that needs ``forward()``, or did not fit in the message
    leftover: tuple[str, str] | None = None
    #: what went wrong (the client went away, the subscriber overflowed)
    failure: Exception | None = None


class SessionEnded(Exception):
    """The user logged out: every socket of theirs closes with 4401."""


class Connection:
    """One open socket of one user. Slotted: most sockets are idle, and what each one holds is
    what 10,000 of them cost (docs/performance.md)."""

    __slots__ = (
        "websocket", "services", "settings", "user", "subscriber", "lock", "sent_seq",
        "sent_user_seq", "bucket", "excess_frames", "transport_send", "writing_since", "writer",
        "writer_error", "ended_by_writer", "reading_task", "reading", "stalled", "send_slots",
        "sends", "outbox", "outbox_bytes", "write_round", "plain_socket",
    )  # fmt: skip

    def __init__(
        self,
        websocket: WebSocket,
        services: Services,
        user: SocketUser,
        subscriber: Subscriber,
        write_round: WriteRound,
    ) -> None:
        self.websocket = websocket
        self.write_round = write_round
        self.services = services
        self.settings = services.settings
        self.user = user
        self.subscriber = subscriber
        self.lock = asyncio.Lock()
        #: the highest seq sent per followed network; events at or below it are duplicates.
        self.sent_seq: dict[int, int] = {}
        self.sent_user_seq = 0
        self.bucket = TokenBucket(self.settings.frame_rate, self.settings.frame_burst)
        self.excess_frames = 0
        self.transport_send: Send = websocket.scope.get(TRANSPORT_SEND) or websocket.send
        #: uvicorn's protocol of this socket if the write round may write frames straight to it.
        self.plain_socket = wire.plain_socket(self.transport_send)
        #: loop time at which the current burst began to be written; None while idle.
        self.writing_since: float | None = None
        self.writer: asyncio.Task[None] | None = None
        self.writer_error: Exception | None = None
        #: the writer closed the socket (slow consumer, logged out, gone) and ended the reading.
        self.ended_by_writer = False
        self.reading_task: asyncio.Task[Any] | None = None
        self.reading = False
        self.stalled = False
        #: made with the socket's first send: most sockets only read.
        self.send_slots: asyncio.Semaphore | None = None
        self.sends: set[asyncio.Task[None]] = set()
        #: while the writer forwards a burst: its frames, to leave together (see send_now).
        self.outbox: list[str] | None = None
        self.outbox_bytes = 0

    async def send(self, text: str) -> None:
        """Send one frame within the send timeout (replies, backlogs: the less frequent frames)."""
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for wraps every send in a new Task.
        async with asyncio.timeout(self.settings.send_timeout_seconds):
            await self.send_now(text)

    async def send_joined(self, frames: list[str]) -> None:
        """Send frames in as few WebSocket messages as fit, one frame per line (as the writer
        sends a burst), each message within the send timeout.

        For a catching-up socket's backlog: sent a message per frame, each with its own write to
        the kernel and its own timer, it was a quarter of the server's samples in a reconnect
        storm (docs/performance.md)."""
        lines: list[str] = []
        size = 0
        for frame in frames:
            frame_size = wire.utf8_length(frame)
            if lines and size + frame_size >= MAX_MESSAGE_BYTES:
                await self.send("\n".join(lines))
                lines, size = [], 0
            lines.append(frame)
            size += frame_size + 1
        if lines:
            await self.send("\n".join(lines))

    async def send_now(self, text: str) -> None:
        """Send one frame; the caller holds the lock and a deadline.

        While the writer forwards a burst, frames collect in the outbox and leave together, one
        per line of a WebSocket message: a write to the kernel per frame was the largest single
        cost of fanning out (docs/performance.md). Everything that sends holds the lock, so no
        other frame can come between them.
        """
        if self.outbox is None:
            await self.write_message(text)
            return
        text_size = wire.utf8_length(text)
        if self.outbox and self.outbox_bytes + text_size >= MAX_MESSAGE_BYTES:
            await self.flush_outbox()
        self.outbox.append(text)
        self.outbox_bytes += text_size + 1

    async def flush_outbox(self) -> None:
        if self.outbox:
            message = "\n".join(self.outbox)
            self.outbox.clear()
            self.outbox_bytes = 0
            await self.write_message(message)

    async def write_message(self, text: str) -> None:
        rest = self.write_now(text)
        if rest is not None:
            await self.finish_write(rest)

    def write_now(self, text: str) -> eager.Suspended | None:
        """Start writing one WebSocket message; what is left if the client is not taking it."""
        try:
            return eager.start(self.transport_send({"type": "websocket.send", "text": text}))
        except (OSError, RuntimeError):
            # RuntimeError: uvicorn already sent its own close frame (a 1009 from its frame
            # parser, a keepalive timeout) and refuses further sends; the socket is going away.
            raise self.client_gone() from None

    def write_in_round(self, text: str) -> eager.Suspended | None:
        """``write_now``, with the round's frame of ``text`` where the socket takes it as is."""
        plain = self.plain_socket
        if plain is not None:
            try:
                if wire.write_framed(plain, self.write_round.frame_of(text)):
                    return None
            except OSError:
                raise self.client_gone() from None
        return self.write_now(text)

    async def finish_write(self, rest: eager.Suspended) -> None:
        try:
            await rest
        except (OSError, RuntimeError):  # as in write_now
            raise self.client_gone() from None

    def client_gone(self) -> WebSocketDisconnect:
        """What Starlette's WebSocket.send does when the client went away mid-send."""
        self.websocket.application_state = WebSocketState.DISCONNECTED
        return WebSocketDisconnect(code=1006)

    async def run(self) -> None:
        await self.subscriber.add_topic(user_topic(self.user.id))
        # A logout announced before that subscription took hold (a Redis round trip after the
        # cookie was checked) was not heard here: it shows in the user's session epoch.
        now = await get_user(self.services.db, self.user.id)
        if now is None or now.session_epoch != self.user.session_epoch:
            await self.close(CLOSE_NOT_AUTHENTICATED, "logged out")
            return
        self.sent_user_seq = await current_user_seq(self.services, self.user)
        await self.send(
            dumps(
                {
                    "type": "welcome",
                    "user_id": self.user.id,
                    "username": self.user.username,
                    "display_name": self.user.display_name,
                    "user_seq": self.sent_user_seq,
                    "max_body_chars": self.settings.max_body_chars,
                }
            )
        )
        # This task reads. Events are written by the write round, or by a writer task while one
        # has to wait (see write_waiting); if that task has to close the socket, it ends the
        # reading too.
        reading = asyncio.current_task()
        assert reading is not None
        self.reading_task = reading
        self.reading = True
        self.subscriber.when_ready(self.start_writer)
        try:
            await self.read_loop()
        except asyncio.CancelledError:
            if not self.ended_by_writer:
                raise  # the server is shutting down, not the writer ending
            reading.uncancel()
        finally:
            self.reading = False
            self.subscriber.when_ready(None)
            tasks = [*self.sends, *([self.writer] if self.writer is not None else [])]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        if self.writer_error is not None:
            raise self.writer_error  # what ended the writer, if it failed

    # -- from the broker to the client ---------------------------------------------------------

    def start_writer(self) -> None:
        """Called by the subscriber when an event waits: write in the process's next round."""
        if self.reading:
            self.write_round.add(self)

    def write_waiting(self) -> None:
        """Write what waits, in the process's write round (see ``WriteRound``).

        The usual burst (the next events of the socket's streams, for a client that reads) leaves
        right here, as one WebSocket message, without a task: a task per socket per event was
        most of the hub's own CPU per delivery (docs/performance.md). Whatever has to wait (a
        gap to fill from the database, a topic to drop, a logout, a client that is not reading,
        the lock held by a reply) goes on in a writer task, which then drains the queue.
        """
        if not self.reading:
            return
        if not eager.try_acquire(self.lock):
            self.writer = asyncio.create_task(self.write_pending())
            return
        try:
            begun = self.write_in_order_now()
        except Exception as error:
            begun = BegunBurst(failure=error)
        if begun is None:
            self.lock.release()
            self.subscriber.when_ready(self.start_writer)
            return
        self.writer = asyncio.create_task(self.write_pending(begun))

    def write_in_order_now(self) -> BegunBurst | None:
        """Send what is queued and next in its stream, as one message, without waiting.

        Returns what a writer task must finish, if anything: the rest of that write if the
        client is not taking it yet, and the first event that needs ``forward()`` (or did not
        fit in the message). The caller holds the lock.
        """
        lines: list[str] = []
        size = 0
        leftover = None
        while (ready := self.subscriber.get_nowait()) is not None:
            frame = ready[1]
            frame_size = wire.utf8_length(frame)
            if lines and size + frame_size >= MAX_MESSAGE_BYTES:
                leftover = ready
                break
            in_order = self.take_in_order(frame)
            if in_order is None:
                leftover = ready
                break
            if in_order:
                lines.append(frame)
                size += frame_size + 1
        rest = self.write_in_round("\n".join(lines)) if lines else None
        return None if rest is None and leftover is None else BegunBurst(rest, leftover)

    async def finish_burst(self, begun: BegunBurst) -> None:
        """What ``write_waiting`` began: the lock is held, and released by ``write_pending``."""
        if begun.failure is not None:
            raise begun.failure
        if begun.rest is not None:
            self.writing_since = asyncio.get_running_loop().time()
            await self.finish_write(begun.rest)
            self.writing_since = None
        if begun.leftover is not None:
            await self.write_burst(begun.leftover)

    async def write_pending(self, begun: BegunBurst | None = None) -> None:
        """Write until nothing waits; first finish ``begun``, whose lock ``write_waiting`` took."""
        try:
            if begun is not None:
                try:
                    await self.finish_burst(begun)
                finally:
                    self.lock.release()
            while (ready := self.subscriber.get_nowait()) is not None:
                async with self.lock:
                    await self.write_burst(ready)
        except asyncio.CancelledError:
            if not self.stalled:
                raise
            asyncio.current_task().uncancel()  # type: ignore[union-attr]
            await self.close_slow_consumer()
        except (SubscriberOverflow, TimeoutError):
            await self.close_slow_consumer()
        except SessionEnded:
            await self.close(CLOSE_NOT_AUTHENTICATED, "logged out")
        except Exception as error:  # the client went away mid-write, or a bug: run() raises it
            self.writer_error = error
        else:
            # Nothing waits: no await between the last look and arming, so no event slips by.
            self.writer = None
            self.subscriber.when_ready(self.start_writer)
            return
        self.ended_by_writer = True
        if self.reading and self.reading_task is not None:
            self.reading_task.cancel()

    async def write_burst(self, first: tuple[str, str]) -> None:
        """Forward ``first`` and whatever queued meanwhile, as few messages as fit; lock held."""
        # The watchdog (not a timer per burst) cuts this off if it takes too long.
        self.writing_since = asyncio.get_running_loop().time()
        self.outbox = []
        try:
            await self.forward(*first)
            # Events that queued meanwhile go out now, under the same lock: one wake-up of this
            # task, and one write, per burst instead of per event.
            while (ready := self.subscriber.get_nowait()) is not None:
                await self.forward(*ready)
            await self.flush_outbox()
        finally:
            self.outbox = None
        self.writing_since = None

    def cut_off_stalled_writer(self) -> None:
        """Called by the watchdog: the client has not taken a burst within the send timeout."""
        if self.writer is not None and not self.stalled:
            self.stalled = True
            self.writer.cancel()

    async def close_slow_consumer(self) -> None:
        metrics.slow_consumers.inc()
        await self.close(CLOSE_SLOW_CONSUMER, "slow consumer: reconnect and catch up")

    def take_in_order(self, frame: str) -> bool | None:
        """Whether ``frame`` is the next of its stream (True: now counted as sent, so send it),
        one seen before (False: drop it), or needs ``forward()``'s slower path (None)."""
        kind, network_id, seq = stream_position(frame)
        if kind == "event":
            sent = self.sent_seq.get(network_id)
            if sent is None or seq <= sent:
                return False
            if seq == sent + 1:
                self.sent_seq[network_id] = seq
                return True
        elif kind == "notification":
            if seq <= self.sent_user_seq:
                return False
            if seq == self.sent_user_seq + 1:
                self.sent_user_seq = seq
                return True
        return None

    async def forward(self, topic: str, frame: str) -> None:
        in_order = self.take_in_order(frame)
        if in_order is not None:
            if in_order:
                await self.send_now(frame)
            return
        kind, network_id, seq = stream_position(frame)
        if kind == "event":
            # Another process committed an earlier event but published it later: fetch it.
            sent = self.sent_seq[network_id]
            for missing in await backlog_frames(
                self.services, self.user, network_id, sent, up_to=seq - 1
            ):
                await self.send_now(missing)
            await self.send_now(frame)
            self.sent_seq[network_id] = seq
        elif kind == "notification":
            await self.sync_notifications_locked(self.sent_user_seq)
            if seq <= self.sent_user_seq:
                return
            await self.send_now(frame)
            self.sent_user_seq = seq
        elif kind == "unsubscribed":
            # On the user's stream: they left a private network. On a network's stream: it
            # became private, and only sockets of non-members must stop (rare: one query each).
            if topic == network_topic(network_id) and await may_read(
                self.services, self.user, network_id
            ):
                return
            await self.subscriber.remove_topic(network_topic(network_id))
            self.sent_seq.pop(network_id, None)
            await self.send_now(frame)
        elif kind == "session_ended":
            await self.send_now(frame)
            await self.flush_outbox()
            raise SessionEnded

    # -- from the client ----------------------------------------------------------------------

    async def read_loop(self) -> None:
        while True:
            message = await self.websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            if len(text.encode() if text is not None else message.get("bytes") or b"") > (
                self.settings.max_frame_bytes
            ):
                await self.close(CLOSE_TOO_BIG, "frame too large")
                return
            if not self.bucket.take():
                self.excess_frames += 1
                if self.excess_frames > self.settings.frame_burst:
                    await self.close(CLOSE_FLOOD, "too many frames")
                    return
                await self.reply_error(ActionError("rate_limited", "Too many frames; slow down."))
                continue
            self.excess_frames = 0
            if text is None:
                await self.reply_error(ActionError("invalid_json", "Send text frames with JSON."))
                continue
            await self.handle(text)

    async def handle(self, text: str) -> None:
        ref: object = None
        try:
            frame = parse_frame(text)
            ref = frame.get("client_id") if frame["type"] == "send" else frame["type"]
            metrics.frames_received.labels(frame["type"]).inc()
            await getattr(self, f"on_{frame['type']}")(frame)
        except ActionError as error:
            await self.reply_error(error, ref)
        except (WebSocketDisconnect, asyncio.CancelledError, TimeoutError):
            raise
        except Exception:
            log.exception("frame from user %s failed: %.200s", self.user.id, text)
            await self.reply_error(ActionError("internal_error", "The server failed."), ref)

    async def reply(self, frame: dict[str, Any]) -> None:
        async with self.lock:
            await self.send(dumps(frame))

    async def reply_error(self, error: ActionError, ref: object = None) -> None:
        metrics.frame_errors.labels(error.code).inc()
        async with self.lock:
            await self.send(error_frame(error, ref))

    async def on_ping(self, frame: dict[str, Any]) -> None:
        await self.reply({"type": "pong"})

    async def on_subscribe(self, frame: dict[str, Any]) -> None:
        network_id = int_field(frame, "network_id")
        since_seq = int_field(frame, "since_seq", required=False)
        assert network_id is not None
        async with self.lock:
            # Raises for networks the user may not read, before anything is subscribed.
            await last_seq(self.services, self.user, network_id)
            # Subscribe first, then read: an event committed in between arrives both ways and
            # the seq check in forward() drops the second copy.
            await self.subscriber.add_topic(network_topic(network_id))
            newest = await last_seq(self.services, self.user, network_id)
            if since_seq is not None and since_seq < newest:
                await self.send_joined(
                    await backlog_frames(
                        self.services, self.user, network_id, since_seq, up_to=newest
                    )
                )
            self.sent_seq[network_id] = newest
            await self.send(
                dumps({"type": "subscribed", "network_id": network_id, "last_seq": newest})
            )

    async def on_unsubscribe(self, frame: dict[str, Any]) -> None:
        network_id = int_field(frame, "network_id")
        assert network_id is not None
        async with self.lock:
            await self.subscriber.remove_topic(network_topic(network_id))
            self.sent_seq.pop(network_id, None)
            await self.send(dumps({"type": "unsubscribed", "network_id": network_id}))

    async def on_send(self, frame: dict[str, Any]) -> None:
        network_id = int_field(frame, "network_id")
        assert network_id is not None
        post = check_post(frame.get("kind"), frame.get("tags"), frame.get("thread_root_id"))
        # The socket reads on while this send waits for its batch, so a client with several
        # sends in flight gets them stored together. They still queue in the order they arrived:
        # tasks start in the order they are made, and each queues its send before it waits.
        if self.send_slots is None:
            self.send_slots = asyncio.Semaphore(SENDS_IN_FLIGHT)
        await self.send_slots.acquire()
        task = asyncio.create_task(self.store_send(network_id, frame, post))
        self.sends.add(task)
        task.add_done_callback(self.sends.discard)

    async def store_send(self, network_id: int, frame: dict[str, Any], post: PostOptions) -> None:
        ref = frame.get("client_id")
        try:
            try:
                result = await send_message(
                    self.services, self.user, network_id, ref, frame.get("body"), post
                )
            except ActionError as error:
                await self.reply_error(error, ref)
                return
            except Exception:
                log.exception("send from user %s failed: %.200s", self.user.id, frame)
                await self.reply_error(ActionError("internal_error", "The server failed."), ref)
                return
            if not result.duplicate:
                metrics.messages_stored.inc()
            await self.reply(result.ack())
        except (WebSocketDisconnect, TimeoutError):
            pass  # the socket is going away: its read and write loops close it
        finally:
            self.send_slots.release()  # type: ignore[union-attr]  # made before this task

    async def on_sync_notifications(self, frame: dict[str, Any]) -> None:
        since = int_field(frame, "since_user_seq")
        assert since is not None
        async with self.lock:
            await self.sync_notifications_locked(since)
            await self.send(dumps({"type": "notifications_synced", "user_seq": self.sent_user_seq}))

    async def sync_notifications_locked(self, since: int) -> None:
        notifications = await notification_frames_since(self.services, self.user, since)
        await self.send_joined(notifications)
        for notification in notifications:
            _, _, user_seq = stream_position(notification)
            self.sent_user_seq = max(self.sent_user_seq, user_seq)

    async def close(self, code: int, reason: str) -> None:
        if self.websocket.application_state == WebSocketState.CONNECTED:
            try:
                # A stalled client cannot even take the close frame: do not wait for it forever.
                await asyncio.wait_for(
                    self.websocket.close(code, reason), self.settings.send_timeout_seconds
                )
            except (RuntimeError, TimeoutError):
                pass  # the client went away at the same moment, or is not reading at all


def one_per_app(websocket: WebSocket, name: str, make: Callable[[], T]) -> T:
    """The application's one ``name`` (watchdog, write round), made with its first socket."""
    state = websocket.app.state
    if getattr(state, name, None) is None:
        setattr(state, name, make())
    return getattr(state, name)  # type: ignore[no-any-return]


async def websocket_endpoint(websocket: WebSocket) -> None:
    services = services_of(websocket)
    await websocket.accept()
    secure = websocket.url.scheme == "wss"
    host = websocket.headers.get("host", "")
    origin = websocket.headers.get("origin")
    if not origin_allowed(origin, host, secure, services.settings.allowed_origins):
        await websocket.close(CLOSE_ORIGIN_NOT_ALLOWED, "origin not allowed")
        return
    orm_user = await current_user(websocket)
    if orm_user is None:
        await websocket.close(CLOSE_NOT_AUTHENTICATED, "log in first")
        return
    user = SocketUser.of(orm_user)
    # Nothing keeps the ORM object for the socket's life: not this frame, not the scope's state.
    del orm_user
    websocket.state._state.pop("user", None)
    metrics.open_sockets.inc()
    try:
        async with services.broker.subscriber(services.settings.socket_queue_size) as subscriber:
            write_round = one_per_app(websocket, "write_round", WriteRound)
            connection = Connection(websocket, services, user, subscriber, write_round)
            timeout = services.settings.send_timeout_seconds
            watchdog = one_per_app(websocket, "send_watchdog", lambda: SendWatchdog(timeout))
            watchdog.watch(connection)
            try:
                await connection.run()
            finally:
                watchdog.forget(connection)
    except (WebSocketDisconnect, TimeoutError):
        pass
    finally:
        metrics.open_sockets.dec()
