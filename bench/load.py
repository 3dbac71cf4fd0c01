"""One load-generator process: logged-in clients on one network, sending and checking every event.

Started by ``bench.harness`` with the path of a JSON plan on the command line; it is driven
through stdin and reports through stdout, one JSON object per line:

    → {"ready": ...}          every client connected, welcomed and subscribed
    ← {"go": t0}             senders start at wall-clock t0 and stop at t0 + duration
    → {"sent": ..., "max_seq": ...}
    ← {"drain": final_seq}   wait until every client has every seq up to final_seq
    → {"result": ...}        counts, latency histogram, lost / duplicates / out-of-order

Latency is wall-clock time (shared by every process on the machine) from the sender's send,
written into the message body, to the receiver's arrival. Each client keeps a bitmap of the seqs
it received, so a lost, doubled or reordered event is counted, never guessed.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import resource
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from bench.wsclient import WSClient, connect

SEQ_KEY = b'"seq":'
BODY_KEY = b'"body":"bench '
EVENT_PREFIX = b'{"type":"event"'


def histogram_bucket(ms: float) -> int:
    """Log buckets 2 % wide, so percentiles of merged histograms are within 2 %."""
    return int(math.log(max(ms, 0.001)) * 50)


def bucket_ms(bucket: int) -> float:
    return math.exp((bucket + 0.5) / 50)


@dataclass
class Plan:
    url: str
    origin: str
    cookies: list[str]
    network_id: int
    worker: int = 0
    senders: int = 0
    #: messages per second per sender; 0 = as fast as acks come back (closed loop)
    rate: float = 0.0
    window: int = 1
    duration: float = 10.0
    deflate: bool = False
    #: "live" (default), "idle" (connect and hold only), "storm", "slow"
    mode: str = "live"
    storm_at: float = 5.0
    storm_spread: float = 10.0
    stall_after: float = 2.0
    stall_for: float = 15.0
    connect_concurrency: int = 100


@dataclass
class Client:
    index: int
    cookie: str
    plan: Plan
    worker: Worker
    socket: WSClient | None = None
    base: int = -1
    last: int = 0
    seen: bytearray = field(default_factory=lambda: bytearray(1 << 12))
    received: int = 0
    duplicates: int = 0
    out_of_order: int = 0
    record_latency: bool = True
    subscribed: asyncio.Future[int] | None = None
    welcomed: asyncio.Future[None] | None = None
    close_codes: list[int] = field(default_factory=list)
    caught_up_at: float = 0.0
    reconnecting: bool = False
    outstanding: int = 0

    def on_text(self, payload: bytes) -> None:
        if payload.startswith(EVENT_PREFIX):
            self.on_event(payload)
            return
        frame = json.loads(payload)
        kind = frame["type"]
        if kind == "ack":
            self.worker.on_ack(self, frame)
        elif kind == "welcome":
            if self.welcomed is not None and not self.welcomed.done():
                self.welcomed.set_result(None)
        elif kind == "subscribed":
            if self.base < 0:
                self.base = frame["last_seq"]
                self.last = self.base
            self.caught_up_at = time.time()
            if self.subscribed is not None and not self.subscribed.done():
                self.subscribed.set_result(frame["last_seq"])
        elif kind == "error":
            self.worker.errors[frame.get("code", "?")] += 1

    def on_event(self, payload: bytes) -> None:
        now = time.time()
        start = payload.index(SEQ_KEY) + 6
        seq = int(payload[start : payload.index(b",", start)])
        if self.base < 0:
            return  # a live event racing the first subscribe reply; the backlog is not asked for
        offset = seq - self.base - 1
        if offset < 0:
            self.duplicates += 1
            return
        while offset >= len(self.seen):
            self.seen.extend(bytes(len(self.seen)))
        if self.seen[offset]:
            self.duplicates += 1
            return
        self.seen[offset] = 1
        self.received += 1
        if seq < self.last:
            self.out_of_order += 1
        else:
            self.last = seq
        worker = self.worker
        if worker.t0 <= now <= worker.t_end:
            worker.deliveries += 1
        if self.record_latency:
            body = payload.find(BODY_KEY)
            if body > 0:
                body += len(BODY_KEY)
                sent = float(payload[body : payload.index(b" ", body)])
                if worker.t0 <= sent <= worker.t_end:
                    worker.latency[histogram_bucket((now - sent) * 1000)] += 1
        if seq >= worker.drain_to and worker.drain_waiter is not None:
            worker.check_drained()

    def on_close(
        self, code: int, welcomed: asyncio.Future[None], subscribed: asyncio.Future[int]
    ) -> None:
        """``welcomed`` and ``subscribed`` are those of the socket that closed, not a newer one."""
        self.close_codes.append(code)
        self.worker.closes[str(code)] += 1
        for future, stage in ((welcomed, "welcome"), (subscribed, "subscribed")):
            if not future.done():
                future.set_exception(ConnectionError(f"closed {code} before {stage}"))
                future.exception()  # retrieved here; open() re-raises it if it still waits
        self.worker.on_client_closed(self, code)

    def missing(self, final: int) -> int:
        if self.base < 0:
            return max(final, 0)
        expected = final - self.base
        if expected <= 0:
            return 0
        have = self.seen[:expected].count(1)
        return expected - have

    async def open(self, since_seq: int | None = None, receive_buffer: int = 0) -> None:
        loop = asyncio.get_running_loop()
        welcomed = self.welcomed = loop.create_future()
        subscribed = self.subscribed = loop.create_future()
        self.socket = await connect(
            self.plan.url,
            origin=self.plan.origin,
            cookie=self.cookie,
            on_text=self.on_text,
            on_close=lambda code: self.on_close(code, welcomed, subscribed),
            deflate=self.plan.deflate,
            receive_buffer=receive_buffer,
        )
        await asyncio.wait_for(self.welcomed, 30)
        if self.plan.mode == "idle":
            return
        frame: dict[str, Any] = {"type": "subscribe", "network_id": self.plan.network_id}
        if since_seq is not None:
            frame["since_seq"] = since_seq
        self.socket.send_text(json.dumps(frame))
        await asyncio.wait_for(self.subscribed, 60)


class Worker:
    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.clients = [Client(i, cookie, plan, self) for i, cookie in enumerate(plan.cookies)]
        self.t0 = math.inf
        self.t_end = -math.inf
        self.deliveries = 0
        self.acked = 0
        self.acked_in_window = 0
        self.sent = 0
        self.max_seq = 0
        self.latency: Counter[int] = Counter()
        self.errors: Counter[str] = Counter()
        self.closes: Counter[str] = Counter()
        self.in_flight: dict[str, float] = {}
        self.sender_wakeups: dict[int, asyncio.Event] = {}
        self.drain_to = math.inf
        self.drain_waiter: asyncio.Future[None] | None = None
        self.sending = False
        self.unexpected_closes = 0
        self.reconnects: list[asyncio.Task[None]] = []
        self.stall_client: Client | None = None

    # -- callbacks ----------------------------------------------------------------------------

    def on_ack(self, client: Client, frame: dict[str, Any]) -> None:
        sent_at = self.in_flight.pop(frame["client_id"], None)
        self.acked += 1
        if sent_at is not None and self.t0 <= sent_at <= self.t_end:
            self.acked_in_window += 1
        self.max_seq = max(self.max_seq, frame["seq"])
        client.outstanding -= 1
        wakeup = self.sender_wakeups.get(client.index)
        if wakeup is not None:
            wakeup.set()

    def on_client_closed(self, client: Client, code: int) -> None:
        if client.reconnecting:
            return
        if self.plan.mode == "slow" and client is self.stall_client:
            return  # expected: the stalled client is cut off, it reconnects itself
        if code not in (1000,):
            self.unexpected_closes += 1

    def check_drained(self) -> None:
        if self.drain_waiter is None or self.drain_waiter.done():
            return
        if all(c.last >= self.drain_to for c in self.clients):
            self.drain_waiter.set_result(None)

    # -- phases -------------------------------------------------------------------------------

    async def connect_all(self) -> None:
        gate = asyncio.Semaphore(self.plan.connect_concurrency)

        async def one(client: Client) -> None:
            stalls = self.plan.mode == "slow" and client is self.clients[-1]
            async with gate:
                await client.open(receive_buffer=16384 if stalls else 0)

        await asyncio.gather(*(one(c) for c in self.clients))

    async def run_sender(self, client: Client) -> None:
        plan = self.plan
        socket = client.socket
        assert socket is not None
        n = 0
        wakeup = self.sender_wakeups.setdefault(client.index, asyncio.Event())

        def send_one() -> None:
            nonlocal n
            n += 1
            client_id = f"w{plan.worker}c{client.index}n{n}x{random.getrandbits(24):06x}"
            now = time.time()
            self.in_flight[client_id] = now
            client.outstanding += 1
            body = f"bench {now:.6f} {client_id} Overleg over de handhaving van dit dossier."
            socket.send_text(
                f'{{"type":"send","network_id":{plan.network_id},'
                f'"client_id":"{client_id}","body":"{body}"}}'
            )
            self.sent += 1

        if plan.rate > 0:
            interval = 1 / plan.rate
            next_at = self.t0 + random.random() * interval
            while True:
                delay = next_at - time.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                if next_at >= self.t_end:
                    return
                send_one()
                next_at += interval
        else:
            await asyncio.sleep(max(0.0, self.t0 - time.time()))
            while time.time() < self.t_end:
                while client.outstanding < plan.window:
                    send_one()
                wakeup.clear()
                try:
                    await asyncio.wait_for(wakeup.wait(), 5)
                except TimeoutError:
                    pass

    async def storm(self) -> None:
        """Every receiving client drops at once, then reconnects within ``storm_spread`` s."""
        plan = self.plan
        await asyncio.sleep(max(0.0, self.t0 + plan.storm_at - time.time()))
        victims = self.clients[plan.senders :]
        self.storm_started = time.time()
        for client in victims:
            client.reconnecting = True
            assert client.socket is not None
            client.socket.abort()

        async def back(client: Client) -> None:
            await asyncio.sleep(random.random() * plan.storm_spread)
            for attempt in range(20):
                try:
                    await client.open(since_seq=client.last)
                    break
                except (OSError, ConnectionError, TimeoutError):
                    await asyncio.sleep(0.2 * (attempt + 1))
            client.reconnecting = False

        await asyncio.gather(*(back(c) for c in victims))
        self.storm_done = max(c.caught_up_at for c in victims)

    async def stall(self) -> None:
        """One receiving client stops reading; once cut off it reconnects and catches up."""
        plan = self.plan
        client = self.stall_client
        assert client is not None and client.socket is not None
        await asyncio.sleep(max(0.0, self.t0 + plan.stall_after - time.time()))
        client.socket.pause_reading()
        self.stalled_at = time.time()
        await asyncio.sleep(plan.stall_for)
        client.socket.resume_reading()
        try:
            # A cut-off socket has its close waiting behind what the kernel buffered: reading
            # again finds it at once. One that is still open after this was not cut off.
            await asyncio.wait_for(asyncio.shield(client.socket.closed), 5)
            self.stall_cut_off = True
        except TimeoutError:
            self.stall_cut_off = False
            client.socket.close()
        self.stall_close_codes = list(client.close_codes)
        client.reconnecting = True
        await client.open(since_seq=client.last)
        client.reconnecting = False
        self.stall_caught_up = time.time()


def emit(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


async def read_command(reader: asyncio.StreamReader) -> dict[str, Any]:
    line = await reader.readline()
    if not line:
        raise SystemExit("orchestrator went away")
    return json.loads(line)  # type: ignore[no-any-return]


async def main(plan: Plan) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)

    worker = Worker(plan)
    started = time.time()
    await worker.connect_all()
    emit({"ready": True, "clients": len(worker.clients), "connect_s": time.time() - started})

    command = await read_command(reader)
    worker.t0 = command["go"]
    worker.t_end = worker.t0 + plan.duration
    if plan.mode == "idle":
        await asyncio.sleep(max(0.0, worker.t_end - time.time()))
        emit({"sent": 0, "max_seq": 0})
        await read_command(reader)
        open_sockets = sum(1 for c in worker.clients if c.socket and not c.socket.closed.done())
        emit({"result": {"open": open_sockets, "closes": dict(worker.closes)}})
        for client in worker.clients:
            if client.socket:
                client.socket.close()
        await asyncio.sleep(0.5)
        return

    side_tasks = []
    if plan.mode == "storm":
        side_tasks.append(asyncio.create_task(worker.storm()))
    if plan.mode == "slow":
        worker.stall_client = worker.clients[-1]
        worker.stall_client.record_latency = False
        side_tasks.append(asyncio.create_task(worker.stall()))
    senders = [asyncio.create_task(worker.run_sender(c)) for c in worker.clients[: plan.senders]]
    await asyncio.gather(*senders)
    # Let the last sends be acknowledged before reporting the highest seq.
    deadline = time.time() + 30
    while worker.in_flight and time.time() < deadline:  # noqa: ASYNC110 - acks set no event
        await asyncio.sleep(0.05)
    emit({"sent": worker.sent, "max_seq": worker.max_seq, "unacked": len(worker.in_flight)})

    command = await read_command(reader)
    worker.drain_to = command["drain"]
    await asyncio.gather(*side_tasks)
    worker.drain_waiter = loop.create_future()
    worker.check_drained()
    try:
        await asyncio.wait_for(worker.drain_waiter, 60)
        drained = True
    except TimeoutError:
        drained = False
    final = int(worker.drain_to)
    result: dict[str, Any] = {
        "clients": len(worker.clients),
        "sent": worker.sent,
        "acked": worker.acked,
        "acked_in_window": worker.acked_in_window,
        "deliveries_in_window": worker.deliveries,
        "latency": {str(k): v for k, v in worker.latency.items()},
        "lost": sum(c.missing(final) for c in worker.clients),
        "duplicates": sum(c.duplicates for c in worker.clients),
        "out_of_order": sum(c.out_of_order for c in worker.clients),
        "errors": dict(worker.errors),
        "closes": dict(worker.closes),
        "unexpected_closes": worker.unexpected_closes,
        "unacked": len(worker.in_flight),
        "drained": drained,
    }
    if plan.mode == "storm":
        result["storm_caught_up_s"] = worker.storm_done - worker.storm_started
    if plan.mode == "slow":
        result["stall_cut_off"] = worker.stall_cut_off
        result["stall_close_codes"] = worker.stall_close_codes
        result["stall_caught_up_s"] = worker.stall_caught_up - worker.stalled_at
    emit({"result": result})
    for client in worker.clients:
        client.reconnecting = True
        if client.socket:
            client.socket.close()
    await asyncio.sleep(0.2)


if __name__ == "__main__":
    import uvloop

    with open(sys.argv[1]) as plan_file:
        loaded = Plan(**json.load(plan_file))
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main(loaded))
