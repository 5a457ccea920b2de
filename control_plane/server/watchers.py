"""In-process notification of new log lines and state changes, for WatchTask/WatchExecution streams.

A watcher subscribes *before* it reads the store, so a change published while it reads wakes its
next wait instead of being lost. Watchers also re-read on a short timeout, so changes made through
another replica reach them too, only a little later.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import Iterator


class Subscription:
    def __init__(self) -> None:
        self.event = asyncio.Event()

    async def wait(self, seconds: float) -> None:
        """Until something was published since the last wait (or `seconds` pass)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.event.wait(), seconds)
        self.event.clear()


class ChangeBus:
    def __init__(self) -> None:
        self._subscribers: dict[str, set[asyncio.Event]] = defaultdict(set)

    def publish(self, key: str) -> None:
        for event in self._subscribers.get(key, ()):
            event.set()

    @contextlib.contextmanager
    def subscription(self, key: str) -> Iterator[Subscription]:
        sub = Subscription()
        self._subscribers[key].add(sub.event)
        try:
            yield sub
        finally:
            self._subscribers[key].discard(sub.event)
            if not self._subscribers[key]:
                del self._subscribers[key]
