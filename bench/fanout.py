"""The hub's own CPU per delivery, in-process: the broker's fan-out into real hub connections
whose transport is a stub, against a plain loop over the same sends (what the ceiling does).

No sockets, no kernel: what is left is what the hub itself costs to hand an event to a socket.

    python -m bench.fanout [--sockets 1000] [--events 200] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from contextlib import AsyncExitStack
from types import SimpleNamespace
from typing import Any

import uvloop

from channels import Broker
from chat import hub


class StubWebSocket:
    """What a Connection reads of its Starlette WebSocket."""

    def __init__(self) -> None:
        self.scope: dict[str, Any] = {hub.TRANSPORT_SEND: stub_send}
        self.application_state = hub.WebSocketState.CONNECTED


async def stub_send(message: dict[str, Any]) -> None:
    """The server's ASGI send, minus the framing and the kernel write."""


def event(seq: int) -> str:
    message = {"body": "x" * 500, "html": "<p>" + "x" * 500 + "</p>"}
    frame = {"type": "event", "network_id": 1, "seq": seq, "kind": "message.created"}
    return json.dumps({**frame, "message": message})


async def hub_us_per_delivery(sockets: int, events: int) -> float:
    settings = SimpleNamespace(frame_rate=20, frame_burst=60, send_timeout_seconds=10)
    services = SimpleNamespace(settings=settings)
    write_round = hub.WriteRound()
    connections = []
    async with Broker("memory://") as broker, AsyncExitStack() as stack:
        for user_id in range(sockets):
            subscriber = await stack.enter_async_context(broker.subscriber(1000))
            await subscriber.add_topic("network:1")
            user = hub.SocketUser(user_id, "bench", "Bench", False, 0)
            connection = hub.Connection(
                StubWebSocket(),  # type: ignore[arg-type]
                services,  # type: ignore[arg-type]
                user,
                subscriber,
                write_round,
            )
            connection.sent_seq[1] = 0
            connection.reading = True
            subscriber.when_ready(connection.start_writer)
            connections.append(connection)
        frames = [event(seq) for seq in range(1, events + 1)]
        started = time.process_time()
        for frame in frames:
            broker._fan_out("network:1", frame)
            await asyncio.sleep(0)  # the write round
            await asyncio.sleep(0)  # and any writer task it started
        elapsed = time.process_time() - started
    if any(connection.sent_seq[1] != events for connection in connections):
        raise SystemExit("FAILED: a socket did not get every event")
    return elapsed / (sockets * events) * 1e6


async def loop_us_per_delivery(sockets: int, events: int) -> float:
    sends = [stub_send] * sockets
    frames = [event(seq) for seq in range(1, events + 1)]
    started = time.process_time()
    for frame in frames:
        for send in sends:
            await send({"type": "websocket.send", "text": frame})
        await asyncio.sleep(0)
    return (time.process_time() - started) / (sockets * events) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sockets", type=int, default=1000)
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    arguments = parser.parse_args()
    for run in range(1, arguments.runs + 1):
        figures = {
            "scenario": "fanout-in-process",
            "run": run,
            "sockets": arguments.sockets,
            "events": arguments.events,
            "hub_us_per_delivery": round(
                uvloop.run(hub_us_per_delivery(arguments.sockets, arguments.events)), 2
            ),
            "plain_loop_us_per_delivery": round(
                uvloop.run(loop_us_per_delivery(arguments.sockets, arguments.events)), 2
            ),
        }
        print(json.dumps(figures), flush=True)


if __name__ == "__main__":
    main()
