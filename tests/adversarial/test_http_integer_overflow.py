"""Integers too big for the database must be a 400 invalid_request, not a plain-text 500."""

from __future__ import annotations

import pytest

from tests.client import ChatUser

HUGE = str(10**30)


@pytest.mark.parametrize(
    "path",
    [
        "/api/networks/{id}/messages?before_seq=" + HUGE,
        "/api/networks/{id}/messages?after_seq=" + HUGE,
        "/api/networks/{id}/messages?around_seq=" + str(2**63),
        "/api/mentions?before_id=" + HUGE,
        "/api/networks/" + HUGE + "/messages",
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
