"""A client that stops reading is cut off (4001) without stalling anyone else, and catches up."""

from __future__ import annotations

import asyncio
import socket

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.client import Socket


async def test_stalled_client_is_cut_off_and_others_get_everything(start_server) -> None:
    server = start_server(
        BWT_SOCKET_QUEUE_SIZE="10",
        BWT_SEND_TIMEOUT_SECONDS="1",
        BWT_FRAME_RATE="10000",
        BWT_FRAME_BURST="10000",
        BWT_MAX_BODY_CHARS="50000",
    )
    anna, bram, carla = [await server.user(n).register() for n in ("anna", "bram", "carla")]
    network = await anna.join("asbest")
    for user in (bram, carla):
        await user.join("asbest")
    reader = await bram.connect()
    await reader.subscribe(network)

    cookie = "; ".join(f"{k}={v}" for k, v in carla.http.cookies.items())
    # A small fixed receive buffer (no kernel autotuning) and max_queue=1: the client library
    # stops reading from TCP as soon as one frame waits, as a frozen browser tab would.
    tcp = socket.socket()
    tcp.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
    tcp.connect(("127.0.0.1", server.port))
    stalled = Socket(
        await connect(
            server.url.replace("http", "ws") + "/ws",
            sock=tcp,
            origin=server.url,  # type: ignore[arg-type]
            additional_headers={"Cookie": cookie},
            max_queue=1,
            compression=None,  # else 100 kB of "x" shrink to nothing and fit every buffer
        )
    )
    await stalled.expect("welcome")
    await stalled.subscribe(network)

    async def read_all() -> list[dict]:
        return [await reader.expect("event", timeout=30) for _ in range(total)]

    total = 150
    reading = asyncio.create_task(read_all())
    sender = await anna.connect()
    # 300 events of ~100 kB: more than the kernel and library buffers hold for a stalled reader.
    body = "x" * 50000
    for i in range(total):
        await sender.send(
            {"type": "send", "network_id": network, "client_id": f"slow-{i:05d}", "body": body}
        )
    acks = 0
    while acks < total:
        if (await sender.receive(20))["type"] == "ack":
            acks += 1

    received = await reading
    assert [e["seq"] for e in received] == list(range(1, total + 1))

    got_before_close = []
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            got_before_close.append(await stalled.receive(20))
    # 4001 when the close frame still fits in the buffers; a stalled reader may never take it,
    # and then the server drops the connection without one (1006). Either way it is cut off.
    assert closed.value.rcvd is None or closed.value.rcvd.code == 4001
    last_seq = max((f["seq"] for f in got_before_close if f["type"] == "event"), default=0)
    assert last_seq < total, "it was cut off before it had everything"

    again = await carla.connect()
    backlog = await again.subscribe(network, since_seq=last_seq)
    assert [e["seq"] for e in backlog] == list(range(last_seq + 1, total + 1))
    for user in (anna, bram, carla):
        await user.aclose()
