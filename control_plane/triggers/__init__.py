"""Triggers: deploy a workflow when its artifact source reports a new version, or on a cron schedule.

    triggers = install(ctx, orchestrator, scheduler)   # once, from app.build_server
    await triggers.list("shop")                        # `outrider triggers list`
    await triggers.set_paused("shop", "orders-on-new-artifact", True, by="alice")
    await triggers.fire("shop", "orders-nightly", by="alice")

How the parts fit (each module's docstring has the details):
- collector.py: one apscheduler interval job per artifact source read by a newArtifact trigger;
  each round is an `artifact.list` task on a delegate (credentials stay in the VPC); jittered,
  exponential backoff on failure, status stored and shown, never disabled.
- versions.py: which listed versions are new for a trigger (stable identities, first-listing
  baseline, safety valve), pure.
- cron.py: apscheduler CronTrigger jobs in UTC, with cron's day-of-month/day-of-week semantics.
- starter.py: pending starts become executions exactly once and in order, across restarts and
  replicas (claim, token in the execution's cause, look-up before retrying).
- state.py: the durable per-trigger and per-source documents, changed by compare-and-set.
- service.py: keeps jobs in step with the stored configuration; answers operator requests.
"""

from __future__ import annotations

from apscheduler.schedulers.base import BaseScheduler

from control_plane.server.context import ServerContext
from control_plane.triggers.cron import cron_trigger
from control_plane.triggers.service import TriggerError, TriggerNotFound, TriggerPausedInConfig, TriggerService
from control_plane.triggers.starter import ExecutionStarter, TriggerRef

__all__ = [
    "ExecutionStarter",
    "TriggerError",
    "TriggerNotFound",
    "TriggerPausedInConfig",
    "TriggerRef",
    "TriggerService",
    "cron_trigger",
    "install",
]


def install(ctx: ServerContext, orchestrator: ExecutionStarter, scheduler: BaseScheduler) -> TriggerService:
    """Create the trigger service, listen to task ends (after the orchestrator, which must already be
    registered) and schedule its jobs; they run once `scheduler` is started."""
    service = TriggerService(ctx, orchestrator, scheduler)
    ctx.task_listeners.append(service.on_task_ended)
    service.start()
    return service
