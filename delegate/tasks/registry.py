"""The task-type registry: type name -> handler. Unknown types are never polled for.

A handler is an async callable taking a TaskContext and returning the JSON-able result. It raises
TaskFailed (with an optional result) for an expected failure; any other exception fails the task
with its message. Handlers must call `ctx.check_stop()` at safe points.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from delegate.tasklog import TaskLog


class TaskFailed(Exception):
    def __init__(self, message: str, result: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.result = dict(result or {})


class TaskCancelled(TaskFailed):
    """The task stopped because it was cancelled, with what it did (e.g. its rollback) in `result`."""


class TaskStopped(Exception):
    """Raised at a safe point when the task was cancelled or its lease is about to be lost."""

    def __init__(self, reason: str, *, cancelled: bool) -> None:
        super().__init__(reason)
        self.cancelled = cancelled


@dataclass
class TaskContext:
    task_id: str
    attempt: int
    execution_id: str
    type: str
    payload: dict[str, Any]
    log: TaskLog
    stop_reason: Callable[[], str | None]
    """None while the task may go on; else why it must stop ("cancelled", "lease lost", ...)."""
    cancelled: Callable[[], bool]
    services: dict[str, Any] = field(default_factory=dict)
    """Per-process collaborators (AWS factory, secret resolver...) wired by the agent."""
    checkpoint: bytes = b""
    """What an earlier attempt of this task saved with `save_checkpoint` (JSON), or empty."""
    save_checkpoint: Callable[[bytes], None] | None = None
    """Store a checkpoint with the control plane before going on; blocking, callable from a worker
    thread; raises TaskFailed when it cannot be stored (nothing should change without it)."""

    def should_stop(self) -> bool:
        return self.stop_reason() is not None

    def check_stop(self) -> None:
        reason = self.stop_reason()
        if reason is not None:
            raise TaskStopped(reason, cancelled=self.cancelled())

    async def sleep(self, seconds: float) -> None:
        """Sleep in small steps, stopping early at the first stop request."""
        loop = asyncio.get_running_loop()
        end = loop.time() + seconds
        while (left := end - loop.time()) > 0:
            self.check_stop()
            await asyncio.sleep(min(left, 0.1))
        self.check_stop()


Handler = Callable[[TaskContext], Awaitable[Mapping[str, Any]]]


class TaskRegistry:
    def __init__(self) -> None:
        self._handlers: dict[str, Handler] = {}

    def register(self, task_type: str, handler: Handler) -> None:
        if task_type in self._handlers:
            raise ValueError(f"task type {task_type!r} registered twice")
        self._handlers[task_type] = handler

    def get(self, task_type: str) -> Handler | None:
        return self._handlers.get(task_type)

    @property
    def types(self) -> tuple[str, ...]:
        return tuple(sorted(self._handlers))
