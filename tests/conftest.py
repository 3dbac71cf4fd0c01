"""Shared fixtures: databases (SQLite file, per-run PostgreSQL), brokers, live server processes.

Each run gets its own PostgreSQL template database (migrated once) and its own Redis prefix;
every test that asks for PostgreSQL gets a fresh copy of the template, dropped afterwards.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx
import pytest

from channels import Broker
from chat.actions import Services
from chat.db import Database
from chat.migrate import migrate
from chat.settings import Settings
from tests.client import ChatUser
from tests.services import need_postgres, need_redis

RUN_ID = uuid.uuid4().hex[:10]
PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _asyncpg_url(database: str) -> str:
    base = os.environ.get("BWT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    return base.rsplit("/", 1)[0] + "/" + database


def _admin_sql(statement: str) -> None:
    async def run() -> None:
        connection = await asyncpg.connect(_asyncpg_url("postgres"))
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    asyncio.run(run())


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str]:
    """A migrated database for this run; tests copy it (CREATE DATABASE … TEMPLATE)."""
    need_postgres()
    name = f"bwt_test_{RUN_ID}_template"
    _admin_sql(f'CREATE DATABASE "{name}"')

    async def prepare() -> None:
        database = Database(_asyncpg_url(name).replace("postgresql://", "postgresql+asyncpg://"))
        await migrate(database)
        await database.dispose()

    asyncio.run(prepare())
    yield name
    _admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def postgres_url(postgres_template: str) -> Iterator[str]:
    name = f"bwt_test_{RUN_ID}_{uuid.uuid4().hex[:8]}"
    _admin_sql(f'CREATE DATABASE "{name}" TEMPLATE "{postgres_template}"')
    yield _asyncpg_url(name).replace("postgresql://", "postgresql+asyncpg://")
    _admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'bwt.db'}"


@pytest.fixture
def redis_url() -> str:
    return need_redis()


@pytest.fixture
def redis_prefix() -> str:
    return f"bwt-test-{RUN_ID}-{uuid.uuid4().hex[:6]}:"


STACKS = ["sqlite-memory", "postgres-redis"]


@dataclass
class Stack:
    """Where a test's server keeps its data and sends its events."""

    name: str
    database_url: str
    redis_url: str | None
    redis_prefix: str

    def settings(self, **overrides: object) -> Settings:
        return Settings(
            database_url=self.database_url,
            redis_url=self.redis_url,
            redis_prefix=self.redis_prefix,
            secret_key="test-secret-" + RUN_ID,
            **overrides,  # type: ignore[arg-type]
        )


@pytest.fixture(params=STACKS)
def stack(request: pytest.FixtureRequest, tmp_path: Path, redis_prefix: str) -> Stack:
    if request.param == "sqlite-memory":
        return Stack(
            "sqlite-memory", f"sqlite+aiosqlite:///{tmp_path / 'bwt.db'}", None, redis_prefix
        )
    return Stack(
        "postgres-redis",
        request.getfixturevalue("postgres_url"),
        need_redis(),
        redis_prefix,
    )


@pytest.fixture
async def services(stack: Stack) -> AsyncIterator[Services]:
    """The actions layer's dependencies, in-process, on the test's stack."""
    settings = stack.settings()
    database = Database(settings.database_url)
    await migrate(database)
    broker = Broker(settings.broker_url, prefix=settings.redis_prefix)
    await broker.connect()
    yield Services(db=database, broker=broker, settings=settings)
    await broker.disconnect()
    await database.dispose()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Browser tests last: they are the slowest, and the quick ones should fail first."""
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class LiveServer:
    """A real `bwt serve` process on its own port."""

    stack: Stack
    workdir: Path
    env_overrides: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def environment(self) -> dict[str, str]:
        env = {
            **os.environ,
            "BWT_DATABASE_URL": self.stack.database_url,
            "BWT_REDIS_PREFIX": self.stack.redis_prefix,
            "BWT_SECRET_KEY": "test-secret-" + RUN_ID,
            "BWT_ALLOWED_ORIGINS": self.url,
            "BWT_LOG_LEVEL": "warning",
            **self.env_overrides,
        }
        env.pop("BWT_REDIS_URL", None)
        if self.stack.redis_url:
            env["BWT_REDIS_URL"] = self.stack.redis_url
        return env

    def start(self) -> LiveServer:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.log = open(self.workdir / f"server-{self.port}.log", "ab")  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, "-m", "chat", "serve", "--port", str(self.port)],
            cwd=self.workdir,
            env=self.environment(),
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {(self.workdir / self.log.name).read_text()}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError("server did not become healthy within 30 s")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if getattr(self, "log", None):
            self.log.close()

    def user(self, username: str) -> ChatUser:
        return ChatUser(self.url, username)


@pytest.fixture
def start_server(stack: Stack, tmp_path: Path) -> Iterator:
    """Start any number of server processes sharing the test's stack."""
    started: list[LiveServer] = []

    def start(**env_overrides: str) -> LiveServer:
        server = LiveServer(stack, tmp_path / "server", env_overrides).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def live_server(start_server) -> LiveServer:  # type: ignore[no-untyped-def]
    return start_server()


@pytest.fixture
async def users(live_server: LiveServer) -> AsyncIterator:
    """Make registered test users on the live server: ``await users("anna")``."""
    made: list[ChatUser] = []

    async def make(username: str, **overrides: str) -> ChatUser:
        user = await live_server.user(username).register(**overrides)
        made.append(user)
        return user

    yield make
    for user in made:
        await user.aclose()
