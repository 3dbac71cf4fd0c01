"""A write started without a task behaves as if awaited: its result, its error, its cancellation.

The hub writes to a socket right in the broker's fan-out and hands the rest to a task only when
the client is not taking data; these pin down that the hand-over loses nothing.
"""

from __future__ import annotations

import asyncio

import pytest

from chat import eager


async def test_a_coroutine_that_need_not_wait_finishes_at_once() -> None:
    done: list[str] = []

    async def write() -> None:
        done.append("written")

    assert eager.start(write()) is None
    assert done == ["written"]


async def test_a_coroutine_that_must_wait_finishes_in_the_task_that_awaits_it() -> None:
    writable = asyncio.Event()
    steps: list[str] = []

    async def write() -> str:
        steps.append("started")
        await writable.wait()
        steps.append("written")
        return "result"

    rest = eager.start(write())
    assert rest is not None and steps == ["started"]

    async def finish() -> str:
        return await rest

    task = asyncio.create_task(finish())
    await asyncio.sleep(0.01)
    assert not task.done()
    writable.set()
    assert await task == "result"
    assert steps == ["started", "written"]


async def test_an_error_after_the_wait_comes_out_of_the_await() -> None:
    gone = asyncio.get_running_loop().create_future()

    async def write() -> None:
        await gone

    rest = eager.start(write())
    assert rest is not None
    task = asyncio.create_task(_await(rest))
    gone.set_exception(ConnectionResetError("client went away"))
    with pytest.raises(ConnectionResetError, match="client went away"):
        await task


async def test_cancelling_the_task_cancels_what_the_coroutine_waits_on() -> None:
    writable = asyncio.Event()
    seen: list[str] = []

    async def write() -> None:
        try:
            await writable.wait()
        except asyncio.CancelledError:
            seen.append("cancelled inside")
            raise

    rest = eager.start(write())
    assert rest is not None
    task = asyncio.create_task(_await(rest))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert seen == ["cancelled inside"]


async def test_try_acquire_takes_a_free_lock_and_never_waits_for_a_held_one() -> None:
    lock = asyncio.Lock()
    assert eager.try_acquire(lock)
    assert lock.locked()
    assert not eager.try_acquire(lock)
    lock.release()
    # Nobody is left queued by the failed attempt: the next waiter gets it straight away.
    async with asyncio.timeout(1):
        async with lock:
            pass


async def test_try_acquire_leaves_a_released_lock_to_the_task_already_waiting() -> None:
    lock = asyncio.Lock()
    order: list[str] = []
    await lock.acquire()

    async def waiter() -> None:
        async with lock:
            order.append("waiter")

    task = asyncio.create_task(waiter())
    await asyncio.sleep(0)
    lock.release()  # the waiter is woken but has not run yet
    assert not eager.try_acquire(lock)
    await task
    assert order == ["waiter"]
    assert eager.try_acquire(lock)


async def _await(rest: eager.Suspended) -> object:
    return await rest
