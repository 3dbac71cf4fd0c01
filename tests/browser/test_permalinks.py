"""Copying a message's link, in the room and in its thread panel."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import MakeUser

pytestmark = pytest.mark.browser


def test_copy_link_copies_the_full_permalink_in_the_room_and_in_a_thread(
    make_user: MakeUser,
) -> None:
    anna = make_user("anna")
    anna.context.grant_permissions(["clipboard-read", "clipboard-write"])
    anna.join("recreatieparken")
    room = anna.open("/n/recreatieparken")
    anna.wait_connected()
    room.locator("#composer").fill("Wie heeft een voorbeeld van een handhavingsbesluit?")
    room.keyboard.press("Enter")
    message = room.locator("#message-list article.message", has_text="handhavingsbesluit")
    expect(message.locator(".message__state")).to_have_count(0)

    def copied_by(button_owner) -> str:  # type: ignore[no-untyped-def]
        room.evaluate("navigator.clipboard.writeText('')")
        button_owner.locator("[data-copy-link]").first.click()
        expect(button_owner.locator("[data-copy-link]").first).not_to_have_text("Link kopiëren")
        return room.evaluate("navigator.clipboard.readText()")

    permalink = re.escape(anna.base_url) + r"/n/recreatieparken/m/\d+"
    in_room = copied_by(message)
    assert re.fullmatch(permalink, in_room)

    message.locator("[data-open-thread]").click()
    panel = room.locator("#thread-panel")
    expect(panel).to_be_visible()
    # The thread's first message, copied from the panel: the same link as in the room.
    assert copied_by(panel.locator("#thread-root")) == in_room
    assert anna.errors == []


def test_a_permalink_to_a_follow_up_message_shows_its_author_above_the_text(
    make_user: MakeUser,
) -> None:
    anna = make_user("anna")
    anna.join("woonoverlast")
    room = anna.open("/n/woonoverlast")
    anna.wait_connected()
    for text in ("Eerste bericht over overlast.", "Tweede bericht, direct erachter."):
        room.locator("#composer").fill(text)
        room.keyboard.press("Enter")
    second = room.locator("#message-list article.message", has_text="Tweede bericht")
    expect(second.locator(".message__state")).to_have_count(0)
    # In the room the follow-up does not repeat the name...
    expect(second).to_have_class(re.compile(r"\bmessage--continued\b"))
    seq = second.get_attribute("id").removeprefix("m-")  # type: ignore[union-attr]

    # ...but opened at its permalink it says who wrote it, on a line of its own above the text.
    page = anna.open(f"/n/woonoverlast/m/{seq}")
    target = page.locator(f"#m-{seq}")
    expect(target).to_have_class(re.compile(r"\bmessage--highlight\b"))
    author = target.locator(".message__author")
    expect(author).to_be_visible()
    author_box = author.bounding_box()
    text_box = target.locator(".message__body").bounding_box()
    assert author_box is not None and text_box is not None
    assert author_box["y"] + author_box["height"] <= text_box["y"] + 1
    assert anna.errors == []
