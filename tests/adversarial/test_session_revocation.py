"""After log-out, the session cookie that was in use must no longer authenticate."""

from __future__ import annotations

import httpx
from websockets.exceptions import ConnectionClosed

from tests.client import ChatUser, make_admin


async def test_cookie_copied_before_logout_is_dead_after_logout(users, live_server) -> None:
    anna: ChatUser = await users("anna")
    stolen = dict(anna.http.cookies)
    assert (await anna.http.post("/logout")).status_code == 303

    async with httpx.AsyncClient(base_url=live_server.url, cookies=stolen) as thief:
        response = await thief.get("/api/me")
    assert response.status_code == 401, "the old session cookie still works after log-out"


async def test_open_socket_is_closed_at_logout(users) -> None:
    anna: ChatUser = await users("anna")
    socket = await anna.connect()
    assert (await anna.http.post("/logout")).status_code == 303
    try:
        frames = await socket.nothing_for(2)
    except ConnectionClosed as closed:
        assert closed.rcvd is not None and closed.rcvd.code == 4401
        return
    raise AssertionError(f"socket stayed open after log-out; got {frames}")


async def test_cookie_copied_before_logout_reads_no_history(users, live_server) -> None:
    """The history route reads the user and the page in one hop; the page must still be dropped
    for a dead cookie, and a page the user may not read must not answer 404 instead of 401."""
    admin = await make_admin(live_server, "beheerder")
    private = await admin.create_private_network("dicht", "Dicht")
    anna: ChatUser = await users("anna")
    public = await anna.join("recreatieparken")
    socket = await anna.connect()
    await socket.send_message(public, "nog voor het uitloggen")
    path = f"/api/networks/{public}/messages"
    assert [m["body"] for m in (await anna.api("GET", path)).json()["messages"]] == [
        "nog voor het uitloggen"
    ]
    stolen = dict(anna.http.cookies)
    assert (await anna.http.post("/logout")).status_code == 303

    async with httpx.AsyncClient(base_url=live_server.url, cookies=stolen) as thief:
        for network in (public, private):
            response = await thief.get(f"/api/networks/{network}/messages")
            assert response.status_code == 401, response.text
            assert "nog voor het uitloggen" not in response.text
