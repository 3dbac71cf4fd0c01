"""The database engine and sessions; one write path that serialises SQLite writers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TypeVar

from sqlalchemy import Connection, Engine, create_engine, event, exc, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session

#: Threads that run ``Database.read_sync`` on an SQLite file. WAL lets them read while the
#: writer writes; the sqlite3 driver releases the GIL while SQLite works.
SQLITE_READER_THREADS = 2

T = TypeVar("T")


class Database:
    """Owns the engine. On SQLite, writes go one at a time through an asyncio lock.

    SQLite allows one writer; without the lock two transactions that both read and then write
    can fail with "database is locked" instead of waiting. PostgreSQL orders concurrent sends by
    the row lock on ``network.last_seq`` and needs no lock here.
    """

    def __init__(self, url: str) -> None:
        self.url = make_url(url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        if self.is_sqlite and self.url.database and self.url.database != ":memory:":
            Path(self.url.database).parent.mkdir(parents=True, exist_ok=True)
        kwargs: dict[str, object] = {}
        if not self.is_sqlite:
            kwargs.update(pool_size=10, max_overflow=20)
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        else:
            _ping_when_idle(self.engine.sync_engine)
        self.sessions = async_sessionmaker(self.engine, class_=AsyncSession, expire_on_commit=False)
        # Reads on PostgreSQL run without BEGIN and ROLLBACK: two round trips fewer per read.
        # Under READ COMMITTED each statement took its own snapshot inside the transaction
        # anyway, so reads see exactly what they saw before. SQLite opens no transaction for
        # reads in the first place.
        self.read_sessions = (
            self.sessions
            if self.is_sqlite
            else async_sessionmaker(
                self.engine.execution_options(isolation_level="AUTOCOMMIT"),
                class_=AsyncSession,
                expire_on_commit=False,
            )
        )
        self._write_lock = asyncio.Lock()
        # For write_batch on an SQLite file: the sqlite3 driver itself, in one thread of its own.
        self._sync_engine: Engine | None = None
        self._writer: ThreadPoolExecutor | None = None
        # For read_sync on an SQLite file: the sqlite3 driver in reader threads. The engine
        # connects only when first used; its pool hands connections between the threads.
        self._reader_engine: Engine | None = None
        self._readers: ThreadPoolExecutor | None = None
        if self.is_sqlite and self.url.database not in (None, "", ":memory:"):
            self._reader_engine = create_engine(
                self.url.set(drivername="sqlite+pysqlite"),
                connect_args={"check_same_thread": False},
            )
            event.listen(self._reader_engine, "connect", _sqlite_pragmas)

    @asynccontextmanager
    async def read(self, *, in_transaction: bool = False) -> AsyncIterator[AsyncSession]:
        """A session for reading. On PostgreSQL its statements run outside a transaction unless
        ``in_transaction``: then in one (BEGIN … ROLLBACK, two round trips more), so that
        transaction-local settings (``set_config(…, true)``, ``SET LOCAL``) hold for the
        statements after them."""
        async with (self.sessions if in_transaction else self.read_sessions)() as session:
            yield session

    async def read_sync(self, work: Callable[[Session], T]) -> T:
        """Run ``work`` with a synchronous session for reading, in one hop.

        For a hot read of several statements (a history page, the user behind a cookie).
        Through aiosqlite every statement costs several hops between the event loop and
        aiosqlite's thread (~200 µs of CPU each here); on an SQLite file ``work`` runs whole in
        a reader thread on the sqlite3 driver instead. On PostgreSQL it runs through
        ``run_sync`` on a session outside a transaction, as ``read()`` does. Objects ``work``
        returns are detached: their attributes are loaded, nothing lazy.
        """
        if self._reader_engine is None:
            async with self.read_sessions() as session:
                return await session.run_sync(work)
        if self._readers is None:
            self._readers = ThreadPoolExecutor(
                SQLITE_READER_THREADS, thread_name_prefix="bwt-sqlite-reader"
            )
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._readers, self._run_in_reader, work)

    def _run_in_reader(self, work: Callable[[Session], T]) -> T:
        assert self._reader_engine is not None
        with Session(self._reader_engine, expire_on_commit=False) as session:
            return work(session)

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """One transaction that commits on success and rolls back on any error."""
        if self.is_sqlite:
            async with self._write_lock, self.sessions() as session, session.begin():
                yield session
        else:
            async with self.sessions() as session, session.begin():
                yield session

    async def write_batch(self, work: Callable[[Connection], T]) -> T:
        """Run ``work`` in one transaction on a synchronous connection; commit if it returns.

        For a transaction of many statements (a group commit of sends). Through aiosqlite every
        statement costs several hops between the event loop and aiosqlite's thread; here, on an
        SQLite file, the whole transaction is one call into a writer thread that uses the
        sqlite3 driver directly, under the same lock as ``write()``. On PostgreSQL ``work``
        runs through the async driver (``run_sync``), statement by statement as usual.
        """
        if not self.is_sqlite:
            async with self.engine.begin() as connection:
                return await connection.run_sync(work)
        async with self._write_lock:
            if self.url.database in (None, "", ":memory:"):  # only aiosqlite's connection has it
                async with self.engine.begin() as connection:
                    return await connection.run_sync(work)
            if self._writer is None:
                self._writer = ThreadPoolExecutor(1, thread_name_prefix="bwt-sqlite-writer")
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._writer, self._run_in_writer, work)

    def _run_in_writer(self, work: Callable[[Connection], T]) -> T:
        if self._sync_engine is None:
            self._sync_engine = create_engine(self.url.set(drivername="sqlite+pysqlite"))
            event.listen(self._sync_engine, "connect", _sqlite_writer)
            # BEGIN IMMEDIATE: the batch's checks read what its writes build on.
            event.listen(self._sync_engine, "begin", _begin_immediate)
        with self._sync_engine.begin() as connection:
            return work(connection)

    async def ping(self) -> None:
        async with self.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        if self._writer is not None:
            writer, self._writer = self._writer, None
            if self._sync_engine is not None:
                await asyncio.get_running_loop().run_in_executor(writer, self._sync_engine.dispose)
                self._sync_engine = None
            writer.shutdown()
        if self._readers is not None:
            readers, self._readers = self._readers, None
            readers.shutdown()
        if self._reader_engine is not None:
            self._reader_engine.dispose()
        await self.engine.dispose()


#: A pooled PostgreSQL connection that lay unused this long is pinged before it is handed out.
PING_AFTER_IDLE_S = 5.0


def _ping_when_idle(engine: Engine) -> None:
    """Ping a pooled connection before use only if it lay idle, instead of on every checkout.

    ``pool_pre_ping`` costs three round trips per checkout with asyncpg outside autocommit
    (BEGIN, ping, ROLLBACK): on a history page that was six of its nine round trips. A
    connection in steady use has just proved itself; one that lay idle (PostgreSQL restarted,
    a firewall dropped it) is pinged and, if dead, replaced, with every older pooled
    connection, as ``pool_pre_ping`` does. A connection that dies while in use fails its
    request once; SQLAlchemy then invalidates the pool, so the next requests reconnect.
    """
    dialect = engine.dialect

    @event.listens_for(engine, "checkin")
    def _mark_idle(_dbapi_connection, record) -> None:  # type: ignore[no-untyped-def]
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping(dbapi_connection, record, _proxy) -> None:  # type: ignore[no-untyped-def]
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_S:
            return  # new, or in use a moment ago
        if not dialect._do_ping_w_event(dbapi_connection):
            raise exc.InvalidatePoolError()


#: SQLite reads up to this much of the database file through a memory map instead of one read()
#: call per page into each connection's small page cache. At a million messages (550 MB) this
#: made searches 10-35 % faster, most of all the first time a word is searched for
#: (docs/performance-search.md). The pages are the operating system's file cache, shared by
#: every connection; they count in the process's RSS.
SQLITE_MMAP_BYTES = 1 << 30


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute(f"PRAGMA mmap_size={SQLITE_MMAP_BYTES}")
    cursor.close()


def _sqlite_writer(dbapi_connection, record) -> None:  # type: ignore[no-untyped-def]
    # The driver's own transaction handling would open the transaction only at the first write.
    dbapi_connection.isolation_level = None
    _sqlite_pragmas(dbapi_connection, record)


def _begin_immediate(connection: Connection) -> None:
    connection.exec_driver_sql("BEGIN IMMEDIATE")
