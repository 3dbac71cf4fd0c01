"""Mentioning a colleague: the autocomplete in the composer, the live message, toast and badge;
reply toasts beside an open thread."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import Locator, expect

from tests.browser.conftest import BrowserUser, MakeUser

pytestmark = pytest.mark.browser


def test_mention_with_autocomplete_reaches_the_other_user_anywhere(make_user: MakeUser) -> None:
    anna = make_user("anna", "Anna de Vries")
    piet = make_user("piet", "Piet Jansen", organisation="Omgevingsdienst Noordzeekanaalgebied")
    anna.join("woonoverlast")
    piet.join("woonoverlast")

    # Piet is elsewhere in the app (the network list), and also has the room open in a second tab.
    piet_list = piet.open("/")
    piet.wait_connected(piet_list)
    expect(piet_list.locator("#mention-badge")).to_have_text("0")
    piet_room = piet.new_page()
    piet_room.goto(piet.base_url + "/n/woonoverlast")
    piet.wait_connected(piet_room)

    room = anna.open("/n/woonoverlast")
    anna.wait_connected()
    composer = room.locator("#composer")
    composer.click()
    room.keyboard.type("Kun jij hier naar kijken, @" + piet.username[:3])

    # The combobox pattern: an expanded listbox whose active option the textarea points at.
    suggestions = room.locator("#mention-suggestions")
    option = suggestions.locator(f'.mention-suggestion[data-username="{piet.username}"]')
    expect(option).to_be_visible()
    expect(option).to_have_attribute("role", "option")
    expect(composer).to_have_attribute("aria-expanded", "true")
    expect(composer).to_have_attribute("aria-activedescendant", re.compile(r"^mention-option-\d+$"))
    expect(option).to_contain_text("Piet Jansen")
    expect(option).to_contain_text("Omgevingsdienst Noordzeekanaalgebied")

    # Escape closes the list without picking; typing on opens it again; Enter picks.
    room.keyboard.press("Escape")
    expect(suggestions).to_be_hidden()
    expect(composer).to_have_attribute("aria-expanded", "false")
    room.keyboard.type(piet.username[3:5])
    expect(option).to_be_visible()
    active = composer.get_attribute("aria-activedescendant")
    room.keyboard.press("ArrowDown")
    room.keyboard.press("ArrowUp")
    expect(composer).to_have_attribute("aria-activedescendant", active or "")
    expect(suggestions.locator(f"#{active}")).to_have_attribute("aria-selected", "true")
    room.keyboard.press("Enter")
    expect(suggestions).to_be_hidden()
    expect(composer).to_have_value(f"Kun jij hier naar kijken, @{piet.username} ")

    room.keyboard.type("de **melding** van gisteren?")
    room.keyboard.press("Enter")
    expect(composer).to_have_value("")

    # Anna's own message: pending first, then stored in seq order.
    mine = room.locator("#message-list article.message").last
    expect(mine).to_have_attribute("data-state", "stored")
    expect(mine.locator(".message__body strong")).to_have_text("melding")
    expect(room.locator("#pending-list article")).to_have_count(0)
    seq = mine.get_attribute("data-seq")
    expect(mine).to_have_attribute("id", f"m-{seq}")
    expect(mine.locator(".message__author")).to_have_text("Anna de Vries")
    expect(mine.locator("time")).to_have_attribute("datetime", re.compile(r"^\d{4}-\d\d-\d\dT"))

    # Piet's room tab shows it live.
    live = piet_room.locator(f"#m-{seq}")
    expect(live).to_contain_text(f"@{piet.username}")
    expect(live.locator(".message__org")).to_have_text("Gemeente Utrecht")

    # Piet's other page gets a toast and the unread badge, without reloading.
    toast = piet_list.locator("#toast-region .toast")
    expect(toast).to_be_visible()
    expect(toast).to_have_attribute("role", "status")
    expect(toast).to_contain_text("Anna de Vries")
    expect(toast).to_contain_text("Woonoverlast")
    expect(piet_list.locator("#mention-badge")).to_have_text("1")
    link = toast.locator("a")
    expect(link).to_have_attribute("href", f"/n/woonoverlast/m/{seq}")

    # The toast leads to the message, opened and highlighted at its permalink.
    link.click()
    expect(piet_list).to_have_url(re.compile(rf"/n/woonoverlast/m/{seq}$"))
    target = piet_list.locator(f"#m-{seq}")
    expect(target).to_have_class(re.compile(r"\bmessage--highlight\b"))
    expect(target).to_be_focused()

    # The inbox lists it as unread; marking all read empties the badge.
    inbox = piet.open("/mentions")
    item = inbox.locator("#mention-list .mention-item").first
    expect(item).to_have_attribute("data-read", "false")
    item_link = item.locator("a.mention-item__link")
    expect(item_link).to_have_attribute("href", f"/n/woonoverlast/m/{seq}")
    inbox.click("#mark-all-read")
    expect(item).to_have_attribute("data-read", "true")
    expect(inbox.locator("#mention-badge")).to_have_text("0")


def test_mentioning_a_non_member_warns_the_sender(make_user: MakeUser) -> None:
    anna = make_user("anna")
    piet = make_user("piet")
    anna.join("recreatieparken")
    room = anna.open("/n/recreatieparken")
    anna.wait_connected()
    room.locator("#composer").fill(f"Weet @{piet.username} hier meer van?")
    room.click("#send-button")
    warning = room.locator("#room-notice")
    expect(warning).to_contain_text(f"@{piet.username} is geen lid van dit netwerk")
    expect(warning).to_contain_text("krijgt geen melding")


def test_interface_switches_to_english(make_user: MakeUser) -> None:
    anna = make_user("anna")
    anna.join("asbest")
    page = anna.open("/n/asbest")
    expect(page.locator("html")).to_have_attribute("lang", "nl")
    expect(page.locator("#send-button")).to_have_text("Versturen")
    page.click("a[hreflang=en]")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("#send-button")).to_have_text("Send")
    anna.wait_connected(page)
    expect(page.locator("#connection-status")).to_contain_text("Connected")
    # The choice is kept in a cookie.
    page.goto(anna.base_url + "/")
    expect(page.locator("h1")).to_have_text("Networks")


def test_reply_toasts_spare_the_open_thread_and_its_reply_box(make_user: MakeUser) -> None:
    anna = make_user("anna", "Anna de Vries")
    piet = make_user("piet", "Piet Jansen")
    anna.join("woonoverlast")
    piet.join("woonoverlast")
    networks = anna.context.request.get("/api/networks").json()
    network = next(n["id"] for n in networks if n["slug"] == "woonoverlast")

    def post(user: BrowserUser, body: str, **fields: object) -> dict:
        sent = user.context.request.post(
            f"/api/networks/{network}/messages",
            data={"client_id": uuid.uuid4().hex, "body": body, **fields},
        )
        assert sent.ok, sent.text()
        return sent.json()["message"]

    # Anna asked two questions, so she follows both threads; she has the first one open.
    open_question = post(anna, "Wie kent een goede aanpak voor hennepteelt?", kind="question")
    other_question = post(anna, "En voor drugsopslag in een woning?", kind="question")
    page = anna.open("/n/woonoverlast")
    anna.wait_connected()
    page.locator(f'[data-open-thread="{open_question["id"]}"]').click()
    reply_box = page.locator("#thread-form")
    expect(reply_box).to_be_visible()
    assert not overlap(page.locator("#room"), page.locator("#thread-panel")), "room under panel"

    # Replies in the open thread show in the panel, and no toast repeats them (nor a mention).
    in_open_thread = {"thread_root_id": open_question["id"]}
    post(piet, "Sluiting op grond van artikel 13b Opiumwet.", **in_open_thread)
    post(piet, f"@{anna.username} zie ook de Damoclesbeleidsregel.", **in_open_thread)
    expect(page.locator("#thread-replies article")).to_have_count(2)
    # A reply in the other thread does toast; it came after those two, so they had their turn.
    post(piet, "Ook daar: 13b Opiumwet.", thread_root_id=other_question["id"])
    toasts = page.locator("#toast-region .toast")
    expect(toasts).to_have_count(1)
    expect(toasts).to_contain_text("Ook daar")
    expect(page.locator("#mention-badge")).to_have_text("3")
    assert not overlap(toasts.first, reply_box)

    # On a phone the panel fills the screen: toasts stay off its reply box there too.
    page.set_viewport_size({"width": 360, "height": 640})
    for number in range(4):
        text = f"Aanvulling {number} op de andere draad, over de Opiumwet en de burgemeester."
        post(piet, text, thread_root_id=other_question["id"])
    expect(toasts.last).to_contain_text("Aanvulling 3")
    expect(reply_box).to_be_in_viewport()
    for index in range(toasts.count()):
        assert not overlap(toasts.nth(index), reply_box), f"toast {index} covers the reply box"

    # The inbox says which items are replies in a followed thread and which mention her.
    inbox = anna.open("/mentions")
    items = inbox.locator("#mention-list .mention-item")
    expect(items.filter(has_text="Ook daar")).to_contain_text("reageerde in een draad die je volgt")
    expect(items.filter(has_text="Damoclesbeleidsregel").first).to_be_visible()
    damocles = items.filter(has_text="Damoclesbeleidsregel").all_inner_texts()
    assert any("reageerde in een draad" not in text for text in damocles), damocles


def overlap(first: Locator, second: Locator) -> bool:
    a, b = first.bounding_box(), second.bounding_box()
    assert a and b
    return (
        a["x"] < b["x"] + b["width"]
        and b["x"] < a["x"] + a["width"]
        and a["y"] < b["y"] + b["height"]
        and b["y"] < a["y"] + a["height"]
    )
