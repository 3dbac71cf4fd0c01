"""Adversarial: floods with subscribe churn, mentions, abrupt disconnects, stalled readers."""

from __future__ import annotations

import asyncio
import json
import os
import random

import pytest
from websockets.exceptions import ConnectionClosed

from tests.adversarial.stream_check import (
    FAST,
    SCALE,
    Reader,
    churn,
    ends_clean,
    flood,
    last_seqs,
    members_of_networks,
    raw,
)


async def test_flood_with_subscribe_churn_and_mentions(start_server) -> None:
    server = start_server(**FAST)
    users, networks = await members_of_networks(server, 6, 4)
    readers = []
    for u in users[:4]:
        for j in range(3):
            r = await Reader(u, f"{u.username}/{j}").open()
            readers.append(r)
            for n in networks:
                await r.subscribe(n, 0)
    for r in readers:
        await r.wait_for(lambda r=r: all(r.check.net(n).on for n in networks))

    senders = [await raw(u) for u in users]
    churn_stop = asyncio.Event()
    churners = [
        asyncio.create_task(churn(r, networks, churn_stop, (0.005, 0.05), True))
        for r in readers[::2]
    ]
    total = 150 * SCALE
    acks = await flood(senders, networks, total, mention=[u.username for u in users[:4]])
    churn_stop.set()
    await asyncio.gather(*churners)
    assert acks == total * len(senders)
    finals = await last_seqs(users[0], networks)
    for r in readers:
        # settle pending subscribes
        await r.wait_for(lambda r=r: all(not r.check.net(n).pending for n in networks))
        await r.wait_for(
            lambda r=r: all(
                r.check.net(n).last == finals[n] or not r.check.net(n).on for n in networks
            )
        )
    problems = [p for r in readers for p in r.check.problems]
    assert not problems, problems
    for r in readers:
        await r.ws.close()
    for s in senders:
        await s.close()
    await ends_clean([server], users)


async def test_abrupt_disconnects_and_server_closes_during_a_flood(start_server) -> None:
    server = start_server(**FAST)
    users, networks = await members_of_networks(server, 4, 3)
    steady = await Reader(users[1], "steady").open()
    for n in networks:
        await steady.subscribe(n, 0)
    senders = [await raw(u) for u in users]
    stop = asyncio.Event()
    stats = {"aborted": 0, "too_big": 0, "closed": 0, "flood": 0}

    async def victims() -> None:
        rnd = random.Random(1)
        while not stop.is_set():
            r = await Reader(rnd.choice(users), "victim").open()
            for n in networks:
                await r.subscribe(n, 0)
            await asyncio.sleep(rnd.uniform(0.0, 0.05))
            how = rnd.random()
            only = os.environ.get("ADV_ONLY")
            if only:
                how = {"abort": 0.1, "too_big": 0.4, "flood": 0.6, "close": 0.9}[only]
            if how < 0.35:
                r.ws.transport.abort()
                stats["aborted"] += 1
            elif how < 0.55:
                try:
                    await r.ws.send(json.dumps({"type": "ping", "pad": "x" * 70000}))
                except ConnectionClosed:
                    pass
                stats["too_big"] += 1
            elif how < 0.75:
                try:
                    for _ in range(200):
                        await r.ws.send('{"type":"ping"}')
                except ConnectionClosed:
                    pass
                stats["flood"] += 1
            else:
                await r.ws.close()
                stats["closed"] += 1
            try:
                await asyncio.wait_for(r.task, 5)
            except TimeoutError:
                r.ws.transport.abort()

    tasks = [asyncio.create_task(victims()) for _ in range(6)]
    total = 200 * SCALE
    acks = await flood(senders, networks, total, body_size=300)
    stop.set()
    await asyncio.gather(*tasks)
    assert acks == total * len(senders)
    finals = await last_seqs(users[0], networks)
    await steady.wait_for(lambda: all(steady.check.net(n).last == finals[n] for n in networks))
    assert not steady.check.problems, steady.check.problems
    await steady.ws.close()
    for s in senders:
        await s.close()
    # Aborted sockets' queued subscribes are still worked through: give them a while.
    await ends_clean([server], users, within=30)


async def test_stalled_readers_are_cut_off_and_catch_up(start_server) -> None:
    server = start_server(**FAST, BWT_SEND_TIMEOUT_SECONDS="1", BWT_SOCKET_QUEUE_SIZE="200")
    users, networks = await members_of_networks(server, 3, 2)
    steady = await Reader(users[1], "steady").open()
    stalled = []
    for i in range(4):
        r = Reader(users[2], f"stalled{i}")
        await r.open(rcvbuf=4096)
        stalled.append(r)
    for r in [steady, *stalled]:
        for n in networks:
            await r.subscribe(n, 0)
        await r.wait_for(lambda r=r: all(r.check.net(n).on for n in networks))
    # stop reading: cancel the read task (the library then stops reading from TCP)
    for r in stalled:
        r.task.cancel()
    senders = [await raw(u) for u in users[:2]]
    total = 150 * SCALE
    acks = await flood(senders, networks, total, body_size=3000, mention=[users[2].username])
    assert acks == total * len(senders)
    finals = await last_seqs(users[0], networks)
    await steady.wait_for(lambda: all(steady.check.net(n).last == finals[n] for n in networks), 30)
    assert not steady.check.problems
    for r in stalled:
        r.task = asyncio.create_task(r.read())
        await asyncio.wait_for(r.task, 30)
        code = getattr(getattr(r.closed, "rcvd", None), "code", None)
        assert code in (4001, None), (r.check.name, code)
        assert not r.check.problems, r.check.problems
        again = await Reader(users[2], r.check.name + "-again").open()
        again.check.networks = {
            n: type(s)(on=False, last=s.last) for n, s in r.check.networks.items()
        }
        for n in networks:
            await again.subscribe(n, r.check.net(n).last)
        await again.wait_for(
            lambda a=again: all(
                a.check.net(n).last == finals[n] and a.check.net(n).on for n in networks
            ),
            30,
        )
        assert not again.check.problems, again.check.problems
        await again.ws.close()
    await steady.ws.close()
    for s in senders:
        await s.close()
    await ends_clean([server], users)


async def test_logout_and_leaving_a_private_network_during_a_flood(start_server) -> None:
    from tests.client import make_admin

    server = start_server(**FAST)
    admin = await make_admin(server, "beheerder")
    private = await admin.create_private_network("geheim", "Geheim")
    users = [await server.user(f"user{i}").register() for i in range(3)]
    for u in users:
        r = await admin.api(
            "POST", f"/api/admin/networks/{private}/members", json={"username": u.username}
        )
        assert r.status_code in (200, 201), r.text
    networks = [private]
    leaver_user, logout_user = users[1], users[2]
    leavers = [await Reader(leaver_user, f"leaver{i}").open() for i in range(3)]
    outs = [await Reader(logout_user, f"out{i}").open() for i in range(3)]
    for r in [*leavers, *outs]:
        await r.subscribe(private, 0)
        await r.wait_for(lambda r=r: r.check.net(private).on)
    senders = [await raw(users[0]), await raw(admin)]
    flooding = asyncio.create_task(flood(senders, networks, 150 * SCALE, body_size=200))
    await asyncio.sleep(0.3)
    left = await leaver_user.api("POST", f"/api/networks/{private}/leave")
    assert left.status_code == 200, left.text
    await logout_user.http.post("/logout")
    await flooding
    for r in outs:
        await asyncio.wait_for(r.task, 10)
        types = [f["type"] for f in r.frames]
        assert "session_ended" in types, (r.check.name, types[-5:])
        assert types[-1] == "session_ended", (
            r.check.name,
            types[types.index("session_ended") :][:5],
        )
        assert r.closed.rcvd.code == 4401
        assert not r.check.problems, r.check.problems
    await asyncio.sleep(0.5)
    for r in leavers:
        types = [(f["type"], f.get("network_id")) for f in r.frames]
        assert ("unsubscribed", private) in types, r.check.name
        after = types[types.index(("unsubscribed", private)) + 1 :]
        assert ("event", private) not in after, (r.check.name, after[:5])
        assert not r.check.problems, r.check.problems
        await r.ws.close()
    for s in senders:
        await s.close()
    await ends_clean([server], [*users, admin])


@pytest.mark.parametrize("stack", ["postgres-redis"], indirect=True)
async def test_two_nodes_flood_gaps_filled_in_order(start_server) -> None:
    first, second = start_server(**FAST), start_server(**FAST)
    users, networks = await members_of_networks(first, 6, 2)
    readers = []
    for u in users[:4]:
        for base in (first.url, second.url):
            r = await Reader(u, f"{u.username}@{base[-4:]}").open(base)
            for n in networks:
                await r.subscribe(n, 0)
            readers.append(r)
    for r in readers:
        await r.wait_for(lambda r=r: all(r.check.net(n).on for n in networks))
    senders = [await raw(u, first.url if i % 2 else second.url) for i, u in enumerate(users)]
    churn_stop = asyncio.Event()
    churners = [
        asyncio.create_task(churn(r, networks, churn_stop, (0.01, 0.08), False))
        for r in readers[::3]
    ]
    total = 150 * SCALE
    acks = await flood(senders, networks, total, mention=[u.username for u in users[:4]])
    churn_stop.set()
    await asyncio.gather(*churners)
    assert acks == total * len(senders)
    finals = await last_seqs(users[0], networks)
    for r in readers:
        await r.wait_for(
            lambda r=r: all(
                r.check.net(n).last == finals[n] and not r.check.net(n).pending for n in networks
            ),
            30,
        )
    problems = [p for r in readers for p in r.check.problems]
    assert not problems, problems
    for r in readers:
        await r.ws.close()
    for s in senders:
        await s.close()
    await ends_clean([first, second], users)
