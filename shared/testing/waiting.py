"""Waiting on a condition with a deadline: the only way a Warren test waits."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def wait_for(
    condition: Callable[[], Awaitable[T]] | Callable[[], T],
    *,
    timeout: float = 10.0,
    interval: float = 0.05,
    message: str = "condition",
) -> T:
    """Poll ``condition`` until it returns a truthy value and return it; ``TimeoutError`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        result = condition()
        if asyncio.iscoroutine(result) or isinstance(result, Awaitable):
            result = await result
        if result:
            return result
        last = result
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{message} not met within {timeout}s (last value: {last!r})")
        await asyncio.sleep(interval)  # polling interval of a deadline wait, not synchronisation by sleep
