"""Migrations bring an existing database forward (and back): messages written before search
existed are found afterwards, on SQLite and on PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command

from channels import Broker
from chat.actions import Services
from chat.actions.search import search_messages, similar_questions
from chat.db import Database
from chat.migrate import alembic_config, migrate
from chat.models import User
from chat.settings import Settings
from tests.conftest import RUN_ID, _admin_sql, _asyncpg_url
from tests.services import need_postgres

QUESTION = "Mag kamerverhuur in een recreatiewoning?"
MESSAGE = "Kamerverhuur zonder vergunning in de binnenstad"


@pytest.fixture(params=["sqlite", "postgres"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database without any table yet."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
        return
    need_postgres()
    name = f"bwt_test_{RUN_ID}_{uuid.uuid4().hex[:8]}"
    _admin_sql(f'CREATE DATABASE "{name}"')
    yield _asyncpg_url(name).replace("postgresql://", "postgresql+asyncpg://")
    _admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _alembic(database: Database, action: str, revision: str) -> None:
    async with database.engine.begin() as connection:
        await connection.run_sync(
            lambda sync: getattr(command, action)(alembic_config(sync), revision)
        )


async def _fill_first_schema(database: Database) -> None:
    """A network with a question and a message, as the first schema (0001) stored them."""
    now = datetime(2025, 1, 1, tzinfo=UTC)
    async with database.engine.begin() as connection:

        async def insert(statement: str, **values: object) -> int:
            return (await connection.execute(sa.text(statement + " RETURNING id"), values)).one()[0]

        organisation = await insert(
            "INSERT INTO organisation (name, name_key, type) VALUES ('Gem', 'gem', 'gemeente')"
        )
        user = await insert(
            'INSERT INTO "user" (username, display_name, search_name, email, password_hash, role,'
            " organisation_id, is_admin, session_epoch, last_seq, created_at) VALUES ('oud',"
            " 'Oud', 'oud', 'oud@example.nl', 'x', 'jurist', :organisation, false, 0, 0, :now)",
            organisation=organisation,
            now=now,
        )
        network = await insert(
            "INSERT INTO network (slug, name, description, is_private, last_seq, created_at)"
            " VALUES ('oud', 'Oud', '', false, 2, :now)",
            now=now,
        )
        for seq, (body, kind) in enumerate([(QUESTION, "question"), (MESSAGE, "message")], 1):
            await insert(
                "INSERT INTO message (network_id, seq, author_id, client_id, body, html, kind,"
                " created_at) VALUES (:network, :seq, :user, :client, :body, '', :kind, :now)",
                network=network, seq=seq, user=user, client=str(seq), body=body, kind=kind, now=now,
            )  # fmt: skip


@pytest.fixture
async def upgraded(empty_url: str) -> AsyncIterator[Services]:
    database = Database(empty_url)
    await _alembic(database, "upgrade", "0001")
    await _fill_first_schema(database)
    await migrate(database)
    broker = Broker("memory://")
    await broker.connect()
    yield Services(database, broker, Settings(database_url=empty_url))
    await broker.disconnect()
    await database.dispose()


async def _finds_both(services: Services) -> None:
    async with services.db.read() as session:
        user = await session.scalar(sa.select(User).where(User.username == "oud"))
    assert user is not None
    results = (await search_messages(services, user, "kamerverhuur"))["results"]
    assert {r["message"]["body"] for r in results} == {QUESTION, MESSAGE}
    results = (await search_messages(services, user, "kamerverhuur", state="open"))["results"]
    assert [r["message"]["body"] for r in results] == [QUESTION]
    suggestions = await similar_questions(services, user, "kamerverhuur recreatiewoning")
    assert [s["message"]["body"] for s in suggestions] == [QUESTION]


async def test_messages_from_before_search_are_found_after_upgrading(upgraded: Services) -> None:
    await _finds_both(upgraded)


async def test_the_newest_migration_goes_back_and_forward(upgraded: Services) -> None:
    await _alembic(upgraded.db, "downgrade", "0002")
    await _alembic(upgraded.db, "upgrade", "head")
    await _finds_both(upgraded)


async def test_search_does_not_read_through_a_pending_list(upgraded: Services) -> None:
    """PostgreSQL: new terms go straight into the GIN indexes (see migration 0003)."""
    if upgraded.db.is_sqlite:
        pytest.skip("FTS5 has no pending list")
    async with upgraded.db.read() as session:
        rows = await session.execute(
            sa.text(
                "SELECT relname, array_to_string(reloptions, ',') FROM pg_class"
                " WHERE relname IN ('ix_message_terms', 'ix_question_terms')"
            )
        )
        options = {name: value for name, value in rows}
    assert options == {
        "ix_message_terms": "fastupdate=off",
        "ix_question_terms": "fastupdate=off",
    }
