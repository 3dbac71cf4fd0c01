"""Every knowledge read path over HTTP keeps a private network's content from outsiders, and from
a member right after they left it."""

from __future__ import annotations

import uuid

from tests.client import ChatUser, make_admin, run_bwt


async def nothing_visible(user: ChatUser, network: int, question: int, slug: str) -> None:
    for method, path, body in (
        ("GET", f"/api/messages/{question}/thread", None),
        ("POST", f"/api/messages/{question}/follow", {"following": True}),
        ("POST", f"/api/messages/{question}/accept", {"answer_id": None}),
        ("GET", f"/api/networks/{network}/questions", None),
        ("GET", f"/api/networks/{network}/knowledge", None),
        ("GET", f"/api/networks/{network}/messages", None),
    ):
        response = await user.api(method, path, json=body)
        assert response.status_code == 404, (path, response.text)
    search = (await user.api("GET", "/api/search", params={"q": "bibobtoets"})).json()
    assert search["results"] == []
    similar = await user.api("GET", "/api/similar-questions", params={"q": "bibobtoets vastgoed"})
    assert similar.json() == {"questions": []}
    assert (await user.api("GET", "/api/knowledge")).json()["posts"] == []
    for page in (f"/n/{slug}/vragen", f"/n/{slug}/kennisbank", f"/n/{slug}/m/2"):
        assert (await user.http.get(page)).status_code == 404, page
    for page in ("/zoeken?q=bibobtoets", "/kennisbank"):
        text = (await user.http.get(page)).text
        assert "RIEC" not in text and "Wanneer een" not in text, page


async def test_private_knowledge_never_reaches_outsiders(users, live_server) -> None:
    admin = await make_admin(live_server, "beheerder")
    eva = await users("eva")
    try:
        created = await admin.api(
            "POST", "/api/admin/networks",
            json={"slug": "bibob-geheim", "name": "Bibob", "is_private": True},
        )  # fmt: skip
        network = created.json()["id"]
        sent = await admin.api(
            "POST", f"/api/networks/{network}/messages",
            json={"client_id": uuid.uuid4().hex, "body": "Wanneer een bibobtoets bij vastgoed?",
                  "kind": "question", "tags": ["bibob"]},
        )  # fmt: skip
        question = sent.json()["message"]
        reply = await admin.api(
            "POST", f"/api/networks/{network}/messages",
            json={"client_id": uuid.uuid4().hex, "body": "Bij elke bibobtoets: eerst de RIEC.",
                  "thread_root_id": question["id"]},
        )  # fmt: skip
        accepted = await admin.api(
            "POST",
            f"/api/messages/{question['id']}/accept",
            json={"answer_id": reply.json()["message_id"]},
        )
        assert accepted.status_code == 200
        assert (
            len(
                (await admin.api("GET", "/api/search", params={"q": "bibobtoets"})).json()[
                    "results"
                ]
            )
            == 2
        )
        await nothing_visible(eva, network, question["id"], "bibob-geheim")

        # The admin leaves: from that moment on, nothing of it reaches them either.
        assert (await admin.api("POST", f"/api/networks/{network}/leave")).status_code == 200
        await nothing_visible(admin, network, question["id"], "bibob-geheim")
    finally:
        await admin.aclose()


async def send(user: ChatUser, network: int, body: str, **fields: object) -> dict:
    response = await user.api(
        "POST",
        f"/api/networks/{network}/messages",
        json={"client_id": uuid.uuid4().hex, "body": body, **fields},
    )
    assert response.status_code == 200, response.text
    return response.json()["message"]


async def test_admins_appoint_moderators_over_http_and_the_command_line(users, live_server) -> None:
    admin = await make_admin(live_server, "beheerder")
    anna = await users("anna")
    bram = await users("bram")
    try:
        network = await anna.join("woonoverlast")
        await bram.join("woonoverlast")
        question = await send(anna, network, "Wie markeert hier antwoorden?", kind="question")
        reply = await send(bram, network, "Een moderator.", thread_root_id=question["id"])
        moderators = f"/api/admin/networks/{network}/moderators"
        accept = f"/api/messages/{question['id']}/accept"

        # Somebody who is not an administrator is refused, and nothing changes.
        for method in ("PUT", "DELETE"):
            refused = await bram.api(method, f"{moderators}/bram")
            assert refused.status_code == 403, refused.text
            assert refused.json()["error"]["code"] == "forbidden"
        assert (await bram.api("GET", moderators)).status_code == 403
        assert (await admin.api("GET", moderators)).json() == {"moderators": []}
        refused = await bram.api("POST", accept, json={"answer_id": reply["id"]})
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "not_allowed"

        # Made a moderator, bram marks the answer to anna's question.
        made = await admin.api("PUT", f"{moderators}/bram")
        assert made.status_code == 200, made.text
        assert [m["username"] for m in made.json()["moderators"]] == ["bram"]
        thread = (await bram.api("GET", f"/api/messages/{question['id']}/thread")).json()
        assert thread["can_accept"] is True
        accepted = await bram.api("POST", accept, json={"answer_id": reply["id"]})
        assert accepted.status_code == 200, accepted.text
        assert accepted.json()["message"]["accepted_answer"]["id"] == reply["id"]

        # Taking the role away takes the right away.
        removed = await admin.api("DELETE", f"{moderators}/bram")
        assert removed.json() == {"moderators": []}
        refused = await bram.api("POST", accept, json={"answer_id": None})
        assert refused.status_code == 403
        thread = (await bram.api("GET", f"/api/messages/{question['id']}/thread")).json()
        assert thread["can_accept"] is False

        # The command line does the same.
        output = await run_bwt(live_server, "networks", "add-moderator", "woonoverlast", "bram")
        assert "moderators of woonoverlast: bram" in output
        unmarked = await bram.api("POST", accept, json={"answer_id": None})
        assert unmarked.status_code == 200 and unmarked.json()["message"]["accepted_answer"] is None
        await run_bwt(live_server, "networks", "remove-moderator", "woonoverlast", "bram")
        assert (await admin.api("GET", moderators)).json() == {"moderators": []}

        unknown = await admin.api("PUT", f"{moderators}/niemand")
        assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "user_not_found"
    finally:
        await admin.aclose()


async def test_unmarking_reaches_open_pages_live(users, live_server) -> None:
    anna = await users("anna")
    cees = await users("cees")
    network = await anna.join("recreatieparken")
    await cees.join("recreatieparken")
    question = await send(anna, network, "Mag een chalet het hele jaar verhuurd?", kind="question")
    reply = await send(cees, network, "Ja, aan toeristen.", thread_root_id=question["id"])
    answer = f"/api/messages/{question['id']}/accept"
    accepted = (await anna.api("POST", answer, json={"answer_id": reply["id"]})).json()
    socket = await cees.connect()
    await socket.subscribe(network, since_seq=accepted["seq"])

    refused = await cees.api("DELETE", answer)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "not_allowed"
    unmarked = await anna.api("DELETE", answer)
    assert unmarked.status_code == 200, unmarked.text
    assert unmarked.json()["seq"] == accepted["seq"] + 1
    assert unmarked.json()["message"]["accepted_answer"] is None

    # Somebody else's open page hears it at once, with its own seq.
    event = await socket.expect("event", kind="question.answered")
    assert event["seq"] == accepted["seq"] + 1
    assert event["message"]["id"] == question["id"] and event["message"]["accepted_answer"] is None
    open_page = (await cees.http.get("/n/recreatieparken/vragen?state=open")).text
    assert "Mag een chalet het hele jaar verhuurd?" in open_page
    assert "Mag een chalet" not in (await cees.http.get("/n/recreatieparken/kennisbank")).text

    # Unmarking an open question changes nothing, and nothing is sent.
    again = await anna.api("DELETE", answer)
    assert again.status_code == 200 and again.json()["seq"] is None
    assert [f for f in await socket.nothing_for(0.5) if f["type"] == "event"] == []
