"""A question from asking to finding: asked, answered in its thread, accepted, then offered to a
third colleague who types the same question in other words."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

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
