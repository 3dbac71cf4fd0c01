"""Events framed once and written to every plain socket as is (chat.wire), through real uvicorn."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import uvicorn
from websockets.asyncio.client import connect

from chat import wire
from tests.conftest import free_port


class ProbeApp:
    """A bare ASGI WebSocket endpoint that writes one pre-framed message if it may."""

    def __init__(self) -> None:
        self.plain: list[bool] = []

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "websocket":
            return
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        protocol = wire.plain_socket(send)
        self.plain.append(protocol is not None)
        text = "straight to the transport: één ✓"
        if protocol is None or not wire.write_framed(protocol, wire.text_frame(text)):
            await send({"type": "websocket.send", "text": text})
        while (await receive())["type"] != "websocket.disconnect":
            pass


@pytest.fixture
async def probe_server() -> AsyncIterator[tuple[ProbeApp, int]]:
    app = ProbeApp()
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, port=port, log_level="warning", lifespan="off"))
    serving = asyncio.create_task(server.serve())
    for _ in range(500):  # uvicorn has no event to wait on
        if server.started:
            break
        await asyncio.sleep(0.01)
    assert server.started, "uvicorn did not start within 5 s"
    yield app, port
    server.should_exit = True
    await serving


async def test_uvicorn_plain_sockets_take_frames_as_is_and_deflate_ones_do_not(
    probe_server: tuple[ProbeApp, int],
) -> None:
    """If a uvicorn upgrade renamed what chat.wire reads, every event would silently go the
    slow way again: this fails instead."""
    app, port = probe_server
    async with connect(f"ws://127.0.0.1:{port}/", compression=None) as plain:
        assert await asyncio.wait_for(plain.recv(), 5) == "straight to the transport: één ✓"
    async with connect(f"ws://127.0.0.1:{port}/") as deflate:
        assert await asyncio.wait_for(deflate.recv(), 5) == "straight to the transport: één ✓"
    assert app.plain == [True, False]


async def test_plain_and_compressing_sockets_get_the_same_events_in_order(users) -> None:
    anna, bram = await users("anna"), await users("bram")
    network = await anna.join("recreatieparken")
    await bram.join("recreatieparken")
    plain = await bram.connect(compression=None)
    deflate = await bram.connect()
    await plain.subscribe(network)
    await deflate.subscribe(network)
    sender = await anna.connect()
    bodies = [f"Bericht {n}: één café, ✓ {'x' * (1 + n * 40)}" for n in range(12)]
    for body in bodies:
        assert (await sender.send_message(network, body))["type"] == "ack"
    for socket in (plain, deflate):
        got = [(await socket.expect("event"))["message"]["body"] for _ in bodies]
        assert got == bodies
