"""Search benchmark: fills a fresh database with synthetic Dutch messages, then times full-text
search and similar-question suggestions, through the actions layer and through the HTTP routes,
and prints the figures.

    .venv/bin/python bench/search.py --db sqlite --messages 1000000 --keep
    .venv/bin/python bench/search.py --reuse <URL printed by the run above> --runs 5

PostgreSQL: a database bwt_bench_<random> is made on BWT_BENCH_POSTGRES_URL (default
postgresql://postgres@127.0.0.1:5432/postgres) and dropped afterwards unless --keep.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.seed import session_cookie  # noqa: E402
from channels import Broker  # noqa: E402
from chat.actions import Services  # noqa: E402
from chat.actions.search import search_messages, similar_questions  # noqa: E402
from chat.app import create_app  # noqa: E402
from chat.db import Database  # noqa: E402
from chat.migrate import migrate  # noqa: E402
from chat.models import Membership, Network, Organisation, User  # noqa: E402
from chat.search_index import index_rows  # noqa: E402
from chat.settings import Settings  # noqa: E402

WORDS = """woning woningen kamerverhuur bewoning recreatiewoning recreatiepark vakantiepark
arbeidsmigranten huisvesting handhaving dwangsom last bestuursdwang toezicht controle
vergunning omgevingsvergunning bouwwerk brandveiligheid brandmelder vluchtweg asbest sloop
melding monument erfgoed bestemmingsplan omgevingsplan omgevingswet bruidsschat gemeente
provincie omgevingsdienst inspectie rapport zienswijze bezwaar beroep uitspraak raad state
overlast geluid stank hennep ondermijning bibob politie eigenaar huurder verhuurder pand
kelder zolder dakkapel aanbouw uitbouw constructie fundering gebruiksmelding logies hotel
splitsing onttrekking woonruimte leegstand kamerbewoning veiligheid gevaar schade termijn
financiële onderbouwing begunstigingstermijn invordering sanctie waarschuwing voornemen
beschikking besluit beleid beleidsregel handhavingsstrategie landelijke prioriteit""".split()
FILLER = "de het een en van in op met voor is dat niet we ook bij maar als er nog".split()
CODES = ["artikel 5.1", "Bbl 4.172", "artikel 2.1.3", "Bbl 3.88", "Wabo 2.1", "artikel 13b"]
QUERIES = [
    "woningen",
    "kamerverhuur dwangsom",
    "financiele onderbouwing",
    "Bbl 4.172",
    "artikel 5.1",
    "recreatiewoning permanente bewoning",
    "brandveiligheid logies",
    "asbest sloop melding",
    "arbeidsmigranten huisvesting gemeente",
    "handhavingsstrategie",
]
SUGGEST = [
    "Mag een recreatiewoning permanent bewoond",
    "Hoe hoog moet een dwangsom bij kamerverh",
    "Welke eisen gelden voor brandveiligheid in logies",
    "Is een omgevingsvergunning nodig voor een dakkap",
    "Wanneer is bibob toegestaan bij een hennepp",
]


def synthetic_text(rng: random.Random) -> str:
    words = [rng.choice(WORDS) if rng.random() < 0.45 else rng.choice(FILLER) for _ in range(18)]
    if rng.random() < 0.05:
        words.insert(rng.randrange(len(words)), rng.choice(CODES))
    return " ".join(words).capitalize() + "."


def fill(connection: sa.Connection, count: int, networks: list[int], users: list[int]) -> None:
    rng = random.Random(7)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    seq = dict.fromkeys(networks, 0)
    message = sa.table(
        "message",
        *(sa.column(c) for c in ("id", "network_id", "seq", "author_id", "client_id", "body")),
        *(sa.column(c) for c in ("html", "kind", "tags", "reply_count", "is_demo")),
        sa.column("accepted_answer_id"),
        sa.column("created_at", sa.DateTime(timezone=True)),
    )
    batch = 10_000
    for first in range(1, count + 1, batch):
        rows = []
        for message_id in range(first, min(first + batch, count + 1)):
            network = rng.choice(networks)
            seq[network] += 1
            body = synthetic_text(rng)
            question = rng.random() < 0.05
            rows.append(
                {
                    "id": message_id,
                    "network_id": network,
                    "seq": seq[network],
                    "author_id": rng.choice(users),
                    "client_id": f"bench-{message_id}",
                    "body": body,
                    "html": f"<p>{body}</p>",
                    "kind": "question" if question else "message",
                    "tags": "",
                    "reply_count": 0,
                    "is_demo": False,
                    # Answered questions point at themselves: enough for ranking and filters.
                    "accepted_answer_id": message_id if question and rng.random() < 0.4 else None,
                    "created_at": start + timedelta(seconds=message_id * 30),
                }
            )
        connection.execute(sa.insert(message), rows)
        index_rows(connection, [_Row(**r) for r in rows])
        print(f"\r  {min(first + batch - 1, count):>9,} messages", end="", flush=True)
    for network, last in seq.items():
        connection.execute(sa.update(Network).where(Network.id == network).values(last_seq=last))
    print()


class _Row:
    """A filled message as the index reads it (cheaper than a Message object)."""

    __slots__ = ("id", "network_id", "body", "kind", "tags", "accepted_answer_id")
    thread_root_id = None

    def __init__(self, **row: object) -> None:
        for name in self.__slots__:
            setattr(self, name, row[name])


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


async def timed(label: str, calls: list, by_query: bool = False) -> dict[str, float]:  # type: ignore[type-arg]
    """Times each (query, call) pair after a warm-up; prints and returns p50 and p95."""
    for _, call in calls[:5]:
        await call()  # warm caches
    durations = []
    per_query: dict[str, list[float]] = {}
    cpu_began = time.process_time()
    for query, call in calls:
        began = time.perf_counter()
        await call()
        durations.append((time.perf_counter() - began) * 1000)
        per_query.setdefault(query, []).append(durations[-1])
    figures = {
        "p50": statistics.median(durations),
        "p95": percentile(durations, 0.95),
        # CPU of this process per call (Python, and on SQLite the database engine too): unlike
        # the times, it hardly depends on how much of a shared machine the run got.
        "cpu": (time.process_time() - cpu_began) * 1000 / len(calls),
    }
    print(
        f"  {label:<38} n={len(durations):<4} p50={figures['p50']:7.1f} ms"
        f"  p95={figures['p95']:7.1f} ms  max={max(durations):7.1f} ms"
        f"  cpu={figures['cpu']:5.1f} ms/call",
        flush=True,
    )
    if by_query:
        for query, values in per_query.items():
            print(f"      {query[:44]:<44} p50={statistics.median(values):7.1f} ms")
    return figures


async def run(url: str, count: int, options: argparse.Namespace, fill_first: bool = True) -> None:
    database = Database(url)
    await migrate(database)  # a kept database is brought up to the newest schema first
    if not fill_first:
        await time_runs(database, url, count, options)
        return
    async with database.write() as session:
        organisation = Organisation(
            name="Gemeente Bench", name_key="gemeente bench", type="gemeente"
        )
        session.add(organisation)
        await session.flush()
        users = []
        for i in range(50):
            user = User(
                username=f"bench{i}",
                display_name=f"Bench {i}",
                search_name=f"bench{i}",
                email=f"bench{i}@example.nl",
                password_hash="x",
                role="other",
                organisation_id=organisation.id,  # type: ignore[arg-type]
            )
            session.add(user)
            users.append(user)
        await session.flush()
        networks = list(await session.scalars(sa.select(Network.id)))
        for network in networks:
            session.add(Membership(network_id=network, user_id=users[0].id))  # type: ignore[arg-type]
    print(f"filling {count:,} messages in {len(networks)} networks …", flush=True)
    began = time.perf_counter()
    async with database.engine.begin() as connection:
        await connection.run_sync(fill, count, networks, [u.id for u in users])
    print(f"  filled and indexed in {time.perf_counter() - began:.0f} s")
    if database.is_sqlite:
        async with database.engine.begin() as connection:
            await connection.execute(sa.text("ANALYZE"))
    else:
        async with database.engine.connect() as connection:
            await (await connection.execution_options(isolation_level="AUTOCOMMIT")).execute(
                sa.text("VACUUM ANALYZE")
            )
    print(f"  database: {url}", flush=True)
    await time_runs(database, url, count, options)


async def time_runs(database: Database, url: str, count: int, options: argparse.Namespace) -> None:
    """``options.runs`` timing runs, then the median of each figure over the runs."""
    runs = [
        await time_queries(database, url, count, options.rounds, options.by_query)
        for _ in range(options.runs)
    ]
    await database.dispose()
    if len(runs) > 1:
        print(f"median of {len(runs)} runs (p50 / p95 ms; p95 range; CPU ms per call):")
        for label in runs[0]:
            p50 = statistics.median(run[label]["p50"] for run in runs)
            p95s = [run[label]["p95"] for run in runs]
            cpu = statistics.median(run[label]["cpu"] for run in runs)
            print(
                f"  {label:<38} {p50:6.1f} / {statistics.median(p95s):6.1f}"
                f"   ({min(p95s):.1f}–{max(p95s):.1f})   cpu {cpu:.1f}"
            )


async def time_queries(
    database: Database, url: str, count: int, rounds: int, by_query: bool = False
) -> dict[str, dict[str, float]]:
    async with database.read() as session:
        user = await session.scalar(sa.select(User).where(User.username == "bench0"))
        networks = list(await session.scalars(sa.select(Network.id).order_by(Network.id)))
    broker = Broker("memory://")
    await broker.connect()
    services = Services(database, broker, Settings(database_url=url))
    network = networks[0]
    actions = {
        "search (all networks)": [
            (q, lambda q=q: search_messages(services, user, q)) for q in QUERIES * rounds
        ],
        "search (network, answered)": [
            (
                q,
                lambda q=q: search_messages(
                    services, user, q, network_id=network, state="answered"
                ),
            )
            for q in QUERIES * rounds
        ],
        "similar questions": [
            (q, lambda q=q: similar_questions(services, user, q)) for q in SUGGEST * rounds * 2
        ],
    }
    figures: dict[str, dict[str, float]] = {}
    print(f"timing ({database.engine.dialect.name}, {count:,} messages), load {load_average()}:")
    for label, calls in actions.items():
        figures[label] = await timed(label, calls, by_query)
    await broker.disconnect()

    # The same through the HTTP routes, in process: session cookie, user lookup, JSON.
    settings = Settings(database_url=url, secret_key="bench", migrate_on_start=False)
    app = create_app(settings)
    cookie = session_cookie("bench", user.id)  # type: ignore[arg-type]
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://bench",
            headers={"cookie": cookie},
        ) as client,
    ):

        async def get(path: str, **params: object) -> None:
            response = await client.get(path, params=params)
            response.raise_for_status()

        requests = {
            "HTTP /api/search": [
                (q, lambda q=q: get("/api/search", q=q)) for q in QUERIES * rounds
            ],
            "HTTP /api/search (network, answered)": [
                (q, lambda q=q: get("/api/search", q=q, network_id=network, state="answered"))
                for q in QUERIES * rounds
            ],
            "HTTP /api/similar-questions": [
                (q, lambda q=q: get("/api/similar-questions", q=q)) for q in SUGGEST * rounds * 2
            ],
        }
        for label, calls in requests.items():
            figures[label] = await timed(label, calls, by_query)
    print(f"  load average after: {load_average()}", flush=True)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=10, help="times each query is timed")
    parser.add_argument("--runs", type=int, default=1, help="timing runs; medians printed")
    parser.add_argument("--by-query", action="store_true", help="p50 of each query too")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--reuse", metavar="URL", help="time an already filled database (--keep)")
    args = parser.parse_args()
    if args.reuse:
        asyncio.run(run(args.reuse, args.messages, args, fill_first=False))
        return
    if args.db == "sqlite":
        path = Path(tempfile.mkdtemp()) / "bench.db"
        asyncio.run(run(f"sqlite+aiosqlite:///{path}", args.messages, args))
        if not args.keep:
            shutil.rmtree(path.parent)  # the database with its -wal and -shm files
        return
    base = os.environ.get("BWT_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    name = f"bwt_bench_{uuid.uuid4().hex[:8]}"

    async def admin(statement: str) -> None:
        connection = await asyncpg.connect(base)
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    url = base.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://") + "/" + name
    try:
        asyncio.run(run(url, args.messages, args))
    finally:
        if not args.keep:
            asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


if __name__ == "__main__":
    main()
