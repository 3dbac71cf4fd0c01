"""A socket that uvicorn closes itself (1009: a frame over BWT_MAX_FRAME_BYTES) while events are
being written to it must end quietly, as a client that went away does.

uvicorn 0.55 (websockets_sansio_impl.py, ``send``) refuses a ``websocket.send`` after its own
close frame went out (``close_sent``: a 1009 from the frame parser, a keepalive timeout) with a
RuntimeError, not an OSError. The hub writes events with the server's raw send and takes only
OSError for "the client went away" (chat/hub.py ``write_now``/``finish_write``), so an event
written after uvicorn's close and before the socket's task sees the disconnect ends the writer
with that RuntimeError; ``run()`` re-raises it (``raise self.writer_error``) and uvicorn logs
"Exception in ASGI application" with a traceback, for an ordinary protocol close. (The same
happens before commit 5af4d06: the per-burst writer task wrote the same way.)
"""

from __future__ import annotations

import asyncio
import json
import random

from websockets.exceptions import ConnectionClosed

from tests.adversarial.stream_check import (
    FAST,
    Reader,
    ends_clean,
    flood,
    members_of_networks,
    raw,
)


async def test_a_1009_close_during_an_event_flood_logs_no_traceback(start_server) -> None:
    server = start_server(**FAST)
    users, networks = await members_of_networks(server, 4, 3)
    senders = [await raw(user) for user in users]
    stop = asyncio.Event()
    closes: list = []

    async def victims(seed: int) -> None:
        rnd = random.Random(seed)
        while not stop.is_set():
            reader = await Reader(rnd.choice(users), "victim").open()
            for network in networks:
                await reader.subscribe(network, 0)
            await asyncio.sleep(rnd.uniform(0.0, 0.05))
            try:
                await reader.ws.send(json.dumps({"type": "ping", "pad": "x" * 70_000}))
            except ConnectionClosed:
                pass
            await asyncio.wait_for(reader.task, 10)
            closes.append(reader.ws.close_code)

    tasks = [asyncio.create_task(victims(seed)) for seed in range(6)]
    assert await flood(senders, networks, 200, body_size=300) == 200 * len(senders)
    stop.set()
    await asyncio.gather(*tasks)
    for sender in senders:
        await sender.close()
    assert closes
    await ends_clean([server], users)
