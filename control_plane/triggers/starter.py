"""Turns a trigger's pending starts into executions: each exactly once, in order.

Why exactly once holds across crashes and replicas (all writes are compare-and-set on the
trigger's row, see state.py):

1. Collection writes "these versions are seen" and "start each of them" (`pending`, with a fresh
   token each) in ONE write. A crash before it loses nothing (the next listing still shows the
   versions as unseen); a crash after it loses nothing (the pending starts are durable).
2. Before starting, a replica *claims* the first pending start: it records its name and a claim
   deadline (CLAIM_MS). Only the winner of that write calls `start_deploy`, so two replicas never
   start the same version at the same time.
3. The execution's cause carries the token (`cause.detail` ends in `[ti-...]`). After the start,
   the pending entry moves to the history with the execution id.
4. A claim that was never completed (the process died between 2 and 3, or start_deploy failed) is
   taken over once its deadline passed. The new claimant first looks for an execution carrying
   the token: if the dead process created it, it is recorded, not started again; if not, it is
   started now.

The one window left is a claimant that stalls for longer than CLAIM_MS *inside* start_deploy and
then creates its execution after another replica looked for it; start_deploy is a few quick
database writes, so CLAIM_MS (15 s) is far beyond it. After a crash of a single control plane, the
interrupted start waits at most CLAIM_MS before it is resumed.

Order: a trigger starts its next execution only when the previous one it started has ended, so
ten uploads deploy in the order they appeared even if the orchestrator were to grant function
locks in another order. Network and database I/O: every async method.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, Protocol

import structlog

from control_plane.executions.model import Cause, ExecutionDoc
from control_plane.executions.orchestrator import ExecutionInputError, ExecutionNotFound
from control_plane.server.context import ServerContext
from control_plane.triggers.state import PendingStart, StartRecord, StateStore, TriggerState, trigger_key

log = structlog.get_logger("triggers")

CLAIM_MS = 15_000
MAX_START_ATTEMPTS = 5
LOOKUP_LIMIT = 500
CLOCK_SKEW_MS = 60_000


class ExecutionStarter(Protocol):
    """What triggers need of the orchestrator (the real one, or a fake in tests)."""

    async def start_deploy(
        self,
        application: str,
        workflow: str,
        version: str | None,
        variables: Mapping[str, str],
        cause: Cause,
    ) -> ExecutionDoc: ...

    async def get(self, execution_id: str) -> ExecutionDoc: ...


@dataclass(frozen=True)
class TriggerRef:
    """A Trigger document as the scheduler needs it."""

    application: str
    name: str
    workflow: str
    kind: Literal["newArtifact", "cron"]
    cron: str | None = None
    config_paused: bool = False

    @property
    def key(self) -> str:
        return trigger_key(self.application, self.name)

    @property
    def label(self) -> str:
        return f"{self.application}/{self.name}"

    def paused(self, state: TriggerState) -> bool:
        return self.config_paused or state.paused


def new_token() -> str:
    return "ti-" + secrets.token_hex(8)


def cause_detail(start: PendingStart) -> str:
    return f"{start.detail or start.reason} [{start.token}]"


class Starter:
    def __init__(self, ctx: ServerContext, states: StateStore, orchestrator: ExecutionStarter, instance: str) -> None:
        self._ctx = ctx
        self._states = states
        self._orchestrator = orchestrator
        self._instance = instance

    async def drain(self, ref: TriggerRef) -> str | None:
        """Start pending executions while the order rule allows; returns the execution being waited
        for (so the caller can wake us when it ends), or None."""
        for _ in range(100):
            step = await self._step(ref)
            if step is None:
                return None
            if step != "again":
                return step
        return None

    async def _step(self, ref: TriggerRef) -> str | None:
        """One move; "again" to go on, an execution id to wait for, None when there is nothing to do."""
        ctx = self._ctx
        state: TriggerState = await ctx.db(self._states.read, ref.key, TriggerState)
        if not state.pending:
            return None
        now = ctx.clock()
        if ref.paused(state):
            await ctx.db(self._states.mutate, ref.key, TriggerState, lambda s: _skip_pending(s, now))
            return None
        item = state.pending[0]
        if item.claimed_until > now:
            return None  # someone (maybe another replica) is starting it right now
        if item.claimed_at:
            found = await self._find_started(ref, item)
            if found is not None:
                log.info("found the execution of an interrupted start", trigger=ref.label, execution=found.id)
                await self._record(ref, item, found.id, None)
                return "again"
        if state.last_execution_id and not await self._ended(state.last_execution_id):
            return state.last_execution_id
        claimed = await ctx.db(self._states.mutate, ref.key, TriggerState, lambda s: self._claim(s, item.token, now))
        if claimed is None:
            return "again"  # the state moved; look again
        try:
            doc = await self._orchestrator.start_deploy(
                ref.application,
                ref.workflow,
                item.version,
                {},
                Cause(type="trigger", trigger=ref.name, by=item.reason, detail=cause_detail(item)),
            )
        except ExecutionInputError as exc:
            log.warning("trigger could not start its workflow", trigger=ref.label, error=str(exc))
            await self._record(ref, item, None, str(exc))
            return "again"
        except Exception as exc:
            log.exception("starting a triggered execution failed; will retry", trigger=ref.label)
            message, failed_at = str(exc) or type(exc).__name__, ctx.clock()
            await ctx.db(
                self._states.mutate, ref.key, TriggerState, lambda s: _release(s, item.token, message, failed_at)
            )
            return None
        log.info("trigger started execution", trigger=ref.label, execution=doc.id, version=item.display or "latest")
        await self._record(ref, item, doc.id, None)
        return "again"

    def _claim(self, state: TriggerState, token: str, now: int) -> bool | None:
        if not state.pending or state.pending[0].token != token or state.pending[0].claimed_until > now:
            return None
        item = state.pending[0]
        item.claimed_by, item.claimed_until = self._instance, now + CLAIM_MS
        item.claimed_at = item.claimed_at or now
        item.attempts += 1
        return True

    async def _record(self, ref: TriggerRef, item: PendingStart, execution_id: str | None, error: str | None) -> None:
        now = self._ctx.clock()
        record = StartRecord(
            token=item.token,
            version=item.version,
            display=item.display,
            reason=item.reason,
            execution_id=execution_id,
            error=error,
            at=now,
        )

        def change(state: TriggerState) -> bool | None:
            if not any(p.token == item.token for p in state.pending):
                return None  # recorded already (by another replica)
            state.finish(record)
            if execution_id:
                state.last_execution_id, state.last_success, state.error = execution_id, now, None
            else:
                state.error, state.error_at = f"could not start {item.display or 'the workflow'}: {error}", now
            return True

        await self._ctx.db(self._states.mutate, ref.key, TriggerState, change)

    async def _find_started(self, ref: TriggerRef, item: PendingStart) -> ExecutionDoc | None:
        """The execution an interrupted claimant created for this start, if it got that far."""
        rows = await self._ctx.db(self._ctx.store.list_executions, ref.application, None, LOOKUP_LIMIT)
        for row in rows:
            if row.created_at < item.claimed_at - CLOCK_SKEW_MS:
                break  # newest first: the rest are older than the first claim
            if item.token not in row.document:
                continue
            doc = ExecutionDoc.model_validate_json(row.document)
            if doc.cause.trigger == ref.name and item.token in (doc.cause.detail or ""):
                return doc
        return None

    async def _ended(self, execution_id: str) -> bool:
        try:
            return (await self._orchestrator.get(execution_id)).terminal
        except ExecutionNotFound:
            return True


def _skip_pending(state: TriggerState, now: int) -> bool | None:
    if not state.pending:
        return None
    for item in list(state.pending):
        state.finish(
            StartRecord(
                token=item.token,
                version=item.version,
                display=item.display,
                reason=item.reason,
                error="skipped: the trigger is paused",
                at=now,
            )
        )
        state.skipped_while_paused += 1
    return True


def _release(state: TriggerState, token: str, error: str, now: int) -> bool | None:
    """After a failed start: give the claim up at once (the next try looks for an execution first),
    or give up on the start after MAX_START_ATTEMPTS."""
    item = next((p for p in state.pending if p.token == token), None)
    if item is None:
        return None
    if item.attempts >= MAX_START_ATTEMPTS:
        state.finish(
            StartRecord(
                token=item.token,
                version=item.version,
                display=item.display,
                reason=item.reason,
                error=f"gave up after {item.attempts} attempts: {error}",
                at=now,
            )
        )
        state.error, state.error_at = f"could not start {item.display or 'the workflow'}: {error}", now
        return True
    item.claimed_until = 0
    return True
