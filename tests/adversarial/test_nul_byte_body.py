"""A NUL character in a message body: the same answer on every stack (SQLite stores it today)."""

from __future__ import annotations

import json

from tests.client import ChatUser


async def test_nul_in_body_is_refused_or_stored_the_same_on_every_stack(users) -> None:
    anna: ChatUser = await users("anna")
    network = await anna.join("asbest")
    socket = await anna.connect()
    await socket.send(
        json.dumps(
            {
                "type": "send",
                "network_id": network,
                "client_id": "nul-byte-01",
                "body": "a\0b",
            }
        )
    )
    reply = await socket.receive()
    while reply["type"] not in ("ack", "error"):
        reply = await socket.receive()
    # Either refuse it with a stable code, or store it; never "the server failed".
    assert reply.get("code") != "internal_error", reply
