"""Brokers for the channel-layer tests: every round trip runs on memory and on real Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator
from uuid import uuid4

import pytest

from channels import Broker
from tests.services import need_redis


@pytest.fixture(
    params=["memory", pytest.param("redis", marks=pytest.mark.services)],
)
def broker_url(request: pytest.FixtureRequest) -> str:
    if request.param == "memory":
        return "memory://"
    return need_redis()


@pytest.fixture
def redis_url() -> str:
    return need_redis()


@pytest.fixture
def prefix() -> str:
    """A channel prefix of its own, so concurrent test runs sharing Redis never cross."""
    return f"bwt-test-{uuid4().hex}:"


@pytest.fixture
async def broker(broker_url: str, prefix: str) -> AsyncIterator[Broker]:
    async with Broker(broker_url, prefix=prefix) as broker:
        yield broker
