"""Sockets that check every frame against the protocol's ordering promises, and floods to feed them.

Shared by the adversarial flood tests: a ``Reader`` keeps one socket's frames and checks them
(seq order per network, no gaps, no repeats outside a fresh backlog, notifications in user_seq
order); ``flood`` sends from several sockets at once with sends in flight.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import socket as pysocket
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import httpx
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.client import ChatUser
from tests.conftest import LiveServer


@dataclass
class NetworkState:
    on: bool = False
    last: int = 0
    pending: deque = field(default_factory=deque)  # since_seq of subscribes sent, in order
    in_backlog: bool = False


class StreamChecker:
    def __init__(self, name: str) -> None:
        self.name = name
        self.networks: dict[int, NetworkState] = {}
        self.user_seq: int | None = None
        self.problems: list[str] = []
        self.frames = 0
        self.duplicates = 0

    def net(self, network_id: int) -> NetworkState:
        return self.networks.setdefault(network_id, NetworkState())

    def sent_subscribe(self, network_id: int, since: int | None) -> None:
        self.net(network_id).pending.append(since)

    def problem(self, text: str) -> None:
        if len(self.problems) < 20:
            self.problems.append(f"{self.name}: {text}")

    def see(self, frame: dict[str, Any]) -> None:
        self.frames += 1
        kind = frame["type"]
        if kind == "welcome":
            self.user_seq = frame["user_seq"]
        elif kind == "event":
            n = self.net(frame["network_id"])
            seq = frame["seq"]
            if not n.on and not n.in_backlog:
                if not n.pending or n.pending[0] is None:
                    self.problem(f"event {frame['network_id']}#{seq} while not subscribed")
                    return
                n.in_backlog = True
                n.last = n.pending[0]
            if seq <= n.last:
                self.duplicates += 1
                if not n.on:
                    self.problem(f"duplicate {frame['network_id']}#{seq} in a fresh backlog")
            elif seq == n.last + 1:
                n.last = seq
            else:
                self.problem(f"gap on {frame['network_id']}: {n.last} then {seq}")
                n.last = seq
        elif kind == "subscribed":
            n = self.net(frame["network_id"])
            since = n.pending.popleft() if n.pending else "?"
            last_seq = frame["last_seq"]
            if n.in_backlog or n.on:
                if n.last < last_seq and not (
                    since is not None and since != "?" and since >= last_seq and not n.on
                ):
                    if not (n.on is False and since is None):
                        self.problem(
                            f"subscribed {frame['network_id']} last_seq={last_seq} "
                            f"but only got to {n.last} (since {since})"
                        )
                if n.last > last_seq:
                    self.problem(
                        f"subscribed {frame['network_id']} last_seq={last_seq} below sent {n.last}"
                    )
            n.on, n.in_backlog, n.last = True, False, last_seq
        elif kind == "unsubscribed":
            n = self.net(frame["network_id"])
            n.on = False
            n.in_backlog = False
        elif kind == "notification":
            seq = frame["user_seq"]
            if self.user_seq is None:
                self.problem("notification before welcome")
                return
            if seq <= self.user_seq:
                self.problem(f"notification user_seq {seq} again (at {self.user_seq})")
            elif seq != self.user_seq + 1:
                self.problem(f"notification gap: {self.user_seq} then {seq}")
            self.user_seq = max(self.user_seq, seq)
        elif kind == "notifications_synced":
            self.user_seq = max(self.user_seq or 0, frame["user_seq"])
        elif kind == "error":
            self.problem(f"error frame {frame}")


FAST = dict(BWT_FRAME_RATE="100000", BWT_FRAME_BURST="100000")
SCALE = int(os.environ.get("ADV_SCALE", "1"))


class Reader:
    def __init__(self, user: ChatUser, name: str) -> None:
        self.user = user
        self.check = StreamChecker(name)
        self.closed: ConnectionClosed | None = None
        self.frames: list[dict] = []

    async def open(self, server_url: str | None = None, rcvbuf: int | None = None) -> Reader:
        base = server_url or self.user.base_url
        cookie = "; ".join(f"{k}={v}" for k, v in self.user.http.cookies.items())
        kwargs: dict = {}
        if rcvbuf:
            tcp = pysocket.socket()
            tcp.setsockopt(pysocket.SOL_SOCKET, pysocket.SO_RCVBUF, rcvbuf)
            host, port = base.split("//")[1].split(":")
            tcp.connect((host, int(port)))
            kwargs = dict(sock=tcp, max_queue=1, compression=None)
        self.ws = await connect(
            base.replace("http", "ws") + "/ws",
            origin=base,
            additional_headers={"Cookie": cookie},
            max_size=2**24,
            **kwargs,
        )
        self.task = asyncio.create_task(self.read())
        return self

    async def read(self) -> None:
        try:
            async for message in self.ws:
                for line in message.split("\n"):
                    frame = json.loads(line)
                    self.frames.append(frame)
                    self.check.see(frame)
        except ConnectionClosed as closed:
            self.closed = closed
        if self.closed is None:
            self.closed = True  # type: ignore[assignment]

    async def subscribe(self, network: int, since: int | None = None) -> None:
        self.check.sent_subscribe(network, since)
        frame = {"type": "subscribe", "network_id": network}
        if since is not None:
            frame["since_seq"] = since
        await self.ws.send(json.dumps(frame))

    async def unsubscribe(self, network: int) -> None:
        await self.ws.send(json.dumps({"type": "unsubscribe", "network_id": network}))

    async def wait_for(self, predicate, timeout: float = 20.0) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        while not predicate():
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(
                    f"{self.check.name}: timed out; last frames {self.frames[-3:]}"
                )
            await asyncio.sleep(0.02)


async def flood(senders, networks, count: int, body_size: int = 40, mention: list[str] = ()) -> int:
    """Each sender socket sends ``count`` messages round-robin over ``networks``; returns acks."""
    acks = 0

    async def one(socket) -> None:
        nonlocal acks
        inflight = asyncio.Semaphore(8)
        pending: set[str] = set()
        done = asyncio.Event()

        async def reader() -> None:
            nonlocal acks
            async for message in socket:
                for line in message.split("\n"):
                    frame = json.loads(line)
                    if (
                        frame["type"] in ("ack", "error")
                        and frame.get("client_id", frame.get("ref")) in pending
                    ):
                        assert frame["type"] == "ack", frame
                        pending.discard(frame.get("client_id", frame.get("ref")))
                        acks += 1
                        inflight.release()
                        if not pending and done.is_set():
                            return

        task = asyncio.create_task(reader())
        for i in range(count):
            await inflight.acquire()
            cid = uuid.uuid4().hex
            pending.add(cid)
            text = f"m{i} " + ("@" + random.choice(mention) + " " if mention and i % 3 == 0 else "")
            text += "x" * max(0, body_size - len(text))
            await socket.send(
                json.dumps(
                    {
                        "type": "send",
                        "network_id": networks[i % len(networks)],
                        "client_id": cid,
                        "body": text,
                    }
                )
            )
        done.set()
        if pending:  # the reader returns with the last ack
            await asyncio.wait([task], timeout=60)
        task.cancel()

    await asyncio.gather(*(one(s) for s in senders))
    return acks


async def raw(user: ChatUser, base: str | None = None):
    base = base or user.base_url
    cookie = "; ".join(f"{k}={v}" for k, v in user.http.cookies.items())
    ws = await connect(
        base.replace("http", "ws") + "/ws",
        origin=base,
        additional_headers={"Cookie": cookie},
        max_size=2**24,
    )
    json.loads((await ws.recv()).split("\n")[0])  # welcome
    return ws


async def last_seqs(user: ChatUser, networks: list[int]) -> dict[int, int]:
    out = {}
    for n in networks:
        r = await user.api("GET", f"/api/networks/{n}/messages", params={"before_seq": 2**31 - 1})
        messages = r.json()["messages"]
        out[n] = max((m["seq"] for m in messages), default=0)
    return out


EXPECTED = re.compile(r"fell \d+ events behind|^\s*$")


def server_log_problems(server: LiveServer) -> list[str]:
    """Lines of the server's log that look like errors or tracebacks (not the expected ones)."""
    server.log.flush()
    text = (server.workdir / f"server-{server.port}.log").read_text(errors="replace")
    return [
        line
        for line in text.splitlines()
        if ("Traceback" in line or "Error" in line or "ERROR" in line or "Exception" in line)
        and not EXPECTED.search(line)
    ]


def open_sockets(server: LiveServer) -> float:
    text = httpx.get(server.url + "/metrics").text
    match = re.search(r"^bwt_open_websockets (\S+)$", text, re.M)
    assert match, text[:500]
    return float(match.group(1))


async def members_of_networks(
    server: LiveServer, count: int, networks: int
) -> tuple[list[ChatUser], list[int]]:
    """``count`` registered users who all joined the first ``networks`` networks; their ids."""
    users = [await ChatUser(server.url, f"user{i}").register() for i in range(count)]
    listed = (await users[0].api("GET", "/api/networks")).json()
    slugs = [network["slug"] for network in listed][:networks]
    ids = [await users[0].join(slug) for slug in slugs]
    for user in users[1:]:
        for slug in slugs:
            await user.join(slug)
    return users, ids


async def ends_clean(servers: list[LiveServer], users: list[ChatUser], within: float = 10) -> None:
    """Every socket gone on every server (the open-socket gauge back at 0, polled for up to
    ``within`` seconds) and nothing in their logs but the expected lines; then log out users."""
    for _ in range(int(within / 0.2)):
        if all(open_sockets(server) == 0 for server in servers):
            break
        await asyncio.sleep(0.2)
    for server in servers:
        assert open_sockets(server) == 0
        assert not server_log_problems(server), server_log_problems(server)
    for user in users:
        await user.aclose()


async def churn(
    reader: Reader,
    networks: list[int],
    stop: asyncio.Event,
    pause: tuple[float, float],
    resubscribe_while_on: bool,
) -> None:
    """Until ``stop``: unsubscribe from a network and subscribe again with ``since_seq`` (and,
    if asked, subscribe again while still subscribed), at random moments ``pause`` apart."""
    rnd = random.Random(reader.check.name)
    while not stop.is_set():
        await asyncio.sleep(rnd.uniform(*pause))
        network = rnd.choice(networks)
        state = reader.check.net(network)
        if state.pending:
            continue
        action = rnd.random() if resubscribe_while_on else 0.0
        if action < 0.4 and state.on:
            await reader.unsubscribe(network)
            await asyncio.sleep(rnd.uniform(0, 0.02) if resubscribe_while_on else 0)
            await reader.subscribe(network, state.last)
        elif action < 0.7 and resubscribe_while_on:
            await reader.subscribe(network, state.last)
