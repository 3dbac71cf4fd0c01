"""Losing the server: the client says it is offline, keeps what the user sends, and catches up
with what it missed once the server is back, without reloading the page."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PASSWORD, MakeUser
from tests.conftest import LiveServer

pytestmark = pytest.mark.browser


def test_offline_then_reconnect_catches_up_without_reload(
    make_user: MakeUser, live_server: LiveServer, start_server: Callable[..., LiveServer]
) -> None:
    anna = make_user("anna")
    piet = make_user("piet")
    anna.join("woonoverlast")
    piet.join("woonoverlast")
    network_id = int(
        anna.page.locator('[data-network-slug="woonoverlast"]').get_attribute("data-network-id")
        or 0
    )

    room = anna.open("/n/woonoverlast")
    anna.wait_connected()
    room.locator("#composer").fill("Voor de storing")
    room.click("#send-button")
    expect(room.locator("#message-list article.message")).to_have_count(1)
    room.evaluate("window.__sameDocument = true")

    # The server goes away: its WebSocket closes (1012) and reconnecting fails for a while.
    live_server.stop()
    status = room.locator("#connection-status")
    expect(status).to_have_attribute("data-state", "offline")
    expect(status).to_contain_text("Offline — opnieuw verbinden…")

    # Anna writes while offline: the message waits in the outbox.
    room.locator("#composer").fill("Geschreven tijdens de storing")
    room.click("#send-button")
    pending = room.locator("#pending-list article.message--pending")
    expect(pending).to_have_count(1)
    expect(pending).to_contain_text("wordt verzonden…")

    # Meanwhile Piet posts through another server process on the same database: Anna's
    # socket cannot see these live, so she can only get them by catching up.
    other = start_server()
    with httpx.Client(base_url=other.url, follow_redirects=False) as http:
        login = http.post("/login", data={"login": piet.username, "password": PASSWORD})
        assert login.status_code == 303, login.text[:500]
        for text in ("Gemist bericht een", "Gemist bericht twee"):
            response = http.post(
                f"/api/networks/{network_id}/messages",
                json={"client_id": uuid.uuid4().hex, "body": text},
            )
            assert response.status_code == 200, response.text

    # The server comes back; the browser reports being online, which reconnects at once.
    live_server.start()
    room.evaluate("window.dispatchEvent(new Event('online'))")
    anna.wait_connected(room)
    expect(status).to_contain_text("Verbonden")

    articles = room.locator("#message-list article.message")
    expect(articles).to_have_count(4)
    expect(articles.nth(1)).to_contain_text("Gemist bericht een")
    expect(articles.nth(2)).to_contain_text("Gemist bericht twee")
    expect(articles.nth(3)).to_contain_text("Geschreven tijdens de storing")
    expect(articles.nth(3)).to_have_attribute("data-state", "stored")
    expect(room.locator("#pending-list article")).to_have_count(0)
    seqs = [int(seq) for seq in articles.evaluate_all("els => els.map(e => e.dataset.seq)")]
    assert seqs == sorted(seqs) and len(set(seqs)) == 4, seqs
    assert room.evaluate("window.__sameDocument") is True

    # And the stream is live again: Piet's next message arrives without any catching up.
    piet_room = piet.open("/n/woonoverlast")
    piet.wait_connected(piet_room)
    piet_room.locator("#composer").fill("Weer live")
    piet_room.click("#send-button")
    expect(articles).to_have_count(5)
    expect(articles.nth(4)).to_contain_text("Weer live")


def test_a_gap_in_live_events_is_filled_by_subscribing_again(
    make_user: MakeUser, live_server: LiveServer, start_server: Callable[..., LiveServer]
) -> None:
    anna = make_user("anna")
    piet = make_user("piet")
    anna.join("asbest")
    piet.join("asbest")
    network_id = int(
        anna.page.locator('[data-network-slug="asbest"]').get_attribute("data-network-id") or 0
    )
    room = anna.open("/n/asbest")
    anna.wait_connected()

    def post(server: LiveServer, body: str) -> None:
        with httpx.Client(base_url=server.url, follow_redirects=False) as http:
            login = http.post("/login", data={"login": piet.username, "password": PASSWORD})
            assert login.status_code == 303, login.text[:500]
            response = http.post(
                f"/api/networks/{network_id}/messages",
                json={"client_id": uuid.uuid4().hex, "body": body},
            )
            assert response.status_code == 200, response.text

    # A second process without a shared broker: its messages never reach Anna live...
    post(start_server(), "Via de andere server")
    articles = room.locator("#message-list article.message")
    room.wait_for_timeout(500)
    expect(articles).to_have_count(0)
    # ...until the next live event shows her a gap in the seqs, and she asks for what she missed.
    post(live_server, "Via haar eigen server")
    expect(articles).to_have_count(2)
    expect(articles.nth(0)).to_contain_text("Via de andere server")
    expect(articles.nth(1)).to_contain_text("Via haar eigen server")
    expect(room.locator("#connection-status")).to_have_attribute("data-state", "open")
