"""Threads across two server processes sharing PostgreSQL and Redis: replies, reply
notifications and accepted answers arrive live on the other process and replay on catch-up."""

from __future__ import annotations

import uuid

import pytest

from tests.client import ChatUser

pytestmark = pytest.mark.parametrize("stack", ["postgres-redis"], indirect=True)


async def test_thread_updates_cross_processes_live_and_on_catch_up(start_server) -> None:
    first, second = start_server(), start_server()
    anna = await ChatUser(first.url, "anna").register()
    bram = await ChatUser(second.url, "bram").register()
    try:
        network = await anna.join("recreatieparken")
        await bram.join("recreatieparken")
        anna_socket = await anna.connect()  # on the first process
        await anna_socket.subscribe(network)
        bram_socket = await bram.connect()  # on the second process
        await bram_socket.subscribe(network)

        await anna_socket.send(
            {"type": "send", "network_id": network, "client_id": uuid.uuid4().hex,
             "body": "Mag een chalet permanent bewoond worden?", "kind": "question"}
        )  # fmt: skip
        question = (await bram_socket.expect("event"))["message"]
        assert question["kind"] == "question"

        sent = await bram.api(
            "POST",
            f"/api/networks/{network}/messages",
            json={"client_id": uuid.uuid4().hex, "body": "Nee.", "thread_root_id": question["id"]},
        )
        reply = sent.json()["message"]
        event = await anna_socket.expect("event", seq=reply["seq"])
        assert event["thread"]["root_id"] == question["id"]
        assert event["thread"]["reply_count"] == 1
        notification = await anna_socket.expect("notification")
        assert notification["notification"]["kind"] == "reply"

        thread = (await anna.api("GET", f"/api/messages/{question['id']}/thread")).json()
        assert [r["id"] for r in thread["replies"]] == [reply["id"]] and thread["can_accept"]
        accepted = await anna.api(
            "POST", f"/api/messages/{question['id']}/accept", json={"answer_id": reply["id"]}
        )
        assert accepted.status_code == 200, accepted.text
        answered = await bram_socket.expect("event", kind="question.answered")
        assert answered["message"]["accepted_answer"]["id"] == reply["id"]
        refused = await bram.api(
            "POST", f"/api/messages/{question['id']}/accept", json={"answer_id": None}
        )
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "not_allowed"

        # A client that comes back on the other process replays both events from SQL.
        moved = ChatUser(second.url, "anna")
        moved.http.cookies.update(anna.http.cookies)
        socket = await moved.connect()
        backlog = await socket.subscribe(network, since_seq=question["seq"])
        assert [e["kind"] for e in backlog] == ["message.created", "question.answered"]
        await moved.aclose()
    finally:
        await anna.aclose()
        await bram.aclose()
