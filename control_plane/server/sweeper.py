"""Periodic work of the control plane, scheduled with apscheduler: lease expiry and queue nudging.

Expired leases go back to the queue (or fail after max attempts); attempts past their timeout
fail. Either way the task's listeners hear about terminal transitions. While tasks stay queued,
a few idle pollers are woken so work queued by another replica is picked up within a sweep.
"""

from __future__ import annotations

import structlog
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from control_plane.server.context import ServerContext
from control_plane.store.models import QUEUED

log = structlog.get_logger("sweeper")


class Sweeper:
    def __init__(self, ctx: ServerContext) -> None:
        self._ctx = ctx
        self._scheduler = AsyncIOScheduler(timezone="UTC")

    @property
    def scheduler(self) -> AsyncIOScheduler:
        return self._scheduler

    def start(self) -> None:
        self._scheduler.add_job(
            self.sweep,
            "interval",
            seconds=self._ctx.settings.sweep_ms / 1000,
            id="sweep",
            max_instances=1,
            coalesce=True,
        )
        self._scheduler.add_job(self.retention, "interval", minutes=10, id="retention", max_instances=1, coalesce=True)
        self._scheduler.start()

    async def retention(self) -> None:
        """Ended tasks outside executions (artifact collections every minute, diagnostics) are kept
        for `task_retention_s`; execution tasks stay as long as their executions."""
        ctx = self._ctx
        try:
            cutoff = ctx.clock() - int(ctx.settings.task_retention_s * 1000)
            while await ctx.db(ctx.store.purge_tasks, cutoff, 1000) == 1000:
                pass
        except Exception:
            log.exception("task retention failed; will try again")

    def stop(self) -> None:
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)

    async def sweep(self) -> None:
        ctx = self._ctx
        try:
            changed = await ctx.db(ctx.store.expire, ctx.clock())
            for task in changed:
                if task.state == QUEUED:
                    ctx.metrics.leases_expired.inc()
                    log.warning("lease expired; task queued again", task=task.id, attempt=task.attempt)
                    ctx.dispatcher.notify(frozenset(task.selectors), task.type)
                else:
                    log.warning("task ended by sweeper", task=task.id, state=task.state, error=task.error)
                    await ctx.task_ended(task)
            queued = await ctx.db(ctx.store.queued_count)
            if queued:
                ctx.dispatcher.nudge(min(queued, 8))
        except Exception:
            log.exception("sweep failed; will try again")
