"""Advances executions: resolve artifact -> deploy functions (with automatic rollback) -> done.

Every transition is driven by `advance(execution_id)`, which reads the execution and the task of its
current step and does at most the next thing. It is idempotent, so it runs on every task event, for
every open execution at start (a control plane restart loses nothing), and every few seconds (an
event missed for any reason is caught up). Tasks get deterministic ids per (execution, step), so a
repeated `advance` never queues a step twice; updates are compare-and-set on the execution row.

Executions touching the same function are serialised with store locks keyed by region/function.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

import structlog
from pydantic import ValidationError

from control_plane.executions.model import (
    CANCELLED,
    FAILED,
    QUEUED,
    ROLLED_BACK,
    RUNNING,
    STEP_DEPLOY,
    STEP_RESOLVE,
    STEP_ROLLBACK,
    SUCCEEDED,
    Cause,
    ExecutionDoc,
    Step,
    Target,
)
from control_plane.server.context import ServerContext
from control_plane.store.base import Conflict
from control_plane.store.models import ExecutionRow, NewTask, TaskRow
from shared.config import ConfigError, ConfigSet, render_artifact_source, render_deployment
from shared.config.errors import UnknownObjectError
from shared.payloads import (
    TASK_ARTIFACT_RESOLVE,
    TASK_LAMBDA_DEPLOY,
    TASK_LAMBDA_ROLLBACK,
    ArtifactResolvePayload,
    LambdaDeployResult,
    LambdaRollbackPayload,
    LambdaRollbackResult,
    ResolvedArtifact,
)

log = structlog.get_logger("orchestrator")

RESOLVE_TIMEOUT_MS = 10 * 60_000
DEPLOY_TIMEOUT_MS = 30 * 60_000
NOT_FOUND_MARKERS = ("ArtifactNotFound", "not found", "does not exist", "no version")


class ExecutionInputError(Exception):
    """The request cannot start an execution (unknown workflow, bad variables...): exit code 2."""


class ExecutionNotFound(ExecutionInputError):
    pass


def _new_id() -> str:
    return "ex-" + time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + uuid.uuid4().hex[:8]


def _task_id(execution_id: str, step: str) -> str:
    return f"t-{execution_id}-{step.lower().replace(' ', '-')}"


class Orchestrator:
    def __init__(self, ctx: ServerContext, load_config: Callable[[], ConfigSet]) -> None:
        self._ctx = ctx
        self._load_config = load_config
        self._locks: dict[str, asyncio.Lock] = {}
        self._pending: set[asyncio.Task[None]] = set()

    # --- starting ----------------------------------------------------------------------------
    async def start_deploy(
        self,
        application: str,
        workflow: str,
        version: str | None,
        variables: Mapping[str, str],
        cause: Cause,
    ) -> ExecutionDoc:
        config = await self._ctx.db(self._load_config)
        try:
            # Render now so bad input fails before anything is queued; rendered again after resolve.
            render_artifact_source(config, application, workflow, variables)
        except UnknownObjectError as exc:
            raise ExecutionNotFound(str(exc)) from exc
        except ConfigError as exc:
            raise ExecutionInputError(str(exc)) from exc
        now = self._ctx.clock()
        doc = ExecutionDoc(
            id=_new_id(),
            application=application,
            workflow=workflow,
            kind="deploy",
            status=QUEUED,
            cause=cause,
            variables=dict(variables),
            requested_version=version or None,
            steps=[Step(name=STEP_RESOLVE), Step(name=STEP_DEPLOY)],
            created_at=now,
            updated_at=now,
        )
        await self._create(doc)
        await self.advance(doc.id)
        return await self.get(doc.id)

    async def start_rollback(self, target_id: str, cause: Cause) -> ExecutionDoc:
        target = await self.get(target_id)
        if target.kind != "deploy":
            raise ExecutionInputError(f"execution {target_id}: only a deployment can be rolled back")
        if not target.snapshots or target.target is None:
            raise ExecutionInputError(
                f"execution {target_id}: has no snapshot to restore (it never reached the deploy step)"
            )
        now = self._ctx.clock()
        doc = ExecutionDoc(
            id=_new_id(),
            application=target.application,
            workflow=target.workflow,
            kind="rollback",
            status=QUEUED,
            cause=cause,
            target_execution_id=target_id,
            target=target.target,
            snapshots=target.snapshots,
            steps=[Step(name=STEP_ROLLBACK)],
            created_at=now,
            updated_at=now,
        )
        await self._create(doc)
        await self.advance(doc.id)
        return await self.get(doc.id)

    async def _create(self, doc: ExecutionDoc) -> None:
        row = ExecutionRow(
            id=doc.id,
            application=doc.application,
            workflow=doc.workflow,
            kind=doc.kind,
            status=doc.status,
            document=doc.model_dump_json(by_alias=True),
            locks=(),
            created_at=doc.created_at,
            updated_at=doc.updated_at,
            version=0,
        )
        await self._ctx.db(self._ctx.store.create_execution, row)
        log.info("execution created", execution=doc.id, kind=doc.kind, workflow=doc.workflow, app=doc.application)

    # --- reading -----------------------------------------------------------------------------
    async def get(self, execution_id: str) -> ExecutionDoc:
        row = await self._ctx.db(self._ctx.store.get_execution, execution_id)
        if row is None:
            raise ExecutionNotFound(f"execution {execution_id!r} does not exist")
        return ExecutionDoc.model_validate_json(row.document)

    async def cancel(self, execution_id: str) -> ExecutionDoc:
        doc = await self.get(execution_id)
        if not doc.terminal:
            await self._update(execution_id, lambda d: setattr(d, "cancel_requested", True))
            await self.advance(execution_id)
        return await self.get(execution_id)

    # --- events ------------------------------------------------------------------------------
    async def on_task_ended(self, task: TaskRow) -> None:
        if task.execution_id:
            await self.advance(task.execution_id)

    async def reconcile(self) -> None:
        rows = await self._ctx.db(self._ctx.store.list_executions, None, [QUEUED, RUNNING], 500)
        for row in rows:
            try:
                await self.advance(row.id)
            except Exception:
                log.exception("advancing execution failed; will retry", execution=row.id)

    # --- the state machine -------------------------------------------------------------------
    async def advance(self, execution_id: str) -> None:
        lock = self._locks.setdefault(execution_id, asyncio.Lock())
        async with lock:
            for _ in range(5):
                try:
                    await self._advance_once(execution_id)
                    return
                except Conflict:
                    continue  # another replica moved it; read again
            log.warning("execution kept changing under us; will retry later", execution=execution_id)
        if not lock.locked():
            doc = await self.get(execution_id)
            if doc.terminal:
                self._locks.pop(execution_id, None)

    async def _advance_once(self, execution_id: str) -> None:
        row = await self._ctx.db(self._ctx.store.get_execution, execution_id)
        if row is None:
            return
        doc = ExecutionDoc.model_validate_json(row.document)
        if doc.terminal:
            await self._ctx.db(self._ctx.store.release_locks, execution_id)
            return
        before = doc.model_dump_json(by_alias=True)
        if doc.kind == "deploy":
            await self._advance_deploy(doc)
        else:
            await self._advance_rollback(doc)
        if doc.model_dump_json(by_alias=True) != before:
            await self._save(row, doc)

    async def _advance_deploy(self, doc: ExecutionDoc) -> None:
        resolve, deploy = doc.step(STEP_RESOLVE), doc.step(STEP_DEPLOY)
        if doc.cancel_requested and await self._cancel_running(doc):
            return
        if resolve.status == "PENDING":
            await self._queue_resolve(doc, resolve)
            return
        if resolve.status == "RUNNING":
            task = await self._task(resolve)
            if task is None or not task.terminal:
                return
            self._finish_step(resolve, task)
            resolved_ok = task.state == "SUCCEEDED"
            if resolved_ok:
                try:
                    doc.artifact = ResolvedArtifact.model_validate(json.loads(task.result or b"{}"))
                except (ValidationError, ValueError) as exc:
                    resolved_ok = False
                    resolve.status, resolve.error = "FAILED", f"delegate returned an unreadable artifact: {exc}"
            if not resolved_ok:
                self._end(doc, CANCELLED if task.state == "CANCELLED" else FAILED, resolve.error)
                deploy.status = "SKIPPED"
                if resolve.error and any(m in resolve.error for m in NOT_FOUND_MARKERS):
                    doc.error_kind = "invalid_input"
                return
        if resolve.status == "SUCCEEDED" and deploy.status in ("PENDING", "WAITING"):
            await self._queue_deploy(doc, deploy)
            return
        if deploy.status == "RUNNING":
            task = await self._task(deploy)
            if task is None or not task.terminal:
                return
            self._finish_step(deploy, task)
            self._record_deploy_result(doc, task)

    async def _queue_resolve(self, doc: ExecutionDoc, step: Step) -> None:
        config = await self._ctx.db(self._load_config)
        try:
            source = render_artifact_source(config, doc.application, doc.workflow, doc.variables)
        except ConfigError as exc:
            step.status, step.error = "FAILED", str(exc)
            doc.step(STEP_DEPLOY).status = "SKIPPED"
            self._end(doc, FAILED, str(exc))
            return
        payload = ArtifactResolvePayload(artifact=source.source, version=doc.requested_version)
        task = await self._enqueue(
            doc,
            step,
            TASK_ARTIFACT_RESOLVE,
            payload.model_dump_json(by_alias=True),
            source.selectors,
            RESOLVE_TIMEOUT_MS,
        )
        step.status, step.task_id, step.started_at = "RUNNING", task.id, self._ctx.clock()
        doc.status = RUNNING

    async def _queue_deploy(self, doc: ExecutionDoc, step: Step) -> None:
        assert doc.artifact is not None
        config = await self._ctx.db(self._load_config)
        try:
            rendered = render_deployment(config, doc.application, doc.workflow, doc.id, doc.artifact, doc.variables)
        except ConfigError as exc:
            step.status, step.error = "FAILED", str(exc)
            self._end(doc, FAILED, str(exc))
            return
        payload = rendered.payload
        names = [f.name for f in payload.functions]
        doc.target = Target(
            region=payload.region, credentials=payload.credentials, selectors=rendered.selectors, function_names=names
        )
        locks = [f"{payload.region}/{name}" for name in names]
        if not await self._ctx.db(self._ctx.store.acquire_locks, doc.id, locks, self._ctx.clock()):
            if step.status != "WAITING":
                step.status = "WAITING"
                step.detail = "waiting for another execution on the same function(s) to finish"
                doc.status = QUEUED
            return
        task = await self._enqueue(
            doc,
            step,
            TASK_LAMBDA_DEPLOY,
            payload.model_dump_json(by_alias=True),
            rendered.selectors,
            DEPLOY_TIMEOUT_MS,
            max_attempts=3,
        )
        step.status, step.task_id, step.started_at, step.detail = "RUNNING", task.id, self._ctx.clock(), None
        doc.status = RUNNING

    def _record_deploy_result(self, doc: ExecutionDoc, task: TaskRow) -> None:
        try:
            result = LambdaDeployResult.model_validate(json.loads(task.result or b"{}"))
        except (ValidationError, ValueError):
            result = LambdaDeployResult(error=task.error or "unreadable result")
        doc.functions = list(result.functions)
        doc.snapshots = list(result.snapshots)
        doc.changed = result.changed
        if result.rollback is not None:
            doc.rollback = result.rollback.model_dump(mode="json", by_alias=True)
            doc.steps.append(
                Step(
                    name=STEP_ROLLBACK,
                    status="SUCCEEDED" if result.rollback.status == "SUCCEEDED" else "FAILED",
                    error=result.rollback.error,
                )
            )
        if task.state == "SUCCEEDED":
            self._end(doc, SUCCEEDED, None)
        elif task.state == "CANCELLED":
            self._end(doc, CANCELLED, task.error or "cancelled")
        elif result.rollback is not None and result.rollback.status == "SUCCEEDED":
            self._end(doc, ROLLED_BACK, task.error or result.error)
        else:
            self._end(doc, FAILED, task.error or result.error)

    async def _advance_rollback(self, doc: ExecutionDoc) -> None:
        step = doc.step(STEP_ROLLBACK)
        if doc.cancel_requested and await self._cancel_running(doc):
            return
        if step.status in ("PENDING", "WAITING"):
            assert doc.target is not None
            assert doc.target_execution_id is not None
            locks = [f"{doc.target.region}/{n}" for n in doc.target.function_names]
            if not await self._ctx.db(self._ctx.store.acquire_locks, doc.id, locks, self._ctx.clock()):
                step.status, doc.status = "WAITING", QUEUED
                step.detail = "waiting for another execution on the same function(s) to finish"
                return
            payload = LambdaRollbackPayload(
                execution_id=doc.id,
                target_execution_id=doc.target_execution_id,
                region=doc.target.region,
                credentials=doc.target.credentials,
                snapshots=doc.snapshots,
            )
            task = await self._enqueue(
                doc,
                step,
                TASK_LAMBDA_ROLLBACK,
                payload.model_dump_json(by_alias=True),
                doc.target.selectors,
                DEPLOY_TIMEOUT_MS,
                max_attempts=3,
            )
            step.status, step.task_id, step.started_at, step.detail = "RUNNING", task.id, self._ctx.clock(), None
            doc.status = RUNNING
            return
        if step.status == "RUNNING":
            ended = await self._task(step)
            if ended is None or not ended.terminal:
                return
            self._finish_step(step, ended)
            if ended.state == "SUCCEEDED":
                try:
                    result = LambdaRollbackResult.model_validate(json.loads(ended.result or b"{}"))
                    doc.functions = list(result.functions)
                except (ValidationError, ValueError):
                    log.warning("rollback result unreadable", execution=doc.id)
                self._end(doc, SUCCEEDED, None)
            else:
                self._end(doc, CANCELLED if ended.state == "CANCELLED" else FAILED, ended.error)

    # --- helpers -----------------------------------------------------------------------------
    async def _cancel_running(self, doc: ExecutionDoc) -> bool:
        """Handle a cancel request; True when nothing else should happen in this round."""
        running = [s for s in doc.steps if s.status == "RUNNING" and s.task_id]
        if running:
            for s in running:
                current = await self._ctx.db(self._ctx.store.get_task, s.task_id)
                if current is not None and not current.terminal and not current.cancel_requested:
                    cancelled = await self._ctx.db(self._ctx.store.request_cancel, current.id, self._ctx.clock())
                    if cancelled.terminal:
                        # Not awaited here: task_ended advances this very execution, whose lock we hold.
                        self._background(self._ctx.task_ended(cancelled))
            return False  # the task's end moves the execution on
        for s in doc.steps:
            if s.status in ("PENDING", "WAITING"):
                s.status = "CANCELLED" if s.status == "WAITING" else "SKIPPED"
        self._end(doc, CANCELLED, "cancelled before it started")
        return True

    async def _enqueue(
        self,
        doc: ExecutionDoc,
        step: Step,
        task_type: str,
        payload: str,
        selectors: list[str],
        timeout_ms: int,
        max_attempts: int = 3,
    ) -> TaskRow:
        task_id = _task_id(doc.id, step.name)
        existing = await self._ctx.db(self._ctx.store.get_task, task_id)
        if existing is not None:
            return existing
        return await self._ctx.enqueue(
            NewTask(
                id=task_id,
                type=task_type,
                payload=payload.encode(),
                selectors=tuple(sorted(set(selectors))),
                max_attempts=max_attempts,
                timeout_ms=timeout_ms,
                execution_id=doc.id,
                step=step.name,
            )
        )

    async def _task(self, step: Step) -> TaskRow | None:
        if not step.task_id:
            return None
        return await self._ctx.db(self._ctx.store.get_task, step.task_id)

    def _finish_step(self, step: Step, task: TaskRow) -> None:
        step.status = task.state  # type: ignore[assignment]
        step.ended_at = task.updated_at
        step.error = task.error or None

    def _end(self, doc: ExecutionDoc, status: str, error: str | None) -> None:
        doc.status = status
        doc.error = error
        log.info("execution ended", execution=doc.id, status=status, error=error)

    async def _save(self, row: ExecutionRow, doc: ExecutionDoc) -> None:
        doc.updated_at = self._ctx.clock()
        updated = ExecutionRow(
            id=row.id,
            application=row.application,
            workflow=row.workflow,
            kind=row.kind,
            status=doc.status,
            document=doc.model_dump_json(by_alias=True),
            locks=row.locks,
            created_at=row.created_at,
            updated_at=doc.updated_at,
            version=row.version,
        )
        await self._ctx.db(self._ctx.store.update_execution, updated)
        if doc.terminal:
            await self._ctx.db(self._ctx.store.release_locks, doc.id)
            await self._wake_waiters()
        self._ctx.bus.publish(doc.id)

    def _background(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _wake_waiters(self) -> None:
        """An execution released its locks: executions waiting for them may go on."""
        rows = await self._ctx.db(self._ctx.store.list_executions, None, [QUEUED], 100)
        for row in rows:
            self._background(self.advance(row.id))

    async def _update(self, execution_id: str, change: Callable[[ExecutionDoc], None]) -> None:
        for _ in range(5):
            row = await self._ctx.db(self._ctx.store.get_execution, execution_id)
            if row is None:
                raise ExecutionNotFound(f"execution {execution_id!r} does not exist")
            doc = ExecutionDoc.model_validate_json(row.document)
            change(doc)
            try:
                await self._save(row, doc)
                return
            except Conflict:
                continue
        raise Conflict(f"execution {execution_id} kept changing; try again")
