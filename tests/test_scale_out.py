"""Two real server processes on two ports share PostgreSQL and Redis: one community."""

from __future__ import annotations

import pytest

from tests.client import ChatUser

pytestmark = pytest.mark.parametrize("stack", ["postgres-redis"], indirect=True)


async def test_message_and_mention_cross_from_one_process_to_the_other(start_server) -> None:
    first, second = start_server(), start_server()
    assert first.port != second.port
    anna = await ChatUser(first.url, "anna").register()
    bram = await ChatUser(second.url, "bram").register()
    try:
        network = await anna.join("huisvesting-arbeidsmigranten")
        await bram.join("huisvesting-arbeidsmigranten")
        bram_socket = await bram.connect()  # on the second process
        await bram_socket.subscribe(network)
        anna_socket = await anna.connect()  # on the first process

        ack = await anna_socket.send_message(network, "@bram hoe controleren jullie de SNF-norm?")
        assert ack["type"] == "ack"

        event = await bram_socket.expect("event")
        assert event["message"]["id"] == ack["message_id"]
        notification = await bram_socket.expect("notification")
        assert notification["notification"]["message"]["id"] == ack["message_id"]
    finally:
        await anna.aclose()
        await bram.aclose()


async def test_a_client_moving_to_another_process_catches_up_from_sql(start_server) -> None:
    first, second = start_server(), start_server()
    anna = await ChatUser(first.url, "anna").register()
    bram = await ChatUser(first.url, "bram").register()
    try:
        network = await anna.join("ondermijning")
        await bram.join("ondermijning")
        bram_socket = await bram.connect()
        await bram_socket.subscribe(network)
        anna_socket = await anna.connect()
        await anna_socket.send_message(network, "eerste")
        last = (await bram_socket.expect("event"))["seq"]
        await bram_socket.close()
        for i in range(4):
            await anna_socket.send_message(network, f"tijdens de verhuizing {i}")

        # No sticky sessions: the same cookie works on the other process.
        moved = ChatUser(second.url, "bram")
        moved.http.cookies.update(bram.http.cookies)
        socket = await moved.connect()
        backlog = await socket.subscribe(network, since_seq=last)
        assert [e["message"]["body"] for e in backlog] == [
            f"tijdens de verhuizing {i}" for i in range(4)
        ]
        await anna_socket.send_message(network, "live over Redis")
        assert (await socket.expect("event"))["message"]["body"] == "live over Redis"
        await moved.aclose()
    finally:
        await anna.aclose()
        await bram.aclose()


async def test_concurrent_sends_through_two_processes_get_one_order(start_server) -> None:
    first, second = start_server(), start_server()
    anna = await ChatUser(first.url, "anna").register()
    bram = await ChatUser(second.url, "bram").register()
    watcher = await ChatUser(first.url, "carla").register()
    try:
        network = await anna.join("brandveiligheid")
        await bram.join("brandveiligheid")
        watch_first = await watcher.connect()
        await watch_first.subscribe(network)
        moved = ChatUser(second.url, "carla")
        moved.http.cookies.update(watcher.http.cookies)
        watch_second = await moved.connect()
        await watch_second.subscribe(network)

        import asyncio

        anna_socket, bram_socket = await anna.connect(), await bram.connect()

        async def burst(socket, who: str) -> None:  # type: ignore[no-untyped-def]
            for i in range(15):
                await socket.send_message(network, f"{who} {i}")

        await asyncio.gather(burst(anna_socket, "anna"), burst(bram_socket, "bram"))
        orders = []
        for socket in (watch_first, watch_second):
            events = [await socket.expect("event") for _ in range(30)]
            orders.append([(e["seq"], e["message"]["body"]) for e in events])
        assert [seq for seq, _ in orders[0]] == list(range(1, 31))
        assert orders[0] == orders[1], "every client sees the same order"
        await moved.aclose()
    finally:
        for user in (anna, bram, watcher):
            await user.aclose()
