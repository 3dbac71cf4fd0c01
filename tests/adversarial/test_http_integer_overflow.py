"""Integers too big for the database must be a clear error, not a plain-text 500.

Ids are PostgreSQL ``integer`` columns: 2**31 already names nothing there, and reaching the
database with it would fail (in a group commit, for every send of the batch)."""

from __future__ import annotations

import pytest

from tests.client import ChatUser

HUGE = str(10**30)
#: one past PostgreSQL's integer
PAST_INT4 = str(2**31)


@pytest.mark.parametrize(
    "path",
    [
        "/api/networks/{id}/messages?before_seq=" + HUGE,
        "/api/networks/{id}/messages?after_seq=" + HUGE,
        "/api/networks/{id}/messages?around_seq=" + str(2**63),
        "/api/mentions?before_id=" + HUGE,
        "/api/networks/" + HUGE + "/messages",
        "/api/networks/" + PAST_INT4 + "/messages",
        "/api/networks/" + PAST_INT4 + "/questions",
        "/api/messages/" + PAST_INT4 + "/thread",
        "/api/search?q=asbest&network_id=" + PAST_INT4,
        "/api/networks/{id}/questions?before_id=" + PAST_INT4,
    ],
)
async def test_huge_integer_in_query_or_path_is_a_clean_error(users, path: str) -> None:
    anna: ChatUser = await users("anna")
    network = await anna.join("asbest")
    response = await anna.api("GET", path.format(id=network))
    assert response.status_code in (400, 404), (
        response.status_code,
        response.text[:200],
    )
    assert response.headers["content-type"].startswith("application/json")
    assert "error" in response.json()


async def test_huge_id_in_mark_read_is_a_clean_error(users) -> None:
    anna: ChatUser = await users("anna")
    response = await anna.api("POST", "/api/mentions/read", json={"ids": [10**30]})
    assert response.status_code == 400, (response.status_code, response.text[:200])
    assert response.json()["error"]["code"] == "invalid_request"


async def test_deeply_nested_json_is_invalid_json_not_a_500(users) -> None:
    anna: ChatUser = await users("anna")
    network = await anna.join("asbest")
    response = await anna.api(
        "POST",
        f"/api/networks/{network}/messages",
        content="[" * 100_000 + "]" * 100_000,
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 400, (response.status_code, response.text[:200])
    socket = await anna.connect()
    await socket.send("[" * 5000 + "]" * 5000)
    assert (await socket.expect("error"))["code"] == "invalid_json"


async def test_ids_past_the_database_integer_get_errors_and_do_not_fail_others_sends(
    users,
) -> None:
    anna: ChatUser = await users("anna")
    bram: ChatUser = await users("bram")
    network = await anna.join("asbest")
    await bram.join("asbest")
    hostile = await bram.connect()
    honest = await anna.connect()
    await honest.send({"type": "subscribe", "network_id": network})
    await honest.expect("subscribed")
    await hostile.send({"type": "subscribe", "network_id": 2**31})
    assert (await hostile.expect("error"))["code"] == "invalid_frame"
    # Sends that would share a group commit with the honest ones.
    for i in range(5):
        await hostile.send(
            {"type": "send", "network_id": 2**31, "client_id": f"poison-{i:04d}", "body": "x"}
        )
        await hostile.send(
            {
                "type": "send",
                "network_id": network,
                "client_id": f"reply-{i:04d}",
                "body": "x",
                "thread_root_id": 2**31,
            }
        )
        await honest.send(
            {"type": "send", "network_id": network, "client_id": f"honest-{i:04d}", "body": "ok"}
        )
    for _ in range(10):
        assert (await hostile.expect("error"))["code"] == "invalid_frame"
    acks = [await honest.expect("ack") for _ in range(5)]
    assert [ack["client_id"] for ack in acks] == [f"honest-{i:04d}" for i in range(5)]
    page = (await anna.api("GET", f"/api/networks/{network}/messages")).json()
    assert [m["client_id"] for m in page["messages"]] == [f"honest-{i:04d}" for i in range(5)]
