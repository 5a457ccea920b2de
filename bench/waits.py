"""Bounded waiting: poll a blocking check (run in a worker thread) until it yields a value or time runs out."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


async def poll_until(check: Callable[[], T | None], limit_s: float, what: str, interval_s: float = 0.05) -> T:
    """The first truthy value of `check()`; raises RuntimeError after `limit_s` seconds."""
    deadline = time.monotonic() + limit_s
    while True:
        value = await asyncio.to_thread(check)
        if value:
            return value
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {limit_s:.0f}s waiting for {what}")
        await asyncio.sleep(interval_s)
