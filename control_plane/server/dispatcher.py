"""Wakes long-polling delegates the moment a task they can run is queued (in this process).

Pollers register a waiter *before* they try to claim, so a task queued between the claim
attempt and the wait is never missed. A queued task wakes one matching waiter; if that poller
loses the claim race it simply waits again. The sweeper calls `nudge` while tasks stay queued
(tasks queued by another replica, or requeued after a lease expired), which wakes a few waiters.
"""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field


@dataclass(eq=False)
class Waiter:
    selectors: frozenset[str]
    task_types: frozenset[str]
    event: asyncio.Event = field(default_factory=asyncio.Event)

    def matches(self, selectors: frozenset[str], task_type: str) -> bool:
        return task_type in self.task_types and selectors <= self.selectors


class Dispatcher:
    def __init__(self) -> None:
        self._waiters: dict[int, Waiter] = {}
        self._ids = itertools.count()

    def register(self, selectors: frozenset[str], task_types: frozenset[str]) -> tuple[int, Waiter]:
        waiter = Waiter(selectors, task_types)
        key = next(self._ids)
        self._waiters[key] = waiter
        return key, waiter

    def unregister(self, key: int) -> None:
        self._waiters.pop(key, None)

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    def notify(self, selectors: frozenset[str], task_type: str) -> bool:
        """Wake the longest-waiting idle poller that can run this task; False if none waits."""
        for waiter in self._waiters.values():
            if not waiter.event.is_set() and waiter.matches(selectors, task_type):
                waiter.event.set()
                return True
        return False

    def nudge(self, count: int) -> None:
        """Wake up to `count` idle pollers so they look at the queue again."""
        woken = 0
        for waiter in self._waiters.values():
            if woken >= count:
                break
            if not waiter.event.is_set():
                waiter.event.set()
                woken += 1
