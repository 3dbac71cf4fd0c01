"""Threads, questions, typed posts, search and suggestions, on both stacks."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from sqlalchemy import event, select

from chat.actions import Services
from chat.actions.accounts import register_user
from chat.actions.messages import backlog_frames, history_page, send_message
from chat.actions.networks import (
    add_member,
    create_network,
    leave_network,
    list_moderators,
    set_moderator,
)
from chat.actions.notifications import list_mentions, notification_frames_since
from chat.actions.posts import check_post
from chat.actions.search import list_posts, search_messages, similar_questions
from chat.actions.threads import accept_answer, read_thread, set_following, unmark_answer
from chat.errors import ActionError
from chat.models import Membership, User
from tests.test_actions import member, network_id_of, registration


async def post(services: Services, user: User, network: int, body: str, **options: object) -> dict:
    result = await send_message(
        services, user, network, uuid.uuid4().hex, body, check_post(**options)
    )
    return result.message


async def found(services: Services, user: User, query: str, **filters: object) -> list[str]:
    results = (await search_messages(services, user, query, **filters))["results"]  # type: ignore[arg-type]
    return [r["message"]["body"] for r in results]


async def test_a_reply_goes_into_its_thread_and_updates_the_root(services: Services) -> None:
    anna = await member(services, "anna")
    bram = await member(services, "bram")
    network = await network_id_of(services, anna, "woonoverlast")
    root = await post(services, anna, network, "Wie heeft ervaring met een last onder dwangsom?")
    async with services.broker.subscribe(f"network:{network}") as live:
        reply = await post(services, bram, network, "Ja, wij!", thread_root_id=root["id"])
        frame = json.loads((await live.get())[1])
        while frame["seq"] < reply["seq"]:  # the root's own event may still be on its way
            frame = json.loads((await live.get())[1])
    assert frame["seq"] == reply["seq"] == root["seq"] + 1
    assert frame["thread"]["root_id"] == root["id"] and frame["thread"]["reply_count"] == 1
    assert frame["thread"]["last_reply"]["author"]["username"] == "bram"
    page = await history_page(services, anna, network)
    assert [m["id"] for m in page["messages"]] == [root["id"]], "replies stay in their thread"
    assert page["messages"][0]["reply_count"] == 1
    assert page["messages"][0]["last_reply"]["id"] == reply["id"]
    thread = await read_thread(services, anna, root["id"])
    assert [r["body"] for r in thread["replies"]] == ["Ja, wij!"]
    assert thread["following"] is True, "the asker follows their thread"
    with pytest.raises(ActionError) as refused:
        await post(services, bram, network, "nest", thread_root_id=reply["id"])
    assert refused.value.code == "not_a_thread_root"


async def test_followers_are_notified_and_can_unfollow(services: Services) -> None:
    anna = await member(services, "anna")
    bram = await member(services, "bram")
    cees = await member(services, "cees")
    dirk = await member(services, "dirk")
    network = await network_id_of(services, anna, "woonoverlast")
    root = await post(services, anna, network, "Vraag over kamerverhuur")
    await post(services, bram, network, "Antwoord van @cees graag", thread_root_id=root["id"])
    # anna (asker) gets a reply notification; cees is mentioned (one mention, not also a reply).
    assert [m["kind"] for m in (await list_mentions(services, anna))["mentions"]] == ["reply"]
    assert [m["kind"] for m in (await list_mentions(services, cees))["mentions"]] == ["mention"]
    await set_following(services, dirk, root["id"], True)
    await set_following(services, anna, root["id"], False)
    await post(
        services, cees, network, "Zie artikel 2.1 Huisvestingswet", thread_root_id=root["id"]
    )
    assert len((await list_mentions(services, anna))["mentions"]) == 1, "anna unfollowed"
    assert [m["kind"] for m in (await list_mentions(services, bram))["mentions"]] == ["reply"]
    assert [m["kind"] for m in (await list_mentions(services, dirk))["mentions"]] == ["reply"]
    frames = [json.loads(f) for f in await notification_frames_since(services, dirk, 0)]
    assert frames[0]["notification"]["message"]["thread_root_id"] == root["id"]


async def test_the_asker_accepts_an_answer_as_a_replayed_event(services: Services) -> None:
    anna = await member(services, "anna")
    bram = await member(services, "bram")
    cees = await member(services, "cees")
    network = await network_id_of(services, anna, "woonoverlast")
    question = await post(services, anna, network, "Mag dit?", kind="question", tags="bbl, sloop")
    assert question["kind"] == "question" and question["tags"] == ["bbl", "sloop"]
    first = await post(services, bram, network, "Nee", thread_root_id=question["id"])
    second = await post(
        services, cees, network, "Ja, onder voorwaarden", thread_root_id=question["id"]
    )
    with pytest.raises(ActionError) as refused:
        await accept_answer(services, bram, question["id"], first["id"])
    assert refused.value.code == "not_allowed"
    accepted = await accept_answer(services, anna, question["id"], first["id"])
    assert accepted["message"]["accepted_answer"]["id"] == first["id"]
    changed = await accept_answer(services, anna, question["id"], second["id"])
    assert changed["seq"] == accepted["seq"] + 1
    events = [json.loads(f) for f in await backlog_frames(services, cees, network, second["seq"])]
    assert [e["kind"] for e in events] == ["question.answered", "question.answered"]
    assert events[-1]["message"]["accepted_answer"]["body"] == "Ja, onder voorwaarden"
    # A moderator may change it too.
    beheer = await register_user(services.db, registration("beheer"), is_admin=True)
    await set_moderator(services.db, beheer, network, "bram", True)
    await accept_answer(services, bram, question["id"], first["id"])
    with pytest.raises(ActionError):
        await accept_answer(services, anna, question["id"], question["id"])
    answered = await list_posts(services, cees, network_id=network, state="answered")
    assert [p["message"]["id"] for p in answered["posts"]] == [question["id"]]
    assert (await list_posts(services, cees, network_id=network, state="open"))["posts"] == []


async def test_unmarking_opens_the_question_again_as_a_replayed_event(
    services: Services,
) -> None:
    anna = await member(services, "anna")
    bram = await member(services, "bram")
    network = await network_id_of(services, anna, "woonoverlast")
    question = await post(services, anna, network, "Is een B&B logies?", kind="question")
    reply = await post(services, bram, network, "Ja, meestal wel.", thread_root_id=question["id"])
    accepted = await accept_answer(services, anna, question["id"], reply["id"])
    assert (await search_messages(services, bram, "logies", state="answered"))["results"]

    with pytest.raises(ActionError) as refused:
        await unmark_answer(services, bram, question["id"])
    assert refused.value.code == "not_allowed"
    unmarked = await unmark_answer(services, anna, question["id"])
    assert unmarked["seq"] == accepted["seq"] + 1
    assert unmarked["message"]["accepted_answer"] is None
    events = [json.loads(f) for f in await backlog_frames(services, bram, network, reply["seq"])]
    assert [(e["kind"], e["message"]["accepted_answer"]) for e in events][-1] == (
        "question.answered",
        None,
    )
    # Open again everywhere: the question lists, the knowledge base, search and the thread.
    opened = await list_posts(services, bram, network_id=network, state="open")
    assert [p["message"]["id"] for p in opened["posts"]] == [question["id"]]
    assert (await list_posts(services, bram, knowledge=True))["posts"] == []
    assert (await search_messages(services, bram, "logies", state="answered"))["results"] == []
    assert (await read_thread(services, bram, question["id"]))["root"]["accepted_answer"] is None

    # Unmarking an open question (or marking the marked reply) changes nothing: no event.
    assert (await unmark_answer(services, anna, question["id"]))["seq"] is None
    again = await accept_answer(services, anna, question["id"], reply["id"])
    assert (await accept_answer(services, anna, question["id"], reply["id"]))["seq"] is None
    assert (await history_page(services, anna, network))["last_seq"] == again["seq"]


async def test_admins_appoint_moderators_who_mark_answers(services: Services) -> None:
    anna = await member(services, "anna")
    bram = await member(services, "bram")
    cees = await register_user(services.db, registration("cees"))  # not a member (yet)
    beheer = await register_user(services.db, registration("beheer"), is_admin=True)
    network = await network_id_of(services, anna, "woonoverlast")
    question = await post(services, anna, network, "Wie mag dit markeren?", kind="question")
    reply = await post(services, bram, network, "De moderator", thread_root_id=question["id"])

    # Only an administrator appoints; anyone else is refused and nothing changes.
    for outsider in (anna, bram):
        with pytest.raises(ActionError) as refused:
            await set_moderator(services.db, outsider, network, "bram", True)
        assert (refused.value.code, refused.value.status) == ("forbidden", 403)
    assert (await list_moderators(services.db, beheer, [network]))[network] == []
    with pytest.raises(ActionError):
        await accept_answer(services, bram, question["id"], reply["id"])
    assert not (await read_thread(services, bram, question["id"]))["can_accept"]

    moderators = await set_moderator(services.db, beheer, network, "Bram", True)
    assert [m["username"] for m in moderators] == ["bram"]
    assert (await read_thread(services, bram, question["id"]))["can_accept"]
    accepted = await accept_answer(services, bram, question["id"], reply["id"])
    assert accepted["message"]["accepted_answer"]["id"] == reply["id"]

    # A moderator who was not a member becomes one; the role is per network.
    await set_moderator(services.db, beheer, network, "cees", True)
    async with services.db.read() as session:
        assert (await session.get(Membership, (network, cees.id))).role == "moderator"  # type: ignore[union-attr]
    other = await network_id_of(services, anna, "asbest")
    assert (await list_moderators(services.db, beheer, [other]))[other] == []

    # Taking the role away takes the right away; bram stays a member.
    assert [
        m["username"] for m in await set_moderator(services.db, beheer, network, "bram", False)
    ] == ["cees"]
    with pytest.raises(ActionError) as refused:
        await accept_answer(services, bram, question["id"], None)
    assert refused.value.code == "not_allowed"
    assert not (await read_thread(services, bram, question["id"]))["can_accept"]
    async with services.db.read() as session:
        assert (await session.get(Membership, (network, bram.id))).role == "member"  # type: ignore[union-attr]
    with pytest.raises(ActionError) as unknown:
        await set_moderator(services.db, beheer, network, "niemand", True)
    assert unknown.value.code == "user_not_found"


async def test_knowledge_lists_answered_questions_and_typed_posts(services: Services) -> None:
    anna = await member(services, "anna")
    await member(services, "anna2", slug="asbest")
    network = await network_id_of(services, anna, "woonoverlast")
    open_question = await post(services, anna, network, "Open vraag", kind="question")
    lesson = await post(
        services, anna, network, "Leerpunt: eerst horen", kind="lesson", tags="zienswijze"
    )
    await post(services, anna, network, "Gewoon bericht")
    example = await post(services, anna, network, "Goed voorbeeld", kind="good_example")
    listed = await list_posts(services, anna, network_id=network, knowledge=True)
    assert [p["message"]["id"] for p in listed["posts"]] == [example["id"], lesson["id"]]
    by_tag = await list_posts(services, anna, knowledge=True, tag="#Zienswijze")
    assert [p["message"]["id"] for p in by_tag["posts"]] == [lesson["id"]]
    questions = await list_posts(services, anna, network_id=network)
    assert [p["message"]["id"] for p in questions["posts"]] == [open_question["id"]]
    with pytest.raises(ActionError):
        await post(services, anna, network, "x", kind="roddel")


async def test_search_understands_dutch_words_accents_and_codes(services: Services) -> None:
    anna = await member(services, "anna")
    network = await network_id_of(services, anna, "woonoverlast")
    texts = [
        "Kamerverhuur in drie woningen aan de Oudegracht",
        "De financiële onderbouwing van de last onder dwangsom",
        "Volgens artikel 5.1.2 van het besluit mag het niet",
        "Zie Bbl 4.172 over brandveiligheid van logiesfuncties",
        "Het rapport staat in handhavingsrapport_2024-v2.pdf",
        "Het bouw-en-woningtoezicht kijkt mee",
    ]
    for text in texts:
        await post(services, anna, network, text)
    assert await found(services, anna, "woning") == [texts[0]]
    assert await found(services, anna, "financiele onderbouwing") == [texts[1]]
    assert await found(services, anna, "FINANCIËLE") == [texts[1]]
    assert await found(services, anna, "artikel 5.1") == [texts[2]]
    assert await found(services, anna, "5.1.2") == [texts[2]]
    assert await found(services, anna, "Bbl 4.172") == [texts[3]]
    assert await found(services, anna, "4.17") == [], "a code matches whole, not by characters"
    assert await found(services, anna, "handhavingsrapport_2024-v2.pdf") == [texts[4]]
    assert await found(services, anna, "handhavingsrapport") == [texts[4]]
    assert await found(services, anna, "bouw-en-woningtoezicht") == [texts[5]]
    assert await found(services, anna, "woningtoezicht") == [texts[5]]
    assert await found(services, anna, "de het") == [], "stop words alone find nothing"
    results = (await search_messages(services, anna, "woningen"))["results"]
    assert "<mark>woningen</mark>" in results[0]["snippet"]
    assert results[0]["network"]["slug"] == "woonoverlast"


async def test_search_snippets_show_short_messages_whole(services: Services) -> None:
    anna = await member(services, "anna")
    network = await network_id_of(services, anna, "woonoverlast")
    short = "Wie, wat, waar en wanneer: de kamerverhuur aan de Oudegracht"
    long = " ".join(["Een lange inleiding zonder het zoekwoord."] * 12) + " Dan kamerverhuur."
    await post(services, anna, network, short)
    await post(services, anna, network, long)
    results = (await search_messages(services, anna, "kamerverhuur"))["results"]
    snippets = {r["message"]["body"]: r["snippet"] for r in results}
    assert snippets[short] == short.replace("kamerverhuur", "<mark>kamerverhuur</mark>")
    assert snippets[long].startswith("… ") and snippets[long].endswith("<mark>kamerverhuur.</mark>")


async def test_search_ranks_relevant_and_answered_first_and_filters(services: Services) -> None:
    anna = await member(services, "anna")
    bram = await member(
        services, "bram", organisation_name="ODRU", organisation_type="omgevingsdienst"
    )
    network = await network_id_of(services, anna, "woonoverlast")
    long_once = await post(
        services, anna, network,
        "Een lang verhaal over vergunningen, termijnen, bezwaar en beroep, zienswijzen, "
        "hoorzittingen en uiteindelijk ook over recreatiewoningen aan het einde",
    )  # fmt: skip
    focused = await post(
        services, bram, network, "Recreatiewoning permanent bewonen? Recreatiewoningen!"
    )
    question = await post(services, anna, network, "Handhaving recreatiewoning?", kind="question")
    reply = await post(
        services, bram, network, "Ja, bij recreatiewoningen", thread_root_id=question["id"]
    )
    bodies = await found(services, anna, "recreatiewoning")
    assert bodies.index(focused["body"]) < bodies.index(long_once["body"])
    assert bodies[0] != question["body"], "before it is answered, the question is not first"
    await accept_answer(services, anna, question["id"], reply["id"])
    assert (await found(services, anna, "recreatiewoning"))[0] == question["body"]
    by_author = await found(services, anna, "recreatiewoning", author="bram")
    assert set(by_author) == {reply["body"], focused["body"]}
    by_org = await found(services, anna, "recreatiewoning", organisation_type="omgevingsdienst")
    assert set(by_org) == {reply["body"], focused["body"]}
    assert await found(services, anna, "recreatiewoning", kind="question") == [question["body"]]
    assert await found(services, anna, "recreatiewoning", state="answered") == [question["body"]]
    assert await found(services, anna, "recreatiewoning", state="open") == []
    await accept_answer(services, anna, question["id"], None)
    assert await found(services, anna, "recreatiewoning", state="open") == [question["body"]]
    assert await found(services, anna, "recreatiewoning", state="answered") == []
    await accept_answer(services, anna, question["id"], reply["id"])
    assert await found(services, anna, "recreatiewoning", date_to="2000-01-01") == []
    assert len(await found(services, anna, "recreatiewoning", date_from="2000-01-01")) == 4
    other = await network_id_of(services, anna, "asbest")
    assert await found(services, anna, "recreatiewoning", network_id=other) == []


async def test_similar_questions_in_other_words_answered_first(services: Services) -> None:
    anna = await member(services, "anna")
    bram = await member(services, "bram")
    network = await network_id_of(services, anna, "woonoverlast")
    open_q = await post(
        services, anna, network, "Recreatiewoningen en toeristische verhuur", kind="question"
    )
    answered = await post(
        services,
        anna,
        network,
        "Mag een recreatiewoning permanent bewoond worden?",
        kind="question",
    )
    await post(services, anna, network, "Permanente bewoning is een probleem")  # not a question
    reply = await post(
        services,
        bram,
        network,
        "Nee, alleen met een persoonsgebonden beschikking",
        thread_root_id=answered["id"],
    )
    await accept_answer(services, anna, answered["id"], reply["id"])
    suggestions = await similar_questions(
        services, bram, "Is permanente bewoning van recreatiewoningen toegestaan"
    )
    ids = [s["message"]["id"] for s in suggestions]
    assert ids == [answered["id"], open_q["id"]]
    assert suggestions[0]["message"]["accepted_answer"]["id"] == reply["id"]
    half_typed = await similar_questions(services, bram, "recreatiewon")
    assert answered["id"] in [s["message"]["id"] for s in half_typed]
    assert await similar_questions(services, bram, "de") == []


async def test_nothing_from_a_private_network_reaches_outsiders(services: Services) -> None:
    admin = await register_user(services.db, registration("beheer"), is_admin=True)
    secret = await create_network(services.db, admin, "geheim", "Geheim", "", True)
    eva = await register_user(services.db, registration("eva"))
    piet = await register_user(services.db, registration("piet"))
    await add_member(services.db, admin, secret["id"], "eva")
    await add_member(services.db, admin, secret["id"], "piet")
    question = await post(
        services, eva, secret["id"], "Geheime ondermijningsvraag over vastgoed", kind="question"
    )
    reply = await post(
        services, admin, secret["id"], "Geheim ondermijningsantwoord", thread_root_id=question["id"]
    )
    await accept_answer(services, eva, question["id"], reply["id"])
    await set_following(services, piet, question["id"], True)

    outsider = await register_user(services.db, registration("olaf"))

    async def sees_nothing(user: User) -> None:
        with pytest.raises(ActionError) as hidden:
            await read_thread(services, user, question["id"])
        assert hidden.value.code == "message_not_found"
        with pytest.raises(ActionError):
            await history_page(services, user, secret["id"])
        with pytest.raises(ActionError):
            await set_following(services, user, question["id"], True)
        with pytest.raises(ActionError):
            await accept_answer(services, user, question["id"], None)
        assert await found(services, user, "ondermijningsvraag") == []
        assert await found(services, user, "ondermijningsantwoord") == []
        with pytest.raises(ActionError):
            await search_messages(services, user, "vastgoed", network_id=secret["id"])
        assert await similar_questions(services, user, "ondermijningsvraag vastgoed") == []
        assert (await list_posts(services, user, knowledge=True))["posts"] == []
        with pytest.raises(ActionError):
            await list_posts(services, user, network_id=secret["id"])

    await sees_nothing(outsider)
    assert await found(services, piet, "ondermijningsvraag") == [question["body"]]
    assert len(await similar_questions(services, piet, "ondermijningsvraag")) == 1
    await post(
        services, eva, secret["id"], "Nog een geheim antwoord", thread_root_id=question["id"]
    )
    assert (await list_mentions(services, piet))["unread"] == 1
    await leave_network(services, piet, secret["id"])
    await sees_nothing(piet)
    assert await list_mentions(services, piet) == {"mentions": [], "unread": 0}
    assert await notification_frames_since(services, piet, 0) == []
    await post(services, eva, secret["id"], "Na vertrek", thread_root_id=question["id"])
    assert await notification_frames_since(services, piet, 0) == [], "no reply notifications"


async def test_demo_loads_marked_examples_and_removes_them(services: Services) -> None:
    from chat.demo import load_demo, remove_demo

    anna = await member(services, "anna", slug="recreatieparken")
    network = await network_id_of(services, anna, "recreatieparken")
    mine = await post(
        services, anna, network, "Eigen vraag over recreatiewoningen", kind="question"
    )
    assert await load_demo(services) == 8
    results = (await search_messages(services, anna, "recreatiewoning permanent"))["results"]
    assert results[0]["message"]["is_demo"] and results[0]["answered"]
    assert (await list_posts(services, anna, knowledge=True))["posts"]
    async with services.db.read() as session:
        jurist = await session.scalar(select(User).where(User.username == "voorbeeld-jurist"))
    assert jurist is not None
    demo_answer = await post(services, jurist, network, "Voorbeeld", thread_root_id=mine["id"])
    await accept_answer(services, anna, mine["id"], demo_answer["id"])
    assert mine["body"] in await found(services, anna, "recreatiewoning", state="answered")
    assert await remove_demo(services) == 9, "the examples and the demo answer to a real question"
    assert await found(services, anna, "recreatiewoning") == [mine["body"]]
    assert await found(services, anna, "recreatiewoning", state="open") == [mine["body"]]
    assert await found(services, anna, "recreatiewoning", state="answered") == []
    assert (await list_posts(services, anna, knowledge=True))["posts"] == []
    assert [m["id"] for m in (await history_page(services, anna, network))["messages"]] == [
        mine["id"]
    ]


async def test_postgres_search_statements_share_their_plan_settings(services: Services) -> None:
    """Search sets custom plans and no parallel workers for its own transaction (see
    chat.actions.search): its ranking statements must run in that transaction, not in the
    autocommit mode of other reads, or the settings are gone and a generic plan blind to how
    common the words are takes over (4x slower at a million messages)."""
    if services.db.is_sqlite:
        pytest.skip("SQLite needs no plan settings")
    anna = await member(services, "anna")
    network = await network_id_of(services, anna, "woonoverlast")
    await post(services, anna, network, "Kamerverhuur, vraag?", kind="question")
    ranking: list[object] = []

    def record(connection: Any, cursor: Any, statement: str, *_: Any) -> None:
        if "ts_rank" in statement:
            ranking.append(connection.get_execution_options().get("isolation_level"))

    event.listen(services.db.engine.sync_engine, "before_cursor_execute", record)
    try:
        assert await found(services, anna, "kamerverhuur") == ["Kamerverhuur, vraag?"]
        assert len(await similar_questions(services, anna, "kamerverhuur vraag")) == 1
    finally:
        event.remove(services.db.engine.sync_engine, "before_cursor_execute", record)
    assert len(ranking) == 2
    assert "AUTOCOMMIT" not in ranking
