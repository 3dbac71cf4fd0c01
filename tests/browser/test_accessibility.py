"""WCAG 2.1 A/AA checks with axe-core: no serious or critical violation on the main pages."""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import MakeUser
from tests.conftest import LiveServer

pytestmark = pytest.mark.browser

WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
BLOCKING = {"serious", "critical"}


def blocking_violations(page: Page) -> list[str]:
    results = Axe().run(
        page,
        options={"runOnly": {"type": "tag", "values": WCAG_TAGS}, "resultTypes": ["violations"]},
    )
    return [
        f"{violation['impact']} {violation['id']}: {violation['help']} "
        f"{[node['target'] for node in violation['nodes']][:5]}"
        for violation in results.response["violations"]
        if violation["impact"] in BLOCKING
    ]


def test_login_page(browser: Browser, live_server: LiveServer) -> None:
    context = browser.new_context()
    page = context.new_page()
    page.goto(live_server.url + "/login")
    assert blocking_violations(page) == []
    # A failed log-in shows its error; the page must stay accessible with it.
    page.fill("#login", "nobody")
    page.fill("#password", "wrong password")
    page.click("form[action='/login'] button[type=submit]")
    expect(page.locator("#login-error")).to_be_visible()
    assert blocking_violations(page) == []
    context.close()


def test_network_list(make_user: MakeUser) -> None:
    anna = make_user("anna")
    anna.join("woonoverlast")
    page = anna.open("/")
    anna.wait_connected()
    assert blocking_violations(page) == []


@pytest.mark.parametrize("width", [1200, 320])
def test_room_with_messages_and_suggestions(make_user: MakeUser, width: int) -> None:
    anna = make_user("anna", "Anna de Vries", viewport={"width": width, "height": 700})
    piet = make_user("piet")
    anna.join("woonoverlast")
    piet.join("woonoverlast")
    page = anna.open("/n/woonoverlast")
    anna.wait_connected()
    page.locator("#composer").fill(
        "Een bericht met **nadruk**, een [link](https://example.nl) en `code`."
    )
    page.click("#send-button")
    expect(page.locator("#message-list article.message")).to_have_count(1)
    assert blocking_violations(page) == []

    page.locator("#composer").click()
    page.keyboard.type("@" + piet.username[:3])
    expect(page.locator(".mention-suggestion").first).to_be_visible()
    assert blocking_violations(page) == []


def test_room_of_a_network_not_joined(make_user: MakeUser) -> None:
    anna = make_user("anna")
    page = anna.open("/n/asbest")
    anna.wait_connected()
    expect(page.locator("#join-button")).to_be_visible()
    expect(page.locator("#composer-form")).to_be_hidden()
    assert blocking_violations(page) == []
