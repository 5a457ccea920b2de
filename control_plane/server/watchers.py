"""In-process notification of new log lines and state changes, for WatchTask/WatchExecution streams.

Watchers also re-read the store on a short timeout, so events produced by another replica reach
them too, only a little later.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict


class ChangeBus:
    def __init__(self) -> None:
        self._events: dict[str, set[asyncio.Event]] = defaultdict(set)

    def publish(self, key: str) -> None:
        for event in self._events.get(key, ()):
            event.set()

    async def wait(self, key: str, seconds: float) -> None:
        event = asyncio.Event()
        self._events[key].add(event)
        try:
            await asyncio.wait_for(event.wait(), seconds)
        except TimeoutError:
            pass
        finally:
            self._events[key].discard(event)
            if not self._events[key]:
                del self._events[key]
