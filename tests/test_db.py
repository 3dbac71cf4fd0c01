"""The PostgreSQL connection pool survives connections that PostgreSQL dropped.

Pooled connections are pinged only after they lay idle (``chat.db.PING_AFTER_IDLE_S``), not on
every checkout: these tests show what users get when PostgreSQL ends a connection (a restart, an
administrator, a firewall) while it sits in the pool.
"""

from __future__ import annotations

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from chat import db as db_module
from chat.db import Database


async def backend_pid(database: Database) -> int:
    async with database.read() as session:
        return int((await session.execute(text("SELECT pg_backend_pid()"))).scalar_one())


async def terminate(postgres_url: str, pid: int) -> None:
    connection = await asyncpg.connect(
        postgres_url.replace("postgresql+asyncpg://", "postgresql://")
    )
    try:
        assert await connection.fetchval("SELECT pg_terminate_backend($1)", pid)
    finally:
        await connection.close()


async def test_an_idle_connection_that_was_dropped_is_replaced_unnoticed(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db_module, "PING_AFTER_IDLE_S", 0.0)  # every pooled connection is "idle"
    database = Database(postgres_url)
    try:
        dropped = await backend_pid(database)
        await terminate(postgres_url, dropped)
        # The ping finds the connection dead and the pool hands out a new one: no error.
        assert await backend_pid(database) != dropped
    finally:
        await database.dispose()


async def test_a_connection_dropped_between_busy_requests_fails_one_request_only(
    postgres_url: str,
) -> None:
    database = Database(postgres_url)  # the default: a connection used a moment ago is trusted
    try:
        dropped = await backend_pid(database)
        await terminate(postgres_url, dropped)
        with pytest.raises(DBAPIError):
            await backend_pid(database)
        assert await backend_pid(database) != dropped
    finally:
        await database.dispose()
