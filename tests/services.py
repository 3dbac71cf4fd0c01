"""Where the real PostgreSQL and Redis live for tests, and what to do when they are missing.

On a developer's machine without a service the tests that need it skip with a reason; with
``BWT_REQUIRE_SERVICES=1`` (set by ``.ci/run``) a missing service fails the run instead, so CI
can never go green by skipping.
"""

from __future__ import annotations

import os
import socket
from urllib.parse import urlsplit

import pytest

REDIS_URL = os.environ.get("BWT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
POSTGRES_URL = os.environ.get(
    "BWT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def services_required() -> bool:
    return os.environ.get("BWT_REQUIRE_SERVICES") == "1"


def _answers(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection(
            (parts.hostname or "127.0.0.1", parts.port or default_port), 1
        ):
            return True
    except OSError:
        return False


def need_service(name: str, url: str, default_port: int) -> None:
    """Skip (or, when services are required, fail) unless the service accepts connections."""
    if _answers(url, default_port):
        return
    reason = f"{name} is not answering at {url}"
    if services_required():
        pytest.fail(f"{reason}, and BWT_REQUIRE_SERVICES=1 says it must", pytrace=False)
    pytest.skip(f"{reason} (set BWT_TEST_{name.upper()}_URL or start it to run this test)")


def need_redis() -> str:
    need_service("redis", REDIS_URL, 6379)
    return REDIS_URL


def need_postgres() -> str:
    need_service("postgres", POSTGRES_URL, 5432)
    return POSTGRES_URL
