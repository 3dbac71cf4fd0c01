"""The WebSocket protocol against a real server process, on SQLite+memory and PostgreSQL+Redis."""

from __future__ import annotations

import asyncio
import re

import pytest
from websockets.exceptions import ConnectionClosed

from tests.client import ChatUser, make_admin


async def history(user: ChatUser, network_id: int, **params: int) -> list[dict]:
    response = await user.api("GET", f"/api/networks/{network_id}/messages", params=params)
    assert response.status_code == 200, response.text
    return response.json()["messages"]


async def test_message_reaches_every_open_client_in_the_same_order(users) -> None:
    anna, bram = await users("anna"), await users("bram")
    network = await anna.join("woonoverlast")
    await bram.join("woonoverlast")
    anna_socket, bram_socket = await anna.connect(), await bram.connect()
    await anna_socket.subscribe(network)
    await bram_socket.subscribe(network)

    for i in range(5):
        ack = await (anna_socket if i % 2 else bram_socket).send_message(network, f"bericht {i}")
        assert ack["type"] == "ack" and ack["duplicate"] is False

    for socket in (anna_socket, bram_socket):
        events = [f for f in socket.seen if f["type"] == "event"]
        while len(events) < 5:
            events.append(await socket.expect("event"))
        assert [e["seq"] for e in events] == [1, 2, 3, 4, 5]
        assert [e["message"]["body"] for e in events] == [f"bericht {i}" for i in range(5)]
        assert events[0]["message"]["author"]["organisation"]["name"] == "Gemeente Utrecht"


async def test_ack_comes_after_the_message_is_stored(users) -> None:
    anna = await users("anna")
    network = await anna.join("asbest")
    socket = await anna.connect()
    ack = await socket.send_message(network, "Wie heeft ervaring met asbestdaken?")
    stored = await history(anna, network)
    assert [(m["id"], m["seq"]) for m in stored] == [(ack["message_id"], ack["seq"])]


async def test_retried_send_with_the_same_client_id_is_stored_once(users) -> None:
    anna = await users("anna")
    network = await anna.join("asbest")
    socket = await anna.connect()
    first = await socket.send_message(network, "één keer", client_id="retry-0001")
    again = await socket.send_message(network, "één keer", client_id="retry-0001")
    assert again["duplicate"] is True
    assert again["message_id"] == first["message_id"] and again["seq"] == first["seq"]
    assert len(await history(anna, network)) == 1


async def test_sends_in_flight_on_one_socket_keep_their_order(users) -> None:
    anna = await users("anna")
    network = await anna.join("asbest")
    socket = await anna.connect()
    client_ids = [f"flight-{i:04d}" for i in range(12)]
    bodies = {cid: f"bericht {cid}" for cid in client_ids}
    bodies["flight-0005"] = "x" * 5000  # refused on its own; the others are stored
    for cid in client_ids:
        await socket.send(
            {"type": "send", "network_id": network, "client_id": cid, "body": bodies[cid]}
        )
    answers = {}
    while len(answers) < len(client_ids):
        frame = await socket.receive()
        if frame["type"] in ("ack", "error"):
            answers[frame.get("client_id") or frame.get("ref")] = frame
    assert answers.pop("flight-0005")["code"] == "body_too_long"
    stored = [cid for cid in client_ids if cid in answers]
    assert [answers[cid]["seq"] for cid in stored] == list(range(1, 12))
    assert [m["client_id"] for m in await history(anna, network)] == stored


async def test_a_burst_arrives_in_order_in_fewer_websocket_messages(users) -> None:
    anna, bram = await users("anna"), await users("bram")
    network = await anna.join("asbest")
    await bram.join("asbest")
    bram_socket = await bram.connect()
    await bram_socket.subscribe(network)
    anna_socket = await anna.connect()
    # Sends in flight together are stored in one batch and published together: Bram's socket
    # gets them as a burst, several frames to a message, one per line.
    for i in range(40):
        await anna_socket.send(
            {"type": "send", "network_id": network, "client_id": f"burst-{i:04d}", "body": f"{i}"}
        )
    messages_before = bram_socket.messages
    events = [await bram_socket.expect("event") for _ in range(40)]
    assert [e["message"]["body"] for e in events] == [str(i) for i in range(40)]
    assert [e["seq"] for e in events] == list(range(1, 41))
    assert bram_socket.messages - messages_before < 40


async def test_reconnect_with_last_seq_gets_exactly_the_missed_messages(users) -> None:
    anna, bram = await users("anna"), await users("bram")
    network = await anna.join("recreatieparken")
    await bram.join("recreatieparken")
    bram_socket = await bram.connect()
    await bram_socket.subscribe(network)
    anna_socket = await anna.connect()
    await anna_socket.subscribe(network)
    await anna_socket.send_message(network, "voor de onderbreking")
    last_seen = (await bram_socket.expect("event"))["seq"]
    await bram_socket.close()

    for i in range(7):
        await anna_socket.send_message(network, f"gemist {i}")

    bram_again = await bram.connect()
    backlog = await bram_again.subscribe(network, since_seq=last_seen)
    assert [e["seq"] for e in backlog] == list(range(last_seen + 1, last_seen + 8))
    assert [e["message"]["body"] for e in backlog] == [f"gemist {i}" for i in range(7)]
    await anna_socket.send_message(network, "weer live")
    live = await bram_again.expect("event")
    assert live["seq"] == last_seen + 8


async def test_a_long_backlog_arrives_whole_and_in_order_in_bounded_messages(users) -> None:
    anna, bram = await users("anna"), await users("bram")
    network = await anna.join("recreatieparken")
    await bram.join("recreatieparken")
    anna_socket = await anna.connect()
    # 40 long messages: more than one WebSocket message holds (MAX_MESSAGE_BYTES).
    report = "Verslag van de controle op de recreatieparken. " * 85
    bodies = [f"{i:02d} {report}"[:4000].strip() for i in range(40)]
    for body in bodies:
        assert (await anna_socket.send_message(network, body))["type"] == "ack"

    bram_socket = await bram.connect()
    messages_before = bram_socket.messages
    backlog = await bram_socket.subscribe(network, since_seq=0)
    assert [e["message"]["body"] for e in backlog] == bodies
    assert [e["seq"] for e in backlog] == list(range(1, 41))
    # Together, a frame per line, yet split: each frame holds its body twice (text and HTML),
    # so 40 of them are over 300,000 characters, several messages of at most 65,536.
    assert 5 <= bram_socket.messages - messages_before < 40


async def test_mention_notifies_the_member_once_and_nobody_else(users) -> None:
    anna, bram, carla = await users("anna"), await users("bram"), await users("carla")
    network = await anna.join("omgevingswet")
    await bram.join("omgevingswet")
    bram_socket, carla_socket = await bram.connect(), await carla.connect()
    anna_socket = await anna.connect()

    ack = await anna_socket.send_message(
        network, "@bram en nog eens @Bram, en @anna zelf. `@bram` in code telt niet. @carla?"
    )
    assert ack["unnotified_mentions"] == ["carla"], "carla is no member: the author is told"
    notification = await bram_socket.expect("notification")
    assert notification["notification"]["message"]["id"] == ack["message_id"]
    assert notification["notification"]["network"]["slug"] == "omgevingswet"
    assert await bram_socket.nothing_for(0.5) == [], "exactly one notification per message"
    assert not [f for f in await carla_socket.nothing_for(0.3) if f["type"] == "notification"]
    assert not [f for f in await anna_socket.nothing_for(0.3) if f["type"] == "notification"]
    inbox = (await anna.api("GET", "/api/mentions")).json()
    assert inbox == {"mentions": [], "unread": 0}


async def test_mention_in_a_quote_notifies_nobody(users) -> None:
    anna, bram = await users("anna"), await users("bram")
    network = await anna.join("omgevingswet")
    await bram.join("omgevingswet")
    anna_socket = await anna.connect()
    await anna_socket.send_message(network, "> @bram schreef dit eerder\n\nklopt dat?")
    assert (await bram.api("GET", "/api/mentions")).json()["unread"] == 0


async def test_offline_member_finds_mentions_in_the_inbox_and_the_backlog(users) -> None:
    anna, bram = await users("anna"), await users("bram")
    network = await anna.join("handhaving")
    await bram.join("handhaving")
    anna_socket = await anna.connect()
    ack = await anna_socket.send_message(network, "@bram kun je hiernaar kijken?")

    inbox = (await bram.api("GET", "/api/mentions")).json()
    assert inbox["unread"] == 1
    assert inbox["mentions"][0]["message"]["permalink"] == f"/n/handhaving/m/{ack['seq']}"
    assert inbox["mentions"][0]["read"] is False

    bram_socket = await bram.connect()
    await bram_socket.send({"type": "sync_notifications", "since_user_seq": 0})
    missed = await bram_socket.expect("notification")
    assert missed["notification"]["message"]["body"] == "@bram kun je hiernaar kijken?"
    synced = await bram_socket.expect("notifications_synced")
    assert synced["user_seq"] == missed["user_seq"]

    response = await bram.api("POST", "/api/mentions/read", json={"all": True})
    assert response.json() == {"unread": 0}
    assert (await bram.api("GET", "/api/mentions")).json()["mentions"][0]["read"] is True


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("{not json", "invalid_json"),
        ("[1, 2]", "invalid_json"),
        ('{"type": "shout"}', "unknown_type"),
        ('{"no_type": 1}', "unknown_type"),
        ('{"type": "subscribe"}', "invalid_frame"),
        ('{"type": "subscribe", "network_id": "1"}', "invalid_frame"),
        ('{"type": "subscribe", "network_id": true}', "invalid_frame"),
        ('{"type": "subscribe", "network_id": 99999}', "network_not_found"),
        ('{"type": "send", "network_id": 1, "client_id": "abcdefgh", "body": 5}', "invalid_frame"),
        ('{"type": "send", "network_id": 1, "client_id": "x", "body": "hoi"}', "invalid_client_id"),
        ('{"type": "send", "network_id": 1, "client_id": "abcdefgh", "body": "  "}', "body_empty"),
        (
            '{"type": "send", "network_id": 99999, "client_id": "abcdefgh", "body": "hoi"}',
            "network_not_found",
        ),
        (
            '{"type": "send", "network_id": 2, "client_id": "abcdefgh", "body": "hoi"}',
            "not_a_member",
        ),
    ],
)
async def test_bad_frames_get_a_clear_error_and_change_nothing(
    users, frame: str, code: str
) -> None:
    anna = await users("anna")
    network = await anna.join("woonoverlast")
    socket = await anna.connect()
    await socket.send(frame.replace('"network_id": 1,', f'"network_id": {network},'))
    error = await socket.expect("error")
    assert error["code"] == code
    await socket.send({"type": "ping"})
    await socket.expect("pong")  # the socket still works
    for network_info in (await anna.api("GET", "/api/networks")).json():
        assert network_info["last_seq"] == 0, "nothing was stored anywhere"


async def test_body_over_the_limit_is_refused(users) -> None:
    anna = await users("anna")
    network = await anna.join("asbest")
    socket = await anna.connect()
    ack = await socket.send_message(network, "x" * 4001)
    assert ack["type"] == "error" and ack["code"] == "body_too_long"
    assert await history(anna, network) == []


async def test_html_and_script_are_stored_as_harmless_text(users) -> None:
    anna = await users("anna")
    network = await anna.join("asbest")
    socket = await anna.connect()
    await socket.subscribe(network)
    body = "<script>alert(1)</script> <img src=x onerror=alert(1)> [klik](javascript:alert(1))"
    await socket.send_message(network, body)
    # The sender's own event may come before or after its ack.
    seen = [f for f in socket.seen if f["type"] == "event"]
    event = seen[0] if seen else await socket.expect("event")
    html = event["message"]["html"]
    assert (
        "<script" not in html
        and "<img" not in html
        and "javascript:" not in html.split("[klik]")[0]
    )
    assert "&lt;script&gt;" in html
    assert 'href="javascript' not in html


async def test_unauthenticated_socket_is_closed_with_4401(live_server) -> None:
    stranger = live_server.user("stranger")
    socket = await stranger.connect(expect_welcome=False)
    with pytest.raises(ConnectionClosed) as closed:
        await socket.receive()
    assert closed.value.rcvd.code == 4401
    await stranger.aclose()


async def test_foreign_origin_is_closed_with_4403(users) -> None:
    anna = await users("anna")
    socket = await anna.connect(origin="https://evil.example", expect_welcome=False)
    with pytest.raises(ConnectionClosed) as closed:
        await socket.receive()
    assert closed.value.rcvd.code == 4403


async def test_flood_of_frames_is_rate_limited_then_closed(users) -> None:
    anna, bram = await users("anna"), await users("bram")
    flooder = await anna.connect()
    bystander = await bram.connect()
    for _ in range(300):
        try:
            await flooder.send({"type": "ping"})
        except ConnectionClosed:
            break
    codes = []
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            frame = await flooder.receive()
            codes.append(frame.get("code"))
    assert "rate_limited" in codes
    assert closed.value.rcvd.code == 4429
    await bystander.send({"type": "ping"})
    await bystander.expect("pong")  # other users are not affected


async def test_oversize_frame_closes_with_1009(users) -> None:
    anna = await users("anna")
    socket = await anna.connect()
    with pytest.raises(ConnectionClosed) as closed:
        await socket.send({"type": "ping", "padding": "x" * 70_000})
        await socket.receive()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009


async def test_private_network_is_invisible_to_non_members(users, live_server) -> None:
    admin = await make_admin(live_server, "beheerder")
    network = await admin.create_private_network("geheim", "Geheim")
    admin_socket = await admin.connect()
    await admin_socket.send_message(network, "vertrouwelijk @eva")

    eva = await users("eva")
    assert "geheim" not in [n["slug"] for n in (await eva.api("GET", "/api/networks")).json()]
    # Every kind of page: each reads the message rows and checks the rule on them.
    for params in ({}, {"before_seq": 5}, {"after_seq": 0}, {"around_seq": 1}):
        path = f"/api/networks/{network}/messages"
        assert (await eva.api("GET", path, params=params)).status_code == 404
        seen = (await admin.api("GET", path, params=params)).json()["messages"]
        assert [m["body"] for m in seen] == ["vertrouwelijk @eva"]
    assert (await eva.api("POST", f"/api/networks/{network}/join")).status_code == 404
    assert (await eva.api("GET", f"/api/networks/{network}/members")).status_code == 404
    assert (await eva.api("GET", "/api/mentions")).json()["unread"] == 0
    assert (await eva.http.get("/n/geheim")).status_code == 404
    eva_socket = await eva.connect()
    await eva_socket.send({"type": "subscribe", "network_id": network, "since_seq": 0})
    assert (await eva_socket.expect("error"))["code"] == "network_not_found"
    ack = await eva_socket.send_message(network, "mag ik erin?")
    assert ack["type"] == "error" and ack["code"] == "network_not_found"


async def test_history_pages_back_without_skipping_or_repeating(start_server) -> None:
    # Many quick posts: a burst budget above the default, which would answer rate_limited.
    server = start_server(BWT_FRAME_BURST="500")
    anna = await server.user("anna").register()
    network = await anna.join("monumenten")
    for i in range(1, 121):
        response = await anna.api(
            "POST",
            f"/api/networks/{network}/messages",
            json={"client_id": f"page-{i:04d}", "body": f"m{i}"},
        )
        assert response.status_code == 200
    page = (await anna.api("GET", f"/api/networks/{network}/messages", params={"limit": 50})).json()
    seen = [m["seq"] for m in page["messages"]]
    assert seen == list(range(71, 121)) and page["has_more_before"]
    # new messages arrive while scrolling back: the next page is not shifted by them
    for i in range(121, 131):
        await anna.api(
            "POST",
            f"/api/networks/{network}/messages",
            json={"client_id": f"page-{i:04d}", "body": f"m{i}"},
        )
    while page["has_more_before"]:
        page = (
            await anna.api(
                "GET",
                f"/api/networks/{network}/messages",
                params={"limit": 50, "before_seq": seen[0]},
            )
        ).json()
        seen = [m["seq"] for m in page["messages"]] + seen
    assert seen == list(range(1, 121))


async def test_permalink_opens_the_network_around_the_message(start_server) -> None:
    # Many quick posts: a burst budget above the default, which would answer rate_limited.
    server = start_server(BWT_FRAME_BURST="500")
    anna = await server.user("anna").register()
    network = await anna.join("monumenten")
    for i in range(1, 41):
        await anna.api(
            "POST",
            f"/api/networks/{network}/messages",
            json={"client_id": f"perm-{i:04d}", "body": f"m{i}"},
        )
    page = (
        await anna.api(
            "GET", f"/api/networks/{network}/messages", params={"around_seq": 10, "limit": 10}
        )
    ).json()
    seqs = [m["seq"] for m in page["messages"]]
    assert 10 in seqs and seqs == sorted(seqs) and len(seqs) == 10
    assert page["has_more_before"] and page["has_more_after"]
    response = await anna.http.get("/n/monumenten/m/10")
    assert response.status_code == 200
    assert re.search(r'"highlight_seq":\s*10\b', response.text), "the page opens at message 10"

    async def around(limit: int) -> tuple[list[int], bool, bool]:
        page = (
            await anna.api(
                "GET",
                f"/api/networks/{network}/messages",
                params={"around_seq": 10, "limit": limit},
            )
        ).json()
        return [m["seq"] for m in page["messages"]], page["has_more_before"], page["has_more_after"]

    # Odd and tiny pages are centred on the message too, and know what lies beyond them.
    assert await around(1) == ([10], True, True)
    assert await around(3) == ([9, 10, 11], True, True)
    assert await around(5) == ([8, 9, 10, 11, 12], True, True)
    response = await anna.http.get(f"/n/monumenten/m/{2**31}")
    assert response.status_code == 200, "a permalink past any seq opens the network, no 500"


async def test_http_errors_use_stable_codes(users, live_server) -> None:
    anna = await users("anna")
    assert (await anna.api("GET", "/api/networks/99999/messages")).json()["error"][
        "code"
    ] == "network_not_found"
    bad = await anna.api(
        "POST",
        "/api/networks/1/messages",
        content=b"{",
        headers={"content-type": "application/json"},
    )
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_json"
    stranger = live_server.user("nobody")
    response = await stranger.api("GET", "/api/networks")
    assert response.status_code == 401 and response.json()["error"]["code"] == "not_authenticated"
    await stranger.aclose()


async def test_sending_over_http_is_rate_limited_too(users) -> None:
    anna = await users("anna")
    network = await anna.join("asbest")

    async def post(i: int):  # type: ignore[no-untyped-def]
        return await anna.api(
            "POST",
            f"/api/networks/{network}/messages",
            json={"client_id": f"http-flood-{i:04d}", "body": f"m{i}"},
        )

    responses = await asyncio.gather(*(post(i) for i in range(150)))
    statuses = [r.status_code for r in responses]
    assert 429 in statuses and 200 in statuses
    assert {r.json()["error"]["code"] for r in responses if r.status_code == 429} == {
        "rate_limited"
    }
    networks = (await anna.api("GET", "/api/networks")).json()
    stored = next(n["last_seq"] for n in networks if n["id"] == network)
    assert stored == statuses.count(200), "a refused send stores nothing"
