"""A question from asking to finding: asked, answered in its thread, accepted, then offered to a
third colleague who types the same question in other words."""

from __future__ import annotations

import pytest
from playwright.sync_api import Locator, expect

from tests.browser.conftest import MakeUser
from tests.browser.test_accessibility import blocking_violations

pytestmark = pytest.mark.browser

QUESTION = "Mag een recreatiewoning permanent bewoond worden?"
OTHER_WORDS = "Is permanente bewoning van recreatiewoningen toegestaan"


def test_ask_answer_accept_and_find_through_the_suggestion(make_user: MakeUser) -> None:
    anna = make_user("anna", "Anna Vrager")
    bram = make_user("bram", "Bram Antwoord")
    cees = make_user("cees", "Cees Zoeker")
    for user in (anna, bram, cees):
        user.join("recreatieparken")

    asker = anna.open("/n/recreatieparken")
    anna.wait_connected()
    asker.select_option("#post-kind", "question")
    asker.locator("#post-tags").fill("bewoning")
    asker.locator("#composer").fill(QUESTION)
    asker.keyboard.press("Enter")
    question = asker.locator("#message-list article.message", has_text=QUESTION)
    expect(question.locator(".post__kind")).to_have_text("Vraag")
    expect(question.locator(".post__state")).to_have_text("open")

    helper = bram.open("/n/recreatieparken")
    bram.wait_connected()
    helper_question = helper.locator("#message-list article.message", has_text=QUESTION)
    helper_question.locator("[data-open-thread]").click()
    expect(helper.locator("#thread-panel")).to_be_visible()
    helper.locator("#thread-input").fill("Nee, alleen met een persoonsgebonden beschikking.")
    helper.locator("#thread-input").press("Enter")
    expect(helper.locator("#thread-replies article")).to_have_count(1)
    assert blocking_violations(helper) == []

    # The asker sees the reply count change live, opens the thread and accepts the answer.
    expect(question.locator("[data-open-thread]")).to_have_text("1 reactie")
    question.locator("[data-open-thread]").click()
    reply = asker.locator("#thread-replies article", has_text="persoonsgebonden")
    reply.locator("[data-accept]").click()
    expect(reply.locator(".post__accepted")).to_have_text("Geaccepteerd antwoord")
    expect(question.locator(".post__state")).to_have_text("beantwoord")
    # … and so does the colleague who answered, live.
    expect(helper_question.locator(".post__state")).to_have_text("beantwoord")
    expect(helper_question.locator(".post__answer")).to_contain_text("persoonsgebonden")

    # A third colleague asks the same in other words and is offered the answered question.
    seeker = cees.open("/n/recreatieparken")
    cees.wait_connected()
    seeker.select_option("#post-kind", "question")
    seeker.locator("#composer").click()
    seeker.keyboard.type(OTHER_WORDS, delay=5)
    suggestion = seeker.locator("#similar-questions-list li").first
    expect(suggestion).to_contain_text(QUESTION)
    expect(suggestion).to_contain_text("beantwoord")
    assert blocking_violations(seeker) == []
    suggestion.locator("a").click()
    expect(seeker.locator("article.message--highlight")).to_contain_text(QUESTION)

    # Search and the knowledge base find it too.
    found = cees.open("/zoeken?q=recreatiewoningen+bewoond")
    expect(found.locator("#search-results li").first).to_contain_text("beantwoord")
    expect(found.locator("#search-results mark").first).to_be_visible()
    assert blocking_violations(found) == []
    knowledge = cees.open("/n/recreatieparken/kennisbank")
    expect(knowledge.locator("#knowledge-list li")).to_have_count(1)
    assert blocking_violations(knowledge) == []


def test_a_moderator_appointed_in_admin_unmarks_the_answer_live(make_user: MakeUser) -> None:
    anna = make_user("anna", "Anna Vrager")
    bram = make_user("bram", "Bram Moderator")
    beheer = make_user("beheer", "Beheer", admin=True)
    anna.join("recreatieparken")
    beheer.join("recreatieparken")

    # Anna asks, the administrator answers, Anna accepts (through the API: not the point here).
    networks = anna.context.request.get("/api/networks").json()
    network = next(n["id"] for n in networks if n["slug"] == "recreatieparken")
    question = anna.context.request.post(
        f"/api/networks/{network}/messages",
        data={"client_id": "q-" + anna.username, "body": QUESTION, "kind": "question"},
    ).json()["message"]
    reply = beheer.context.request.post(
        f"/api/networks/{network}/messages",
        data={"client_id": "r-" + beheer.username, "body": "Nee, alleen met een beschikking.",
              "thread_root_id": question["id"]},
    ).json()["message"]  # fmt: skip
    accepted = anna.context.request.post(
        f"/api/messages/{question['id']}/accept", data={"answer_id": reply["id"]}
    )
    assert accepted.ok, accepted.text()

    # Anna keeps the room open with the thread beside it.
    asker = anna.open("/n/recreatieparken")
    anna.wait_connected()
    asked = asker.locator("#message-list article.message", has_text=QUESTION)
    expect(asked.locator(".post__state")).to_have_text("beantwoord")
    asked.locator("[data-open-thread]").click()
    answer_in_thread = asker.locator("#thread-replies article", has_text="beschikking")
    expect(answer_in_thread.locator(".post__accepted")).to_have_text("Geaccepteerd antwoord")

    # The administrator makes Bram a moderator of the network on the admin page.
    admin = beheer.open("/admin")
    section = admin.locator(".admin-network", has_text="/n/recreatieparken")
    section.get_by_label("Gebruikersnaam van de nieuwe moderator").fill(bram.username)
    section.get_by_role("button", name="Moderator maken").click()
    expect(section.locator(".admin-moderators__list")).to_contain_text("Bram Moderator")
    expect(section.get_by_role("status").last).to_have_text("Bram Moderator is nu moderator.")
    assert blocking_violations(admin) == []

    # Bram, not the asker, takes the accepted answer away in the thread.
    moderator = bram.open(f"/n/recreatieparken/m/{reply['seq']}")
    bram.wait_connected()
    in_thread = moderator.locator("#thread-replies article", has_text="beschikking")
    in_thread.get_by_role("button", name="Markering als antwoord opheffen").click()
    expect(in_thread.locator(".post__accepted")).to_have_count(0)
    expect(in_thread.get_by_role("button", name="Markeer als antwoord")).to_be_focused()
    root = moderator.locator("#message-list article.message", has_text=QUESTION)
    expect(root.locator(".post__state")).to_have_text("open")

    # Anna sees her question open again, live, in the room and in the thread she has open.
    expect(asked.locator(".post__state")).to_have_text("open")
    expect(asked.locator(".post__answer")).to_have_count(0)
    expect(answer_in_thread.locator(".post__accepted")).to_have_count(0)
    expect(answer_in_thread.locator("[data-accept]")).to_be_visible()

    # Taking the role away on the admin page takes the buttons away from Bram.
    section.get_by_role("button", name="Moderatorrol intrekken").click()
    expect(section.locator(".admin-moderators__none")).to_be_visible()
    expect(section.locator(".admin-moderators__list li")).to_have_count(0)
    moderator.reload()
    expect(in_thread).to_be_visible()
    expect(moderator.locator("#thread-replies [data-accept]")).to_have_count(0)


def test_tags_and_suggestions_read_well_on_a_phone(make_user: MakeUser) -> None:
    anna = make_user("anna", "Anna Vrager", viewport={"width": 360, "height": 740})
    anna.join("recreatieparken")
    networks = anna.context.request.get("/api/networks").json()
    network = next(n["id"] for n in networks if n["slug"] == "recreatieparken")
    # Two posts in a row: the second shows its time beside its labels, not above them.
    for number, body, tags in (
        (1, "Een eerdere vraag?", []),
        (2, QUESTION, ["omzettingsvergunning-kamerverhuur", "bewoning"]),
    ):
        asked = anna.context.request.post(
            f"/api/networks/{network}/messages",
            data={
                "client_id": f"q{number}-{anna.username}",
                "body": body,
                "kind": "question",
                "tags": tags,
            },
        )
        assert asked.ok, asked.text()

    page = anna.open("/n/recreatieparken")
    anna.wait_connected()
    post = page.locator("#message-list article.message", has_text=QUESTION)
    kind = post.locator(".post__kind")
    long_tag = post.locator(".post__tag", has_text="omzettingsvergunning")
    expect(long_tag).to_be_visible()
    # A tag that fits on the line stays on one line, as high as the other labels.
    assert height(long_tag) == height(kind)

    page.select_option("#post-kind", "question")
    tags_label = page.locator("label[for=post-tags]")
    expect(tags_label).to_be_visible()
    assert height(tags_label) < 2 * line_height(tags_label), "the label 'Labels' wraps"
    page.locator("#composer").click()
    page.keyboard.type(OTHER_WORDS, delay=5)
    link = page.locator("#similar-questions-list a").first
    expect(link).to_have_text(QUESTION)
    expect(page.locator("#similar-questions-list .post__state").first).to_have_text("open")
    # Styled as the design system's links (--bwt-color-link), not the browser's default blue, …
    assert link.evaluate("a => getComputedStyle(a).color") == "rgb(31, 90, 143)"
    # … with a focus ring that the scrolling list does not cut off.
    page.locator("#post-tags").focus()
    page.keyboard.press("Tab")
    expect(link).to_be_focused()
    assert link.evaluate("a => getComputedStyle(a).outlineStyle") == "solid"
    ring = link.evaluate(
        """a => {
            const box = a.getBoundingClientRect();
            const list = a.closest('ul').getBoundingClientRect();
            const ring = parseFloat(getComputedStyle(a).outlineWidth)
                + parseFloat(getComputedStyle(a).outlineOffset);
            return box.left - ring >= list.left && box.top - ring >= list.top;
        }"""
    )
    assert ring, "the focus ring is cut off"
    assert blocking_violations(page) == []


def height(locator: Locator) -> float:
    box = locator.bounding_box()
    assert box
    return round(box["height"])


def line_height(locator: Locator) -> float:
    return float(locator.evaluate("e => parseFloat(getComputedStyle(e).lineHeight)"))
