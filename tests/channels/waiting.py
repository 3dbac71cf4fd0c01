"""Bounded waits for the channel-layer tests, so a lost event fails a test instead of hanging it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from channels import Subscriber

EVENT_DEADLINE = 2.0
SETTLE_DEADLINE = 5.0
_POLL_INTERVAL = 0.02


async def next_event(subscriber: Subscriber) -> tuple[str, str]:
    """The subscriber's next event, or a TimeoutError after ``EVENT_DEADLINE`` seconds."""
    async with asyncio.timeout(EVENT_DEADLINE):
        return await subscriber.get()


async def wait_until(check: Callable[[], Awaitable[bool]]) -> None:
    """Poll ``check`` until it holds; for state another process (Redis) settles on its own."""
    for _ in range(int(SETTLE_DEADLINE / _POLL_INTERVAL)):
        if await check():
            return
        await asyncio.sleep(_POLL_INTERVAL)
    raise AssertionError(f"still not true after {SETTLE_DEADLINE}s: {check}")
