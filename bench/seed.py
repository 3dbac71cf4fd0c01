"""Benchmark databases: made, migrated and filled in bulk with the project's own models.

Registering a thousand users through ``/register`` would spend minutes in argon2, so users and
memberships are inserted directly (one precomputed hash for all) and their session cookies are
minted with the server's secret, exactly as Starlette's SessionMiddleware signs them.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from base64 import b64encode
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import itsdangerous
from argon2 import PasswordHasher
from sqlalchemy import insert, select

from chat.db import Database
from chat.migrate import migrate
from chat.models import Membership, Network, Organisation, User

POSTGRES_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
SESSION_COOKIE = "bwt_session"


def session_cookie(secret: str, user_id: int) -> str:
    """The ``Cookie`` header value a logged-in browser of ``user_id`` sends."""
    data = b64encode(json.dumps({"user_id": user_id}).encode("utf-8"))
    return f"{SESSION_COOKIE}={itsdangerous.TimestampSigner(secret).sign(data).decode()}"


@dataclass
class BenchDatabase:
    """One database made for one scenario run; ``drop()`` removes it."""

    url: str
    workdir: Path
    postgres_name: str | None = None
    user_ids: list[int] = field(default_factory=list)
    network_id: int = 0

    @classmethod
    async def create(cls, kind: str, workdir: Path) -> BenchDatabase:
        workdir.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - once per run
        if kind == "sqlite":
            path = workdir / f"bench-{uuid.uuid4().hex[:8]}.db"
            return cls(f"sqlite+aiosqlite:///{path}", workdir)
        name = f"bwt_bench_{uuid.uuid4().hex[:10]}"
        connection = await asyncpg.connect(POSTGRES_ADMIN)
        try:
            await connection.execute(f'CREATE DATABASE "{name}"')
        finally:
            await connection.close()
        url = POSTGRES_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
        return cls(f"{url}/{name}", workdir, postgres_name=name)

    @property
    def is_sqlite(self) -> bool:
        return self.postgres_name is None

    @property
    def sqlite_path(self) -> str:
        return self.url.split("///", 1)[1]

    @property
    def asyncpg_dsn(self) -> str:
        return self.url.replace("postgresql+asyncpg://", "postgresql://")

    async def seed(self, members: int, *, slug: str = "bench") -> None:
        """Migrate, then add one network with ``members`` users who joined it."""
        database = Database(self.url)
        try:
            await migrate(database)
            password_hash = PasswordHasher().hash("bench password 1")
            now = datetime.now(UTC)
            async with database.write() as session:
                organisation_id = await session.scalar(
                    insert(Organisation)
                    .values(name="Gemeente Bench", name_key="gemeente bench", type="gemeente")
                    .returning(Organisation.id)
                )
                network_id = await session.scalar(
                    insert(Network)
                    .values(
                        slug=slug,
                        name="Benchmark",
                        description="load test",
                        is_private=False,
                        last_seq=0,
                        created_at=now,
                    )
                    .returning(Network.id)
                )
                users = [
                    {
                        "username": f"bench{i:05d}",
                        "display_name": f"Bench {i}",
                        "search_name": f"bench {i} bench{i:05d}",
                        "email": f"bench{i:05d}@example.nl",
                        "password_hash": password_hash,
                        "role": "toezichthouder",
                        "organisation_id": organisation_id,
                        "is_admin": False,
                        "last_seq": 0,
                        "created_at": now,
                    }
                    for i in range(members)
                ]
                for start in range(0, len(users), 1000):
                    await session.execute(insert(User), users[start : start + 1000])
                user_ids = list(
                    await session.scalars(
                        select(User.id).where(User.username.like("bench%")).order_by(User.id)
                    )
                )
                rows = [
                    {"network_id": network_id, "user_id": uid, "role": "member", "joined_at": now}
                    for uid in user_ids
                ]
                for start in range(0, len(rows), 1000):
                    await session.execute(insert(Membership), rows[start : start + 1000])
            self.user_ids = user_ids
            self.network_id = network_id  # type: ignore[assignment]
        finally:
            await database.dispose()

    async def seed_history(self, count: int, batch: int = 50_000) -> None:
        """``count`` messages (and their events) in the bench network, authored by seed users.

        Written with the drivers' bulk paths (sqlite3 executemany, PostgreSQL COPY): the ORM
        would take far longer than the fifteen minutes we allow for a million rows.
        """
        authors = self.user_ids
        start = datetime(2024, 1, 1, tzinfo=UTC)
        body = "Historisch bericht over handhaving en toezicht, nummer {}."
        html = "<p>Historisch bericht over handhaving en toezicht, nummer {}.</p>"

        def message_rows(first: int, last: int) -> list[tuple]:  # type: ignore[type-arg]
            return [
                (
                    self.network_id,
                    seq,
                    authors[seq % len(authors)],
                    f"seed-{seq:010d}",
                    body.format(seq),
                    html.format(seq),
                    "message",
                    start + timedelta(seconds=seq),
                )
                for seq in range(first, last)
            ]

        columns = (
            "network_id",
            "seq",
            "author_id",
            "client_id",
            "body",
            "html",
            "kind",
            "created_at",
        )
        if self.is_sqlite:
            connection = sqlite3.connect(self.sqlite_path)
            try:
                connection.execute("PRAGMA journal_mode=WAL")
                connection.execute("PRAGMA synchronous=OFF")
                for first in range(1, count + 1, batch):
                    rows = [
                        (*row[:7], row[7].isoformat(sep=" "))
                        for row in message_rows(first, min(first + batch, count + 1))
                    ]
                    connection.executemany(
                        f"INSERT INTO message ({', '.join(columns)}) VALUES (?,?,?,?,?,?,?,?)",
                        rows,
                    )
                connection.execute(
                    "UPDATE network SET last_seq = ? WHERE id = ?", (count, self.network_id)
                )
                connection.commit()
                connection.execute("ANALYZE")
            finally:
                connection.close()
            return
        connection = await asyncpg.connect(self.asyncpg_dsn)
        try:
            for first in range(1, count + 1, batch):
                await connection.copy_records_to_table(
                    "message",
                    records=message_rows(first, min(first + batch, count + 1)),
                    columns=columns,
                )
            await connection.execute(
                "UPDATE network SET last_seq = $1 WHERE id = $2", count, self.network_id
            )
            # A table of a million rows in use has been vacuumed: without this, autovacuum's
            # pass over the freshly copied rows (and the first reads setting their hint bits)
            # would run during the measurement.
            await connection.execute("VACUUM (ANALYZE) message")
            await connection.execute("ANALYZE")
        finally:
            await connection.close()

    async def drop(self) -> None:
        if self.postgres_name is None:
            for suffix in ("", "-wal", "-shm"):
                Path(self.sqlite_path + suffix).unlink(missing_ok=True)  # noqa: ASYNC240
            return
        connection = await asyncpg.connect(POSTGRES_ADMIN)
        try:
            await connection.execute(f'DROP DATABASE IF EXISTS "{self.postgres_name}" WITH (FORCE)')
        finally:
            await connection.close()
