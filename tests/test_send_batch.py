"""Sends stored together in one transaction (group commit), on both stacks.

Every test checks that its sends really shared a transaction (``batches``), then that each send
still behaves as if it had been stored on its own.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import pytest

from chat.actions import Services, send_batch
from chat.actions.messages import backlog_frames, history_page, send_message
from chat.actions.networks import join_network, leave_network
from chat.actions.notifications import list_mentions, notification_frames_since
from chat.actions.posts import check_post
from chat.actions.threads import read_thread
from chat.errors import ActionError
from chat.models import User
from tests.test_actions import member, network_id_of


@pytest.fixture
def batches(services: Services, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The size of every batch written, in order."""
    sizes: list[int] = []
    write_batch = services.db.write_batch

    async def counting(work: Callable[..., Any]) -> Any:
        sizes.append(len(work.keywords["sends"]))  # type: ignore[attr-defined]
        return await write_batch(work)

    monkeypatch.setattr(services.db, "write_batch", counting)
    return sizes


async def drain(live: Any, count: int) -> list[dict[str, Any]]:
    return [json.loads((await asyncio.wait_for(live.get(), 5))[1]) for _ in range(count)]


async def test_a_batch_gets_gapless_seqs_per_network_in_commit_order(
    services: Services, batches: list[int]
) -> None:
    anna = await member(services, "anna")
    bram = await member(services, "bram")
    woon = await network_id_of(services, anna, "woonoverlast")
    asbest = await network_id_of(services, anna, "asbest")
    await join_network(services.db, anna, asbest)
    await join_network(services.db, bram, asbest)
    sends = [
        (who, network, f"batch-{i:04d}")
        for i, (who, network) in enumerate([(anna, woon), (bram, asbest), (bram, woon)] * 10)
    ]
    async with (
        services.broker.subscribe(f"network:{woon}") as live_woon,
        services.broker.subscribe(f"network:{asbest}") as live_asbest,
    ):
        results = await asyncio.gather(
            *[send_message(services, who, net, cid, f"bericht {cid}") for who, net, cid in sends]
        )
        published_woon = await drain(live_woon, 20)
        published_asbest = await drain(live_asbest, 10)
    assert batches == [30], "all thirty shared one transaction"
    # Within a network, seqs follow arrival order and are published (after the commit) in order.
    for network, published, count in ((woon, published_woon, 20), (asbest, published_asbest, 10)):
        mine = [r.message for r in results if r.message["network_id"] == network]
        assert [m["seq"] for m in mine] == list(range(1, count + 1))
        assert [p["seq"] for p in published] == list(range(1, count + 1))
        assert [p["message"]["id"] for p in published] == [m["id"] for m in mine]
    # Acknowledged is stored, and the acknowledgement is what a fresh read shows.
    for network in (woon, asbest):
        page = await history_page(services, anna, network)
        acked = [r.message for r in results if r.message["network_id"] == network]
        assert page["messages"] == acked
        frames = await backlog_frames(services, anna, network, 0)
        assert [json.loads(f)["message"] for f in frames] == acked
    assert not any(r.duplicate for r in results)


async def test_batches_follow_each_other_without_gaps(
    services: Services, batches: list[int]
) -> None:
    users = [await member(services, f"lid{i}") for i in range(5)]
    network = await network_id_of(services, users[0], "woonoverlast")

    async def keep_sending(user: User) -> list[int]:
        return [
            (await send_message(services, user, network, f"u{user.id}-n{n:04d}", "tekst")).message[
                "seq"
            ]
            for n in range(12)
        ]

    async with services.broker.subscribe(f"network:{network}") as live:
        per_user = await asyncio.gather(*[keep_sending(u) for u in users])
        published = await drain(live, 60)
    assert [p["seq"] for p in published] == list(range(1, 61)), "published in commit order"
    assert sorted(s for seqs in per_user for s in seqs) == list(range(1, 61))
    assert all(seqs == sorted(seqs) for seqs in per_user), "one sender's seqs keep its order"
    assert len(batches) < 60 and max(batches) > 1
    frames = await backlog_frames(services, users[0], network, 0)
    assert [json.loads(f)["seq"] for f in frames] == list(range(1, 61))


async def test_a_retried_client_id_is_stored_once_in_and_across_batches(
    services: Services, batches: list[int]
) -> None:
    anna = await member(services, "anna")
    bram = await member(services, "bram")
    network = await network_id_of(services, anna, "woonoverlast")
    first, retry, other, same_id_other_author = await asyncio.gather(
        send_message(services, anna, network, "retry-0001", "één keer"),
        send_message(services, anna, network, "retry-0001", "één keer"),
        send_message(services, anna, network, "retry-0002", "iets anders"),
        send_message(services, bram, network, "retry-0001", "van bram"),
    )
    assert batches == [4]
    assert not first.duplicate and retry.duplicate
    assert retry.message == first.message
    assert not other.duplicate and not same_id_other_author.duplicate
    assert [first.message["seq"], other.message["seq"], same_id_other_author.message["seq"]] == [
        1,
        2,
        3,
    ]
    # Across batches: a later batch answers with the original, as it is now.
    again, fresh = await asyncio.gather(
        send_message(services, anna, network, "retry-0001", "één keer"),
        send_message(services, anna, network, "retry-0003", "nieuw"),
    )
    # The unique index finds the stored client_id; the batch is stored again with a lookup.
    assert batches == [4, 2, 2]
    assert again.duplicate and again.message == first.message
    assert fresh.message["seq"] == 4
    page = await history_page(services, anna, network)
    assert [m["body"] for m in page["messages"]] == ["één keer", "iets anders", "van bram", "nieuw"]


async def test_a_refused_send_fails_alone(services: Services, batches: list[int]) -> None:
    anna = await member(services, "anna")
    bram = await member(services, "bram")
    network = await network_id_of(services, anna, "woonoverlast")
    asbest = await network_id_of(services, anna, "asbest")
    root = (await send_message(services, anna, network, "root-0001", "Een vraag")).message
    reply = (
        await send_message(
            services, bram, network, "reply-001", "antwoord", check_post(thread_root_id=root["id"])
        )
    ).message
    batches.clear()
    async with services.broker.subscribe(f"network:{network}") as live:
        results = await asyncio.gather(
            send_message(services, anna, network, "ok-000001", "goed 1"),
            send_message(services, anna, asbest, "notmember", "niet lid"),
            send_message(services, anna, network, "toolong01", "x" * 4001),
            send_message(services, anna, 999_999, "nonetwork", "bestaat niet"),
            send_message(
                services, anna, network, "nested-01", "nest", check_post(thread_root_id=reply["id"])
            ),
            send_message(
                services, anna, network, "noroot-01", "weg", check_post(thread_root_id=10**9)
            ),
            send_message(services, bram, network, "ok-000002", "goed 2"),
            return_exceptions=True,
        )
        published = await drain(live, 2)
    codes = [r.code if isinstance(r, ActionError) else "ok" for r in results]
    assert codes == [
        "ok",
        "not_a_member",
        "body_too_long",
        "network_not_found",
        "not_a_thread_root",
        "message_not_found",
        "ok",
    ]
    assert batches == [6], "the too-long body never queued; the other refusals were in the batch"
    stored = [results[0].message, results[6].message]  # type: ignore[union-attr]
    assert [m["seq"] for m in stored] == [3, 4], "refused sends take no seq"
    assert [p["seq"] for p in published] == [3, 4]
    assert (await history_page(services, anna, asbest))["messages"] == []


async def test_mentions_and_replies_in_one_batch_all_notify(
    services: Services, batches: list[int]
) -> None:
    anna = await member(services, "anna")
    bram = await member(services, "bram")
    cees = await member(services, "cees")
    await member(services, "dirk", slug="asbest")  # a user, not a member here
    network = await network_id_of(services, anna, "woonoverlast")
    root = (await send_message(services, anna, network, "root-0001", "Vraag")).message
    batches.clear()
    async with (
        services.broker.subscribe(f"user:{bram.id}") as bram_live,
        services.broker.subscribe(f"user:{anna.id}") as anna_live,
    ):
        results = await asyncio.gather(
            send_message(services, anna, network, "m-000001", "@bram kijk even"),
            send_message(services, cees, network, "m-000002", "@bram @anna @dirk @niemand ook"),
            send_message(
                services,
                bram,
                network,
                "r-000001",
                "eerste antwoord",
                check_post(thread_root_id=root["id"]),
            ),
            send_message(
                services,
                cees,
                network,
                "r-000002",
                "tweede antwoord @bram",
                check_post(thread_root_id=root["id"]),
            ),
        )
        to_bram = await drain(bram_live, 3)
        to_anna = await drain(anna_live, 3)
    assert batches == [4]
    assert [r.message["mentions"] for r in results] == [["bram"], ["anna", "bram"], [], ["bram"]]
    assert results[1].unnotified_mentions == ["dirk"]
    # bram: two mentions, then a mention in a reply (not also a reply notification).
    assert [(f["user_seq"], f["notification"]["kind"]) for f in to_bram] == [
        (1, "mention"),
        (2, "mention"),
        (3, "mention"),
    ]
    # anna: mentioned once, and as the asker notified of both replies.
    assert [(f["user_seq"], f["notification"]["kind"]) for f in to_anna] == [
        (1, "mention"),
        (2, "reply"),
        (3, "reply"),
    ]
    assert [json.loads(f) for f in await notification_frames_since(services, bram, 0)] == to_bram
    assert (await list_mentions(services, anna))["unread"] == 3
    # cees is not notified of his own reply; bram follows after replying, cees after his.
    assert await notification_frames_since(services, cees, 0) == []
    thread = await read_thread(services, anna, root["id"])
    assert thread["root"]["reply_count"] == 2
    assert thread["root"]["last_reply"]["id"] == results[3].message["id"]
    frames = [json.loads(f) for f in await backlog_frames(services, anna, network, root["seq"])]
    assert [f["thread"]["reply_count"] for f in frames if "thread" in f] == [1, 2]
    later = await send_message(
        services, anna, network, "r-000003", "dank", check_post(thread_root_id=root["id"])
    )
    assert not later.duplicate
    followers = {
        name: [json.loads(f)["notification"]["kind"] for f in frames]
        for name, frames in [
            ("bram", await notification_frames_since(services, bram, 3)),
            ("cees", await notification_frames_since(services, cees, 0)),
        ]
    }
    assert followers == {"bram": ["reply"], "cees": ["reply"]}


async def test_a_retry_answers_with_the_original_where_it_could_not_be_sent_now(
    services: Services, batches: list[int]
) -> None:
    anna = await member(services, "anna")
    bram = await member(services, "bram")
    network = await network_id_of(services, anna, "woonoverlast")
    first = await send_message(services, anna, network, "left-0001", "voor het vertrek")
    await leave_network(services, anna, network)
    batches.clear()
    # Alone, and in a batch with others' new sends: the same answer, the original message.
    alone = await send_message(services, anna, network, "left-0001", "voor het vertrek")
    elsewhere = await send_message(services, anna, 999_999, "left-0001", "voor het vertrek")
    together, fresh = await asyncio.gather(
        send_message(services, anna, network, "left-0001", "voor het vertrek"),
        send_message(services, bram, network, "left-0002", "van bram"),
    )
    assert batches == [1, 1, 2], "no batch failed on the unique index"
    for retry in (alone, elsewhere, together):
        assert retry.duplicate and retry.message == first.message
    assert not fresh.duplicate and fresh.message["seq"] == 2
    with pytest.raises(ActionError) as refused:  # a new send there is refused, as before
        await send_message(services, anna, network, "left-0003", "na het vertrek")
    assert refused.value.code == "not_a_member"


async def test_a_conflict_in_a_batch_is_redone_send_by_send(
    services: Services, batches: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    anna = await member(services, "anna")
    network = await network_id_of(services, anna, "woonoverlast")
    first = await send_message(services, anna, network, "race-0001", "eerst")
    # As if another node stored the same client_id between the lookup (on the batch's second
    # try, after the unique index refused the first) and the insert.
    real = send_batch._stored_client_ids
    blind = iter([True])
    monkeypatch.setattr(
        send_batch,
        "_stored_client_ids",
        lambda connection, sends: {} if next(blind, False) else real(connection, sends),
    )
    batches.clear()
    retried, other = await asyncio.gather(
        send_message(services, anna, network, "race-0001", "eerst"),
        send_message(services, anna, network, "race-0002", "daarna"),
    )
    assert batches == [2, 2, 1, 1], "the batch, again with the lookup, then each send alone"
    assert retried.duplicate and retried.message == first.message
    assert not other.duplicate and other.message["seq"] == 2
    frames = await backlog_frames(services, anna, network, 0)
    assert [json.loads(f)["seq"] for f in frames] == [1, 2]


async def test_a_sender_that_went_away_before_its_batch_is_dropped(
    services: Services, batches: list[int]
) -> None:
    anna = await member(services, "anna")
    network = await network_id_of(services, anna, "woonoverlast")
    kept = asyncio.ensure_future(send_message(services, anna, network, "kept-0001", "blijft"))
    gone = asyncio.ensure_future(send_message(services, anna, network, "gone-0001", "weg"))
    await asyncio.sleep(0)  # both are queued; the batch has not started
    gone.cancel()
    assert (await kept).message["seq"] == 1
    assert batches == [1]
    assert [m["body"] for m in (await history_page(services, anna, network))["messages"]] == [
        "blijft"
    ]
