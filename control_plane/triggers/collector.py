"""Artifact collection: one apscheduler job per artifact source that a newArtifact trigger reads.

A round queues an `artifact.list` task (the delegate holds the credentials; nothing reaches the
source from the control plane), and when the task ends its listing is folded into the state of
every trigger reading that source (versions.py), which queues starts (starter.py).

Schedule. After a successful round the next one is due `interval` later; after a failing one,
`interval * 2^(failures-1)`, capped at max(interval, min(10 * interval, 5 min)); every delay is
jittered by +-10%. A source is never disabled: it keeps being tried, and its last success, last
error, consecutive failures and next run are stored with it and shown by `outrider triggers list`.
A list task no delegate picks up within max(interval, 30 s) is cancelled and counted as a failure
("no delegate ..."), so a missing delegate is visible rather than silent.

Replicas. The round's state (task in flight, next run) is a shared row changed by compare-and-set:
a replica whose job fires claims the round only if none is in flight and it is due, so a source is
listed once per interval however many control planes run. Jobs reschedule themselves to the shared
`nextRun`. Processing a finished task is idempotent (folding a listing twice adds nothing), so
whichever replica sees the task end first may do it, and a crash halfway loses at most one round.
"""

from __future__ import annotations

import datetime
import json
import random
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import structlog
from apscheduler.schedulers.base import BaseScheduler
from pydantic import ValidationError

from control_plane.server.context import ServerContext
from control_plane.store.models import QUEUED, SUCCEEDED, NewTask, TaskRow
from control_plane.triggers.starter import TriggerRef, new_token
from control_plane.triggers.state import SourceState, StateStore, TriggerState, source_key
from control_plane.triggers.versions import ListingOutcome, apply_listing
from shared.config import RenderedSource
from shared.payloads import TASK_ARTIFACT_LIST, ArtifactListPayload, ArtifactListResult

log = structlog.get_logger("triggers")

JOB_PREFIX = "trigger-collect:"
LIST_LIMIT = 100
LIST_TIMEOUT_MS = 60_000
MIN_QUEUE_WAIT_MS = 30_000
LOST_TASK_MS = 10_000
MAX_BACKOFF_MS = 300_000
DUE_TOLERANCE_MS = 250


@dataclass(frozen=True)
class SourceRef:
    """One collection job: a rendered source and the triggers reading it."""

    key: str
    source: RenderedSource
    fingerprint: str
    description: str
    triggers: tuple[TriggerRef, ...]

    @property
    def state_key(self) -> str:
        return source_key(self.key)


def next_delay_ms(interval_ms: int, failures: int, rng: random.Random) -> int:
    """Delay before the next round: the interval, or exponential backoff after failures; jittered."""
    base = interval_ms
    if failures > 0:
        cap = max(interval_ms, min(10 * interval_ms, MAX_BACKOFF_MS))
        base = min(interval_ms * 2 ** min(failures - 1, 30), cap)
    return int(base * rng.uniform(0.9, 1.1))


class Collector:
    def __init__(
        self,
        ctx: ServerContext,
        states: StateStore,
        scheduler: BaseScheduler,
        on_started: Callable[[TriggerRef], Awaitable[None]],
        rng: random.Random | None = None,
    ) -> None:
        self._ctx = ctx
        self._states = states
        self._scheduler = scheduler
        self._on_started = on_started
        self._rng = rng or random.Random()
        self._interval_ms = max(1, int(ctx.settings.artifact_poll_interval_s * 1000))
        self._sources: dict[str, SourceRef] = {}
        self._tasks: dict[str, str] = {}  # artifact.list task id -> source key, for tasks queued here

    @property
    def interval_ms(self) -> int:
        return self._interval_ms

    # --- jobs --------------------------------------------------------------------------------
    def sync(self, sources: dict[str, SourceRef]) -> None:
        """Make the scheduler's collection jobs match the sources that newArtifact triggers read."""
        for key in list(self._sources):
            if key not in sources:
                del self._sources[key]
                if self._scheduler.get_job(JOB_PREFIX + key) is not None:
                    self._scheduler.remove_job(JOB_PREFIX + key)
                log.info("artifact collection stopped", source=key)
        for key, ref in sources.items():
            known = key in self._sources
            self._sources[key] = ref
            if known:
                continue
            self._scheduler.add_job(
                self.run_round,
                "interval",
                seconds=self._interval_ms / 1000,
                args=[key],
                id=JOB_PREFIX + key,
                replace_existing=True,
                max_instances=1,
                coalesce=True,
                misfire_grace_time=None,
                next_run_time=self._at(self._ctx.clock() + self._rng.randint(0, min(self._interval_ms, 1000) // 10)),
            )
            log.info("artifact collection scheduled", source=ref.description, every_s=self._interval_ms / 1000)

    def source_for_task(self, task_id: str) -> str | None:
        return self._tasks.get(task_id)

    def _at(self, ms: int) -> datetime.datetime:
        return datetime.datetime.fromtimestamp(ms / 1000, datetime.UTC)

    def _reschedule(self, key: str, at_ms: int) -> None:
        job = self._scheduler.get_job(JOB_PREFIX + key)
        if job is not None:
            job.modify(next_run_time=self._at(at_ms))

    # --- a round -----------------------------------------------------------------------------
    async def run_round(self, key: str) -> None:
        try:
            await self._run_round(key)
        except Exception:
            log.exception("artifact collection round failed; will try again", source=key)

    async def _run_round(self, key: str) -> None:
        ref = self._sources.get(key)
        if ref is None:
            return
        ctx = self._ctx
        now = ctx.clock()
        task_id = f"t-collect-{key[:12]}-{secrets.token_hex(5)}"

        def claim(state: SourceState) -> bool | None:
            if state.in_flight or state.next_run > now + DUE_TOLERANCE_MS:
                return None
            state.in_flight, state.in_flight_since, state.last_run = task_id, now, now
            state.next_run = now + self._interval_ms
            return True

        if await ctx.db(self._states.mutate, ref.state_key, SourceState, claim) is None:
            state: SourceState = await ctx.db(self._states.read, ref.state_key, SourceState)
            if state.in_flight:
                await self.check(key)
                self._reschedule(key, now + self._interval_ms)
            else:  # another replica ran this round; follow the shared schedule
                self._reschedule(key, state.next_run + self._rng.randint(0, self._interval_ms // 20))
            return
        payload = ArtifactListPayload(artifact=ref.source.source, limit=LIST_LIMIT)
        self._tasks[task_id] = key  # before queueing: the task may end before enqueue returns
        try:
            await ctx.enqueue(
                NewTask(
                    id=task_id,
                    type=TASK_ARTIFACT_LIST,
                    payload=payload.model_dump_json(by_alias=True).encode(),
                    selectors=tuple(sorted(set(ref.source.selectors))),
                    max_attempts=1,
                    timeout_ms=LIST_TIMEOUT_MS,
                )
            )
        except Exception as exc:
            await self._finish(key, task_id, None, f"could not queue the listing task: {exc}")
            return
        log.debug("artifact collection queued", source=ref.description, task=task_id)
        if task_id in self._tasks:
            # Fallback only: the end of the task reschedules the job to the real next run.
            self._reschedule(key, now + max(self._interval_ms, self._queue_wait_ms()))

    def _queue_wait_ms(self) -> int:
        return max(self._interval_ms, MIN_QUEUE_WAIT_MS)

    async def check(self, key: str) -> None:
        """Finish the round in flight if its task ended (or never started in time)."""
        ref = self._sources.get(key)
        state_key = ref.state_key if ref is not None else source_key(key)
        ctx = self._ctx
        state: SourceState = await ctx.db(self._states.read, state_key, SourceState)
        # Forget tasks of this source whose round another replica has closed.
        self._tasks = {t: k for t, k in self._tasks.items() if k != key or t == state.in_flight}
        if not state.in_flight:
            return
        task = await ctx.db(ctx.store.get_task, state.in_flight)
        age = ctx.clock() - state.in_flight_since
        if task is None:
            if age > LOST_TASK_MS:  # the claimant died before queueing it: just run a new round
                await self._finish(key, state.in_flight, None, None, lost=True)
            return
        if not task.terminal:
            if task.state == QUEUED and age > self._queue_wait_ms():
                cancelled = await ctx.db(ctx.store.request_cancel, task.id, ctx.clock())
                selectors = ", ".join(task.selectors) or "none"
                await self._finish(
                    key,
                    task.id,
                    None,
                    f"no delegate picked up the artifact listing within {self._queue_wait_ms() // 1000}s "
                    f"(is one connected with selectors [{selectors}]?)",
                )
                if cancelled.terminal:
                    await ctx.task_ended(cancelled)  # metrics and watchers; the round is closed already
            return
        await self._finish(key, task.id, task, None)

    async def _finish(
        self, key: str, task_id: str, task: TaskRow | None, error: str | None, *, lost: bool = False
    ) -> None:
        ctx = self._ctx
        ref = self._sources.get(key)
        listing: ArtifactListResult | None = None
        if task is not None and error is None:
            if task.state == SUCCEEDED:
                try:
                    listing = ArtifactListResult.model_validate(json.loads(task.result or b"{}"))
                except (ValidationError, ValueError) as exc:
                    error = f"the delegate returned an unreadable listing: {exc}"
            else:
                error = task.error or f"listing {task.state.lower()}"
        if listing is not None and ref is not None:
            for trigger in ref.triggers:
                await self._fold(trigger, ref, listing)
        now = ctx.clock()
        jitter_rng = self._rng

        def done(state: SourceState) -> int | None:
            if state.in_flight != task_id:
                return None  # finished already (another replica, or an earlier call)
            state.in_flight, state.in_flight_since = None, 0
            if lost:
                state.next_run = now
            elif listing is not None:
                state.last_success, state.last_error, state.consecutive_failures = now, None, 0
                state.versions = len(listing.versions)
                state.latest = listing.versions[-1].version if listing.versions else None
                state.next_run = now + next_delay_ms(self._interval_ms, 0, jitter_rng)
            else:
                state.consecutive_failures += 1
                state.last_error, state.last_error_at = error, now
                state.next_run = now + next_delay_ms(self._interval_ms, state.consecutive_failures, jitter_rng)
            return state.next_run

        state_key = ref.state_key if ref is not None else source_key(key)
        next_run = await ctx.db(self._states.mutate, state_key, SourceState, done)
        self._tasks.pop(task_id, None)
        if next_run is None:
            return
        if error is not None and not lost:
            where = ref.description if ref is not None else key
            log.warning("artifact collection failed", source=where, error=error)
        self._reschedule(key, next_run)

    async def _fold(self, trigger: TriggerRef, ref: SourceRef, listing: ArtifactListResult) -> None:
        ctx = self._ctx
        now = ctx.clock()

        def change(state: TriggerState) -> ListingOutcome | None:
            outcome = apply_listing(
                state,
                ref.fingerprint,
                listing.versions,
                paused=trigger.paused(state),
                now=now,
                new_token=new_token,
            )
            if outcome.started or outcome.baseline is not None or outcome.skipped:
                return outcome
            return None

        outcome = await ctx.db(self._states.mutate, trigger.key, TriggerState, change)
        if outcome is None:
            return
        if outcome.note:
            log.info("trigger baseline recorded", trigger=trigger.label, note=outcome.note)
        if outcome.skipped:
            log.info("new versions not deployed: trigger paused", trigger=trigger.label, versions=outcome.skipped)
        if outcome.started:
            log.info(
                "new artifact versions",
                trigger=trigger.label,
                versions=[s.display for s in outcome.started],
            )
            await self._on_started(trigger)
