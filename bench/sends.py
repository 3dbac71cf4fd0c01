"""The send path without sockets: ``send_message`` called in-process as fast as it returns.

python -m bench.sends [--db sqlite|postgres] [--senders 10] [--window 2] [--duration 5]

Each sender keeps ``window`` sends in flight, like the load generator's clients; the figures are
stored messages per second and the process CPU (every thread, so aiosqlite's too) per send.
It tells the cost of the actions layer and the database apart from the WebSocket hub's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path

from sqlalchemy import func, select

from bench.seed import BenchDatabase
from channels import Broker
from chat.actions import Services
from chat.actions.messages import send_message
from chat.db import Database
from chat.models import Message, User
from chat.settings import Settings


async def measure(kind: str, senders: int, window: int, duration: float) -> dict[str, object]:
    bench_db = await BenchDatabase.create(kind, Path(tempfile.mkdtemp(prefix="bwt-sends-")))
    try:
        await bench_db.seed(senders)
        database = Database(bench_db.url)
        broker = Broker("memory://")
        await broker.connect()
        services = Services(database, broker, Settings(database_url=bench_db.url))
        async with database.read() as session:
            users = list(await session.scalars(select(User).order_by(User.id)))
        latencies: list[float] = []
        stop = time.monotonic() + duration
        counter = 0

        async def sender(user: User, lane: int) -> int:
            nonlocal counter
            done = 0
            while time.monotonic() < stop:
                counter += 1
                started = time.monotonic()
                await send_message(
                    services,
                    user,
                    bench_db.network_id,
                    f"s{user.id}l{lane}n{counter:08d}",
                    f"bench {counter} Overleg over de handhaving van dit dossier.",
                )
                latencies.append(time.monotonic() - started)
                done += 1
            return done

        cpu, wall = time.process_time(), time.monotonic()
        sent = sum(
            await asyncio.gather(*(sender(u, lane) for u in users for lane in range(window)))
        )
        cpu, wall = time.process_time() - cpu, time.monotonic() - wall
        async with database.read() as session:
            stored = await session.scalar(select(func.count()).select_from(Message))
        await broker.disconnect()
        await database.dispose()
    finally:
        await bench_db.drop()
    return {
        "db": kind,
        "senders": senders,
        "window": window,
        "sent": sent,
        "stored": stored,
        "sends_per_s": round(sent / wall, 1),
        "cpu_ms_per_send": round(1000 * cpu / sent, 3),
        "cpu_pct": round(100 * cpu / wall, 1),
        "p50_ms": round(1000 * statistics.median(latencies), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.sends", description=__doc__)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--senders", type=int, default=10)
    parser.add_argument("--window", type=int, default=2)
    parser.add_argument("--duration", type=float, default=5.0)
    arguments = parser.parse_args()
    figures = asyncio.run(
        measure(arguments.db, arguments.senders, arguments.window, arguments.duration)
    )
    print(json.dumps(figures), flush=True)


if __name__ == "__main__":
    main()
