"""Hostile text stays text: message bodies, names and organisations cannot run script."""

from __future__ import annotations

import pytest
from playwright.sync_api import Dialog, Page, expect

from tests.browser.conftest import MakeUser

pytestmark = pytest.mark.browser

HOSTILE_BODY = "\n\n".join(
    [
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        "[x](javascript:alert(1))",
        '<a href="javascript:alert(1)">y</a> <svg onload=alert(1)></svg>',
    ]
)
HOSTILE_NAME = "<img src=x onerror=alert(2)>Mallory"
HOSTILE_ORGANISATION = "<script>alert(3)</script>Gemeente"


def collect_dialogs(page: Page) -> list[str]:
    dialogs: list[str] = []

    def on_dialog(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    return dialogs


def assert_inert(page: Page, scope: str) -> None:
    container = page.locator(scope)
    expect(container.locator("img")).to_have_count(0)
    expect(container.locator("script")).to_have_count(0)
    expect(container.locator("svg")).to_have_count(0)
    expect(container.locator("[onerror], [onload], [onclick]")).to_have_count(0)
    expect(container.locator('a[href^="javascript:" i]')).to_have_count(0)


def test_hostile_message_and_names_render_as_harmless_text(make_user: MakeUser) -> None:
    mallory = make_user("mallory", HOSTILE_NAME, organisation=HOSTILE_ORGANISATION)
    piet = make_user("piet")
    mallory.join("woonoverlast")
    piet.join("woonoverlast")
    mallory_dialogs = collect_dialogs(mallory.page)
    piet_dialogs = collect_dialogs(piet.page)

    watching = piet.open("/")
    piet.wait_connected(watching)

    room = mallory.open("/n/woonoverlast")
    mallory.wait_connected()
    room.locator("#composer").fill(f"@{piet.username} {HOSTILE_BODY}")
    room.click("#send-button")

    message = room.locator("#message-list article.message").last
    expect(message).to_have_attribute("data-state", "stored")
    expect(message.locator(".message__body")).to_contain_text("alert(1)")
    expect(message.locator(".message__author")).to_have_text(HOSTILE_NAME)
    expect(message.locator(".message__org")).to_have_text(HOSTILE_ORGANISATION)
    assert_inert(room, "#message-list")

    # The recipient's toast shows the same text inertly.
    toast = watching.locator("#toast-region .toast")
    expect(toast).to_contain_text(HOSTILE_NAME)
    assert_inert(watching, "#toast-region")

    # History, the permalink page and the inbox render it the same way.
    seq = message.get_attribute("data-seq")
    permalink = piet.open(f"/n/woonoverlast/m/{seq}")
    expect(permalink.locator(f"#m-{seq} .message__author")).to_have_text(HOSTILE_NAME)
    assert_inert(permalink, "#message-list")
    inbox = piet.open("/mentions")
    expect(inbox.locator("#mention-list .mention-item")).to_have_count(1)
    expect(inbox.locator("#mention-list .message__author")).to_have_text(HOSTILE_NAME)
    assert_inert(inbox, "#mention-list")

    # The name is also in the server-rendered header of Mallory's own pages.
    expect(room.locator(".user-menu__name")).to_have_text(HOSTILE_NAME)
    assert_inert(room, "header")

    room.wait_for_timeout(500)
    assert mallory_dialogs == [] and piet_dialogs == [], (mallory_dialogs, piet_dialogs)
