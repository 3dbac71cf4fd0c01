"""Lone surrogates sent as JSON escapes ("\\ud800") get a clear error; the socket stays open."""

from __future__ import annotations

import json

from tests.client import ChatUser


async def test_lone_surrogate_client_id_gets_an_error_and_the_socket_stays_open(
    users,
) -> None:
    anna: ChatUser = await users("anna")
    network = await anna.join("asbest")
    socket = await anna.connect()
    # json.dumps escapes the lone surrogate as \\ud800, as a hostile client would send it.
    await socket.send(
        json.dumps(
            {
                "type": "send",
                "network_id": network,
                "client_id": "\ud800abcdefgh",
                "body": "x",
            }
        )
    )
    error = await socket.expect("error")
    assert error["code"] == "invalid_client_id"
    await socket.send({"type": "ping"})
    await socket.expect("pong")


async def test_lone_surrogate_in_body_is_an_invalid_frame_not_a_server_failure(
    users,
) -> None:
    anna: ChatUser = await users("anna")
    network = await anna.join("asbest")
    socket = await anna.connect()
    await socket.send(
        json.dumps(
            {
                "type": "send",
                "network_id": network,
                "client_id": "surrogate-01",
                "body": "a \ud800",
            }
        )
    )
    error = await socket.expect("error")
    assert error["code"] == "invalid_frame", error  # today: internal_error ("may be retried")


async def test_lone_surrogate_in_body_over_http_is_a_json_4xx(users) -> None:
    anna: ChatUser = await users("anna")
    network = await anna.join("asbest")
    response = await anna.api(
        "POST",
        f"/api/networks/{network}/messages",
        content='{"client_id": "surrogate-02", "body": "a\\ud800"}',
        headers={"content-type": "application/json"},
    )
    assert 400 <= response.status_code < 500, (
        response.status_code,
        response.text[:200],
    )
    assert response.json()["error"]["code"] in {"invalid_request", "invalid_frame"}
