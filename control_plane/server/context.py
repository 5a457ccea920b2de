"""The collaborators every service needs, wired once per process by `app.build_server`."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from control_plane.server.dispatcher import Dispatcher
from control_plane.server.metrics import Metrics
from control_plane.server.settings import ServerSettings
from control_plane.server.watchers import ChangeBus
from control_plane.store import Store
from control_plane.store.models import ApiKeyRow, NewTask, TaskRow, TokenRow
from shared.clock import Clock, now_ms
from shared.pb.outrider.v1 import common_pb2

T = TypeVar("T")
TaskListener = Callable[[TaskRow], Awaitable[None]]


TOKEN_CACHE_MS = 1_000


class TokenCache:
    """Recently checked delegate tokens, so the four calls of a task do not each hit the database.

    A revocation or rotation made through this process clears the cache at once ("refused on the next
    call"); one made through another replica takes effect here within TOKEN_CACHE_MS.
    """

    def __init__(self) -> None:
        self._entries: dict[str, tuple[TokenRow, int]] = {}

    def clear(self) -> None:
        self._entries.clear()

    async def find(self, secret_hash: str, now: int, ctx: ServerContext) -> TokenRow | None:
        hit = self._entries.get(secret_hash)
        if hit is not None and hit[1] > now:
            return hit[0]
        token = await ctx.db(ctx.store.find_token, secret_hash, now)
        if token is None:
            self._entries.pop(secret_hash, None)
            return None
        until = now + TOKEN_CACHE_MS
        if secret_hash == token.previous_hash:
            until = min(until, token.previous_expires_at)  # a rotated-out secret dies on time
        if len(self._entries) > 10_000:
            self._entries.clear()
        self._entries[secret_hash] = (token, until)
        return token


class ApiKeyCache:
    """Recently checked API keys (keys are never revoked in place; a removed key ages out in 1 s)."""

    def __init__(self) -> None:
        self._entries: dict[str, tuple[ApiKeyRow, int]] = {}

    async def find(self, key_hash: str, now: int, ctx: ServerContext) -> ApiKeyRow | None:
        hit = self._entries.get(key_hash)
        if hit is not None and hit[1] > now:
            return hit[0]
        row = await ctx.db(ctx.store.find_api_key, key_hash)
        if row is None:
            self._entries.pop(key_hash, None)
            return None
        if len(self._entries) > 10_000:
            self._entries.clear()
        self._entries[key_hash] = (row, now + TOKEN_CACHE_MS)
        return row


@dataclass
class ServerContext:
    settings: ServerSettings
    store: Store
    metrics: Metrics
    clock: Clock = now_ms
    dispatcher: Dispatcher = field(default_factory=Dispatcher)
    bus: ChangeBus = field(default_factory=ChangeBus)
    executor: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(16, thread_name_prefix="db"))
    signer: Any = None  # shared.signing.TaskSigner when tasks are signed
    task_listeners: list[TaskListener] = field(default_factory=list)
    tokens: TokenCache = field(default_factory=TokenCache)
    api_keys: ApiKeyCache = field(default_factory=ApiKeyCache)
    executions_of_tasks: dict[str, str] = field(default_factory=dict)
    """task id -> execution id of tasks leased through this process (avoids a read per log batch)."""

    async def db(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a blocking store call in the DB thread pool."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, lambda: fn(*args))

    async def enqueue(self, task: NewTask) -> TaskRow:
        if self.signer is not None and not task.signature:
            task = self.signer.sign_new_task(task)
        row = await self.db(self.store.enqueue, task, self.clock())
        self.metrics.tasks_queued.labels(row.type).inc()
        self.dispatcher.notify(frozenset(row.selectors), row.type)
        return row

    async def task_ended(self, task: TaskRow) -> None:
        """Called once per terminal transition; wakes watchers and the execution orchestrator."""
        self.metrics.tasks_finished.labels(task.type, task.state).inc()
        self.executions_of_tasks.pop(task.id, None)
        self.bus.publish(task.id)
        if task.execution_id:
            self.bus.publish(task.execution_id)
        for listener in self.task_listeners:
            await listener(task)


def task_state_enum(state: str) -> common_pb2.TaskState:
    # The generated enum wrapper is not callable at run time; Value() returns the plain int.
    return cast("common_pb2.TaskState", common_pb2.TaskState.Value("TASK_STATE_" + state))
