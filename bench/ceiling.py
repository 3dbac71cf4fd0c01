"""The physical ceiling: a bare uvicorn WebSocket broadcast endpoint, no auth, database or broker.

It answers the same frames as BWT Chat (``welcome``, ``subscribe`` → ``subscribed``, ``send`` →
an ``event`` of the same shape and size to every subscriber, then ``ack``) so the load generator
drives both the same way. Whatever BWT Chat does beyond this is its own cost.

Like the hub, it sends the events that queue while it is writing as one WebSocket message, a
frame per line (docs/protocol.md): one writer for every socket, so under load each write
carries a burst. Without it the hub, which does this, measured 2.6 times this endpoint's
deliveries/s, which made it no ceiling.

Over HTTP it answers every GET with the bytes of ``--page`` (a history page the real server
served): the floor under BWT Chat's history requests.

    python -m bench.ceiling --port 9100 [--page page.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
from datetime import UTC, datetime
from typing import Any

import uvicorn

subscribers: set[Any] = set()
seq = 0
#: what every HTTP GET answers (--page); None: 404
page: bytes | None = None


#: events waiting for the writer, and the future their senders wait on until they are written
pending: list[str] = []
pending_written: asyncio.Future[None] | None = None
writing = False


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


async def broadcast(text: str) -> None:
    """Queue one event for every subscriber; return once it has been written to them all."""
    global pending_written, writing
    loop = asyncio.get_running_loop()
    pending.append(text)
    if pending_written is None:
        pending_written = loop.create_future()
    written = pending_written
    if not writing:
        writing = True
        loop.create_task(write_pending())
    await written


async def write_pending() -> None:
    """The one writer: each pass sends what queued during the last, in order, to everyone."""
    global pending_written, writing
    try:
        while pending:
            text = "\n".join(pending)
            pending.clear()
            written, pending_written = pending_written, None
            for subscriber in list(subscribers):
                try:
                    await subscriber({"type": "websocket.send", "text": text})
                except Exception:
                    subscribers.discard(subscriber)
            assert written is not None
            written.set_result(None)
    finally:
        writing = False


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    global seq
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "websocket":
        status = 404 if page is None else 200
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": page or b""})
        return
    await receive()  # websocket.connect
    await send({"type": "websocket.accept"})
    await send({"type": "websocket.send", "text": dumps({"type": "welcome", "user_id": 0})})
    try:
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                return
            frame = json.loads(message["text"])
            if frame["type"] == "subscribe":
                subscribers.add(send)
                reply = {"type": "subscribed", "network_id": frame["network_id"], "last_seq": seq}
                await send({"type": "websocket.send", "text": dumps(reply)})
            elif frame["type"] == "send":
                seq += 1
                event = {
                    "type": "event",
                    "network_id": frame["network_id"],
                    "seq": seq,
                    "kind": "message.created",
                    "message": {
                        "id": seq,
                        "network_id": frame["network_id"],
                        "seq": seq,
                        "client_id": frame["client_id"],
                        "body": frame["body"],
                        "html": f"<p>{frame['body']}</p>",
                        "kind": "message",
                        "created_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
                        "author": {
                            "id": 1,
                            "username": "bench00000",
                            "display_name": "Bench 0",
                            "organisation": {"name": "Gemeente Bench", "type": "gemeente"},
                        },
                        "mentions": [],
                        "permalink": f"/n/bench/m/{seq}",
                    },
                }
                await broadcast(dumps(event))  # serialised once per fan-out, like the hub
                ack = {
                    "type": "ack",
                    "client_id": frame["client_id"],
                    "network_id": frame["network_id"],
                    "message_id": seq,
                    "seq": seq,
                    "duplicate": False,
                    "unnotified_mentions": [],
                }
                await send({"type": "websocket.send", "text": dumps(ack)})
            elif frame["type"] == "ping":
                await send({"type": "websocket.send", "text": '{"type":"pong"}'})
    finally:
        subscribers.discard(send)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--page", help="a file whose bytes every HTTP GET answers")
    arguments = parser.parse_args()
    if arguments.page:
        with open(arguments.page, "rb") as file:
            page = file.read()
    uvicorn.run(app, host="127.0.0.1", port=arguments.port, log_level="warning", ws_max_size=65536)
