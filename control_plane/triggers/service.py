"""TriggerService: keeps collection and cron jobs in step with the stored Triggers and answers the
operator's `triggers list|pause|resume|fire`.

Every SYNC_SECONDS (and at start) it reloads the configuration, so a Trigger applied a moment ago
takes effect without a restart: collection jobs per artifact source (collector.py), cron jobs
(cron.py). The same tick finishes collection rounds whose task ended on another replica and starts
pending executions (starter.py) of every trigger, which is what resumes work after a restart.
Task ends seen by this process wake the right component at once, without waiting for the tick.

Pausing: `spec.paused: true` in the document, or `outrider triggers pause` (stored in the trigger's
state, so re-applying the configuration does not undo an operator's pause). A paused trigger starts
nothing; its source is still collected, and versions that appear while it is paused are recorded
as seen, so `resume` deploys only what appears after it (`fire` deploys the latest on demand).
`fire` starts the workflow at once with the latest version, paused or not: it is an operator's
explicit request, like `outrider deploy`.
"""

from __future__ import annotations

import asyncio
import datetime
import uuid
from collections.abc import Coroutine
from typing import Any

import structlog
from apscheduler.schedulers.base import BaseScheduler

from control_plane.config_store import load_config
from control_plane.executions.model import Cause, ExecutionDoc
from control_plane.executions.orchestrator import ExecutionNotFound
from control_plane.server.context import ServerContext
from control_plane.store.models import TaskRow
from control_plane.triggers.collector import Collector, SourceRef
from control_plane.triggers.cron import CronJobs, next_fire
from control_plane.triggers.starter import ExecutionStarter, Starter, TriggerRef, new_token
from control_plane.triggers.state import (
    PendingStart,
    SourceState,
    StartRecord,
    StateStore,
    TriggerState,
    source_key,
)
from control_plane.triggers.versions import content_fingerprint, describe, job_key
from shared.config import ConfigError, ConfigSet, Trigger, render_artifact_source
from shared.payloads import TASK_ARTIFACT_LIST

log = structlog.get_logger("triggers")

SYNC_SECONDS = 2.0
SYNC_JOB_ID = "trigger-sync"


class TriggerError(Exception):
    """Root of trigger request errors."""


class TriggerNotFound(TriggerError):
    pass


class TriggerPausedInConfig(TriggerError):
    """`resume` cannot undo `spec.paused: true`; only applying the document can."""


def trigger_refs(config: ConfigSet, application: str | None = None) -> list[TriggerRef]:
    refs = []
    for doc in config.of_kind(Trigger, application):
        cron = doc.spec.on.cron
        refs.append(
            TriggerRef(
                application=doc.application,
                name=doc.name,
                workflow=doc.spec.workflow,
                kind="cron" if cron else "newArtifact",
                cron=cron,
                config_paused=doc.spec.paused,
            )
        )
    return refs


def source_refs(config: ConfigSet, refs: list[TriggerRef]) -> tuple[dict[str, SourceRef], dict[str, str]]:
    """Collection jobs for the newArtifact triggers, and the rendering error of each trigger that has one."""
    grouped: dict[str, tuple[Any, list[TriggerRef]]] = {}
    errors: dict[str, str] = {}
    for ref in refs:
        if ref.kind != "newArtifact":
            continue
        try:
            source = render_artifact_source(config, ref.application, ref.workflow)
        except ConfigError as exc:
            errors[ref.key] = f"cannot render workflow {ref.workflow!r}'s artifact source: {exc}"
            continue
        grouped.setdefault(job_key(source), (source, []))[1].append(ref)
    sources = {
        key: SourceRef(
            key=key,
            source=source,
            fingerprint=content_fingerprint(source.source),
            description=describe(source.source),
            triggers=tuple(triggers),
        )
        for key, (source, triggers) in grouped.items()
    }
    return sources, errors


class TriggerService:
    def __init__(self, ctx: ServerContext, orchestrator: ExecutionStarter, scheduler: BaseScheduler) -> None:
        self._ctx = ctx
        self._orchestrator = orchestrator
        self._scheduler = scheduler
        self.instance = f"cp-{uuid.uuid4().hex[:10]}"
        self.states = StateStore(ctx.store, ctx.clock)
        self.starter = Starter(ctx, self.states, orchestrator, self.instance)
        self.collector = Collector(ctx, self.states, scheduler, self._kick)
        self.cron = CronJobs(scheduler, self.cron_fire)
        self._refs: dict[str, TriggerRef] = {}
        self._render_errors: dict[str, str] = {}
        self._waiting: dict[str, str] = {}  # execution id -> trigger key waiting for it to end
        self._draining: set[str] = set()
        self._again: set[str] = set()
        self._background: set[asyncio.Task[None]] = set()

    # --- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        self._scheduler.add_job(
            self.sync,
            "interval",
            seconds=SYNC_SECONDS,
            id=SYNC_JOB_ID,
            replace_existing=True,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,
            next_run_time=datetime.datetime.now(datetime.UTC),
        )

    async def stop(self) -> None:
        for task in list(self._background):
            task.cancel()
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # --- the periodic tick -------------------------------------------------------------------
    async def sync(self) -> None:
        try:
            config = await self._ctx.db(load_config, self._ctx.store)
            refs = trigger_refs(config)
            sources, errors = source_refs(config, refs)
            for key, error in errors.items():
                if self._render_errors.get(key) != error:
                    log.warning("trigger cannot collect its artifact source", trigger=key, error=error)
            self._render_errors = errors
            self._refs = {ref.key: ref for ref in refs}
            self.collector.sync(sources)
            self.cron.sync(refs)
            for key in sources:
                await self.collector.check(key)
            for ref in refs:
                await self._drain(ref.key)
        except Exception:
            log.exception("trigger sync failed; will try again")

    async def on_task_ended(self, task: TaskRow) -> None:
        """ServerContext task listener: runs after the orchestrator's, so executions are up to date."""
        if task.type == TASK_ARTIFACT_LIST:
            key = self.collector.source_for_task(task.id)
            if key is not None:
                self._spawn(self.collector.check(key))
        elif task.execution_id and task.execution_id in self._waiting:
            self._spawn(self._drain(self._waiting[task.execution_id]))

    async def _kick(self, ref: TriggerRef) -> None:
        self._spawn(self._drain(ref.key))

    async def _drain(self, key: str) -> None:
        """Single flight per trigger: a request arriving mid-drain makes the drain run once more."""
        self._again.add(key)
        if key in self._draining:
            return
        self._draining.add(key)
        try:
            while key in self._again:
                self._again.discard(key)
                ref = self._refs.get(key)
                if ref is None:
                    return
                waiting_for = await self.starter.drain(ref)
                if waiting_for is not None:
                    self._waiting = {e: k for e, k in self._waiting.items() if k != key}
                    self._waiting[waiting_for] = key
        except Exception:
            log.exception("starting triggered executions failed; will try again", trigger=key)
        finally:
            self._draining.discard(key)

    async def cron_fire(self, ref: TriggerRef, slot: int) -> None:
        now = self._ctx.clock()
        when = datetime.datetime.fromtimestamp(slot / 1000, datetime.UTC).strftime("%Y-%m-%dT%H:%MZ")

        def change(state: TriggerState) -> PendingStart | bool | None:
            if state.cron_slot >= slot:
                return None  # this minute was handled (by another replica)
            state.cron_slot, state.last_run = slot, now
            if ref.paused(state):
                state.skipped_while_paused += 1
                return False
            start = PendingStart(
                token=new_token(),
                version=None,
                display="latest",
                reason="cron",
                detail=f"cron {ref.cron} at {when}",
                queued_at=now,
            )
            state.pending.append(start)
            return start

        outcome = await self._ctx.db(self.states.mutate, ref.key, TriggerState, change)
        if outcome is False:
            log.info("cron trigger paused; not starting", trigger=ref.label, slot=when)
        elif outcome is not None:
            log.info("cron trigger fired", trigger=ref.label, slot=when)
            await self._drain(ref.key)

    # --- operator requests -------------------------------------------------------------------
    async def _fresh_ref(self, application: str, name: str) -> TriggerRef:
        config = await self._ctx.db(load_config, self._ctx.store)
        ref = next((r for r in trigger_refs(config, application) if r.name == name), None)
        if ref is None:
            raise TriggerNotFound(f"Trigger {application}/{name} does not exist")
        return ref

    async def fire(self, application: str, name: str, by: str) -> ExecutionDoc:
        ref = await self._fresh_ref(application, name)
        doc = await self._orchestrator.start_deploy(
            ref.application,
            ref.workflow,
            None,
            {},
            Cause(type="trigger", trigger=ref.name, by=by, detail=f"fired by {by}"),
        )
        now = self._ctx.clock()
        record = StartRecord(token=new_token(), display="latest", reason="fired", execution_id=doc.id, at=now)

        def change(state: TriggerState) -> bool:
            state.history.append(record)
            del state.history[:-20]
            state.last_execution_id, state.last_run, state.last_success, state.error = doc.id, now, now, None
            return True

        await self._ctx.db(self.states.mutate, ref.key, TriggerState, change)
        log.info("trigger fired by operator", trigger=ref.label, execution=doc.id, by=by)
        return doc

    async def set_paused(self, application: str, name: str, paused: bool, by: str) -> dict[str, Any]:
        ref = await self._fresh_ref(application, name)
        if not paused and ref.config_paused:
            raise TriggerPausedInConfig(
                f"Trigger {ref.label} is paused by its configuration (spec.paused: true); "
                "apply it with paused: false to resume it"
            )
        now = self._ctx.clock()

        def change(state: TriggerState) -> bool | None:
            if state.paused == paused:
                return None
            state.paused, state.paused_by, state.paused_at = paused, by if paused else "", now if paused else 0
            return True

        await self._ctx.db(self.states.mutate, ref.key, TriggerState, change)
        log.info("trigger paused" if paused else "trigger resumed", trigger=ref.label, by=by)
        if paused:
            await self._drain(ref.key)  # moves starts not yet begun to the history as skipped
        [doc] = await self.describe([ref])
        return doc

    async def list_triggers(self, application: str | None = None) -> list[dict[str, Any]]:
        config = await self._ctx.db(load_config, self._ctx.store)
        return await self.describe(trigger_refs(config, application), config)

    async def describe(self, refs: list[TriggerRef], config: ConfigSet | None = None) -> list[dict[str, Any]]:
        if config is None:
            config = await self._ctx.db(load_config, self._ctx.store)
        sources, render_errors = source_refs(config, refs)
        by_trigger = {t.key: s for s in sources.values() for t in s.triggers}
        docs = []
        for ref in refs:
            state: TriggerState = await self._ctx.db(self.states.read, ref.key, TriggerState)
            source = by_trigger.get(ref.key)
            source_state = await self._ctx.db(self.states.read, source_key(source.key), SourceState) if source else None
            last = await self._last_execution(state)
            docs.append(
                status_document(
                    ref,
                    state,
                    source,
                    source_state,
                    render_errors.get(ref.key),
                    last,
                    interval_s=self.collector.interval_ms / 1000,
                    now=self._ctx.clock(),
                )
            )
        return docs

    async def _last_execution(self, state: TriggerState) -> dict[str, Any] | None:
        if not state.last_execution_id:
            return None
        try:
            doc = await self._orchestrator.get(state.last_execution_id)
        except ExecutionNotFound:
            return {"id": state.last_execution_id, "status": "UNKNOWN"}
        return {
            "id": doc.id,
            "status": doc.status,
            "version": doc.artifact.version if doc.artifact else doc.requested_version,
            "createdAt": doc.created_at,
        }


def status_document(
    ref: TriggerRef,
    state: TriggerState,
    source: SourceRef | None,
    source_state: SourceState | None,
    render_error: str | None,
    last_execution: dict[str, Any] | None,
    *,
    interval_s: float,
    now: int,
) -> dict[str, Any]:
    """One row of `outrider triggers list -o json`. Times are epoch milliseconds (null: never)."""
    paused = ref.paused(state)
    doc: dict[str, Any] = {
        "application": ref.application,
        "name": ref.name,
        "workflow": ref.workflow,
        "kind": ref.kind,
        "schedule": f"{ref.cron} (UTC)" if ref.kind == "cron" else f"every {interval_s:g}s",
        "paused": paused,
        "pausedBy": ("configuration" if ref.config_paused else state.paused_by) if paused else None,
    }
    error, error_at = (render_error, now) if render_error else (state.error, state.error_at)
    if ref.kind == "newArtifact":
        ss = source_state or SourceState()
        if not render_error and ss.consecutive_failures > 0:
            error, error_at = ss.last_error, ss.last_error_at
        doc.update(
            source=source.description if source else None,
            lastRun=ss.last_run or None,
            lastSuccess=ss.last_success or None,
            nextRun=(ss.next_run or None) if source else None,
            collecting=bool(ss.in_flight),
            consecutiveFailures=ss.consecutive_failures,
            baselined=state.baselined,
            seenVersions=len(state.seen),
            sourceVersions=ss.versions,
            latestVersion=ss.latest,
        )
    else:
        fire = next_fire(ref.cron, datetime.datetime.fromtimestamp(now / 1000, datetime.UTC)) if ref.cron else None
        doc.update(
            source=None,
            lastRun=state.last_run or None,
            lastSuccess=state.last_success or None,
            nextRun=int(fire.timestamp() * 1000) if fire and not paused else None,
            consecutiveFailures=0,
            seenVersions=None,
        )
    if render_error:
        status = "error"
    elif paused:
        status = "paused"
    elif ref.kind == "newArtifact" and doc["consecutiveFailures"]:
        status = "failing"
    elif ref.kind == "newArtifact" and not state.baselined:
        status = "waiting for first collection"
    else:
        status = "ok"
    doc.update(
        status=status,
        lastError=error,
        lastErrorAt=(error_at or None) if error else None,
        pending=[{"version": p.display or "latest", "reason": p.reason} for p in state.pending],
        skippedWhilePaused=state.skipped_while_paused,
        lastExecution=last_execution,
        note=state.note,
        history=[h.model_dump(by_alias=True, exclude_none=True) for h in state.history[-5:]],
    )
    return doc
