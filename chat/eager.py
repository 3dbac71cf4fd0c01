"""Running a coroutine's first steps right away, and the rest in a task only if it must wait.

Python 3.12's eager tasks do this; on 3.11 the hub does it by hand for its hottest path: fanning
an event out to a thousand sockets made a task per socket per event, and creating, registering
and scheduling those tasks was most of the hub's own CPU per delivery, although nearly every
write finishes without waiting (docs/performance.md).
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Generator
from typing import Any


class Suspended:
    """A coroutine that was started by hand and is waiting on ``waiting_on``.

    Awaiting this runs the rest of the coroutine in the awaiting task exactly as ``await
    coroutine`` would have: the task waits on the coroutine's own futures, so cancelling the
    task cancels what the coroutine waits on, and its result or exception comes out here.
    """

    __slots__ = ("coroutine", "waiting_on")

    def __init__(self, coroutine: Coroutine[Any, Any, Any], waiting_on: Any) -> None:
        self.coroutine = coroutine
        self.waiting_on = waiting_on

    def __await__(self) -> Generator[Any, Any, Any]:
        yielded = self.waiting_on
        while True:
            try:
                value = yield yielded
            except BaseException as error:  # thrown in by the task: cancellation, mostly
                try:
                    yielded = self.coroutine.throw(error)
                except StopIteration as stop:
                    return stop.value
            else:
                try:
                    yielded = self.coroutine.send(value)
                except StopIteration as stop:
                    return stop.value

    def close(self) -> None:
        """Abandon the coroutine (when no task will take it over)."""
        self.coroutine.close()


def start(coroutine: Coroutine[Any, Any, Any]) -> Suspended | None:
    """Run ``coroutine`` until it finishes (None) or has to wait (the rest, to await later).

    Its exceptions propagate from here. Only for coroutines that neither look up nor keep the
    current task (no ``asyncio.timeout``, no ``current_task()``): their first steps run in the
    caller's task, the rest in whichever task awaits the ``Suspended``.
    """
    try:
        waiting_on = coroutine.send(None)
    except StopIteration:
        return None
    return Suspended(coroutine, waiting_on)


def try_acquire(lock: asyncio.Lock) -> bool:
    """Take ``lock`` now if it is free and nobody waits for it; never wait."""
    if lock.locked():
        return False
    attempt = lock.acquire()
    if start(attempt) is None:
        return True
    attempt.close()  # it would have had to wait: withdraw from the queue of waiters
    return False
