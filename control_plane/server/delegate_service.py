"""DelegateService: register, long-poll, heartbeat, logs, completion. See proto/outrider/v1/delegate.proto.

Handlers authenticate the token on every call (revocation takes effect at once), map the session
to the delegate, and fence every call about a task by (task id, attempt, lease token, delegate).
"""

from __future__ import annotations

import asyncio
import json
import secrets
import socket

import grpc
import structlog

from control_plane.server.auth import authenticate_delegate
from control_plane.server.context import ServerContext, task_state_enum
from control_plane.store.base import NotFound
from control_plane.store.models import CANCELLED, FAILED, SUCCEEDED, DelegateRow, TaskRow
from shared.pb.outrider.v1 import common_pb2, delegate_pb2, delegate_pb2_grpc
from shared.version import __version__

log = structlog.get_logger("delegate_service")

_STATE_NAMES = {
    common_pb2.TASK_STATE_SUCCEEDED: SUCCEEDED,
    common_pb2.TASK_STATE_FAILED: FAILED,
    common_pb2.TASK_STATE_CANCELLED: CANCELLED,
}
_LEASE_STATUS = {
    "RENEWED": delegate_pb2.LEASE_STATUS_RENEWED,
    "CANCEL_REQUESTED": delegate_pb2.LEASE_STATUS_CANCEL_REQUESTED,
    "LOST": delegate_pb2.LEASE_STATUS_LOST,
}
# Per-call limits. A delegate sends at most 50 batches of at most 200 lines a call (delegate/log_stream.py),
# so 10,000 lines is what a healthy delegate may send after an outage; more batches, lines or leases
# than this only come from a broken or hostile client, which would otherwise hold the store's write
# transaction for seconds (hundreds of thousands of empty batches or lease checks in one message).
MAX_LINES_PER_CALL = 10_000
MAX_BATCHES_PER_CALL = 500
MAX_LEASES_PER_CALL = 10_000
MAX_LINE_BYTES = 64 * 1024
MAX_CHECKPOINT_BYTES = 4 * 1024 * 1024


def task_message(task: TaskRow) -> delegate_pb2.Task:
    return delegate_pb2.Task(
        task_id=task.id,
        attempt=task.attempt,
        lease_token=task.lease_token,
        type=task.type,
        payload=task.payload,
        timeout_ms=task.timeout_ms,
        execution_id=task.execution_id,
        signature=task.signature,
        unavailability_policy=task.unavailability_policy,
        unavailability_deadline_ms=task.unavailability_deadline_ms,
        lease_expires_at_ms=task.lease_expires_at,
        checkpoint=task.checkpoint,
    )


class DelegateService(delegate_pb2_grpc.DelegateServiceServicer):
    def __init__(self, ctx: ServerContext) -> None:
        self._ctx = ctx
        self._sessions: dict[str, DelegateRow] = {}

    async def _session(self, session_id: str, context: grpc.aio.ServicerContext) -> DelegateRow:
        token = await authenticate_delegate(self._ctx, context)
        delegate = self._sessions.get(session_id)
        if delegate is None:
            delegate = await self._ctx.db(self._ctx.store.get_delegate_by_session, session_id)
            if delegate is not None:
                self._sessions[session_id] = delegate
        if delegate is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, "unknown session; register again")
        assert delegate is not None
        if delegate.token_name != token.name:
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, "session belongs to another token")
        return delegate

    async def Register(
        self, request: delegate_pb2.RegisterRequest, context: grpc.aio.ServicerContext
    ) -> delegate_pb2.RegisterResponse:
        ctx = self._ctx
        token = await authenticate_delegate(ctx, context)
        name = request.name.strip()
        if not name or len(name) > 128:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "name: must be 1..128 characters")
        selectors = frozenset(s for s in request.selectors if s)
        if token.selectors and not selectors <= set(token.selectors):
            extra = ", ".join(sorted(selectors - set(token.selectors)))
            await context.abort(
                grpc.StatusCode.PERMISSION_DENIED, f"token {token.name!r} may not register selectors: {extra}"
            )
        if await self._name_owned_elsewhere(name, token.name):
            # Registering reuses the delegate id of that name; another token must not take it over.
            await context.abort(
                grpc.StatusCode.PERMISSION_DENIED,
                f"delegate name {name!r} is registered with another token; choose another --name",
            )
        max_tasks = request.max_tasks if 0 < request.max_tasks <= 1024 else 1
        now = ctx.clock()
        row = DelegateRow(
            id="d-" + secrets.token_hex(8),
            name=name,
            hostname=request.hostname[:255] or socket.gethostname(),
            version=request.version[:64],
            install_kind=request.install_kind[:32] or "unknown",
            selectors=tuple(sorted(selectors)),
            task_types=tuple(sorted(set(request.task_types))),
            max_tasks=max_tasks,
            token_name=token.name,
            session_id="s-" + secrets.token_urlsafe(18),
            registered_at=now,
            last_seen_at=now,
        )
        stored = await ctx.db(ctx.store.register_delegate, row)
        await ctx.db(ctx.store.touch_token, token.name, now)
        self._sessions[stored.session_id] = stored
        log.info("delegate registered", delegate=stored.name, id=stored.id, selectors=list(stored.selectors))
        public_key = ctx.signer.public_key_bytes() if ctx.signer is not None else b""
        return delegate_pb2.RegisterResponse(
            delegate_id=stored.id,
            session_id=stored.session_id,
            poll_timeout_ms=ctx.settings.poll_timeout_ms,
            lease_duration_ms=ctx.settings.lease_ms,
            heartbeat_interval_ms=ctx.settings.heartbeat_ms,
            recommended_version=ctx.settings.recommended_version or __version__,
            task_signing_public_key=public_key,
        )

    async def _name_owned_elsewhere(self, name: str, token_name: str) -> bool:
        """Whether a delegate of this name belongs to another token that still exists and is not revoked
        (re-installing a delegate with a new token after revoking the old one keeps its name)."""
        ctx = self._ctx
        existing = await ctx.db(ctx.store.get_delegate_by_name, name)
        if existing is None or existing.token_name == token_name:
            return False
        owner = await ctx.db(ctx.store.get_token, existing.token_name)
        return owner is not None and not owner.revoked

    async def PollTask(
        self, request: delegate_pb2.PollTaskRequest, context: grpc.aio.ServicerContext
    ) -> delegate_pb2.PollTaskResponse:
        ctx = self._ctx
        delegate = await self._session(request.session_id, context)
        if request.free_slots <= 0:
            return delegate_pb2.PollTaskResponse()
        loop = asyncio.get_running_loop()
        wait_ms = min(request.wait_ms or ctx.settings.poll_timeout_ms, ctx.settings.poll_timeout_ms)
        # Answer a second before the client's deadline so an empty answer is never a timeout.
        deadline = loop.time() + max(wait_ms - 1_000, 0) / 1000
        selectors = frozenset(delegate.selectors)
        types = frozenset(delegate.task_types)
        key, waiter = ctx.dispatcher.register(selectors, types)
        ctx.metrics.polls_waiting.inc()
        try:
            while True:
                waiter.event.clear()
                task = await ctx.db(ctx.store.claim, delegate.id, selectors, types, ctx.clock(), ctx.settings.lease_ms)
                if task is not None:
                    ctx.executions_of_tasks[task.id] = task.execution_id
                    ctx.metrics.tasks_dispatched.labels(task.type).inc()
                    log.info("task leased", task=task.id, attempt=task.attempt, delegate=delegate.name)
                    return delegate_pb2.PollTaskResponse(task=task_message(task))
                remaining = deadline - loop.time()
                if remaining <= 0:
                    return delegate_pb2.PollTaskResponse()
                try:
                    await asyncio.wait_for(waiter.event.wait(), remaining)
                except TimeoutError:
                    return delegate_pb2.PollTaskResponse()
        finally:
            ctx.dispatcher.unregister(key)
            ctx.metrics.polls_waiting.dec()

    async def Heartbeat(
        self, request: delegate_pb2.HeartbeatRequest, context: grpc.aio.ServicerContext
    ) -> delegate_pb2.HeartbeatResponse:
        ctx = self._ctx
        delegate = await self._session(request.session_id, context)
        if len(request.leases) > MAX_LEASES_PER_CALL:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"leases: at most {MAX_LEASES_PER_CALL} a call")
        now = ctx.clock()
        leases = [(lease.task_id, lease.attempt, lease.lease_token) for lease in request.leases]
        checks = await ctx.db(ctx.store.heartbeat, delegate.id, leases, now, ctx.settings.lease_ms)
        await ctx.db(ctx.store.touch_delegate, delegate.id, now)
        return delegate_pb2.HeartbeatResponse(
            leases=[
                delegate_pb2.LeaseState(
                    task_id=c.task_id,
                    attempt=c.attempt,
                    status=_LEASE_STATUS[c.status],
                    lease_expires_at_ms=c.lease_expires_at,
                )
                for c in checks
            ]
        )

    async def AppendLogs(
        self, request: delegate_pb2.AppendLogsRequest, context: grpc.aio.ServicerContext
    ) -> delegate_pb2.AppendLogsResponse:
        ctx = self._ctx
        delegate = await self._session(request.session_id, context)
        lease = (request.lease.task_id, request.lease.attempt, request.lease.lease_token)
        if len(request.batches) > MAX_BATCHES_PER_CALL:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"batches: at most {MAX_BATCHES_PER_CALL} a call")
        batches = []
        lines = 0
        for batch in request.batches:
            if batch.seq <= 0:
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"batches: seq must be positive, got {batch.seq}")
            encoded = [
                {"ts": ln.ts_ms, "level": ln.level[:8], "section": ln.section[:128], "text": ln.text[:MAX_LINE_BYTES]}
                for ln in batch.lines
            ]
            lines += len(encoded)
            batches.append((batch.seq, json.dumps(encoded)))
        if lines > MAX_LINES_PER_CALL:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"batches: at most {MAX_LINES_PER_CALL} lines a call")
        try:
            acked = await ctx.db(ctx.store.append_logs, delegate.id, lease, batches, ctx.clock())
        except NotFound as exc:
            await context.abort(grpc.StatusCode.NOT_FOUND, str(exc))
        ctx.metrics.log_lines.inc(lines)
        ctx.bus.publish(request.lease.task_id)
        execution_id = ctx.executions_of_tasks.get(request.lease.task_id)
        if execution_id is None:  # leased through another replica, or before a restart
            task = await ctx.db(ctx.store.get_task, request.lease.task_id)
            execution_id = task.execution_id if task is not None else ""
            if len(ctx.executions_of_tasks) > 100_000:
                ctx.executions_of_tasks.clear()
            ctx.executions_of_tasks[request.lease.task_id] = execution_id
        if execution_id:
            ctx.bus.publish(execution_id)
        return delegate_pb2.AppendLogsResponse(acked_seq=acked)

    async def SaveCheckpoint(
        self, request: delegate_pb2.SaveCheckpointRequest, context: grpc.aio.ServicerContext
    ) -> delegate_pb2.SaveCheckpointResponse:
        ctx = self._ctx
        delegate = await self._session(request.session_id, context)
        if len(request.data) > MAX_CHECKPOINT_BYTES:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"data: at most {MAX_CHECKPOINT_BYTES} bytes")
        try:
            json.loads(request.data)
        except ValueError:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "data: must be a JSON document")
        lease = (request.lease.task_id, request.lease.attempt, request.lease.lease_token)
        try:
            stored = await ctx.db(ctx.store.save_checkpoint, delegate.id, lease, request.data, ctx.clock())
        except NotFound as exc:
            await context.abort(grpc.StatusCode.NOT_FOUND, str(exc))
        return delegate_pb2.SaveCheckpointResponse(stored=stored)

    async def CompleteTask(
        self, request: delegate_pb2.CompleteTaskRequest, context: grpc.aio.ServicerContext
    ) -> delegate_pb2.CompleteTaskResponse:
        ctx = self._ctx
        delegate = await self._session(request.session_id, context)
        state = _STATE_NAMES.get(request.state)
        if state is None:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "state: must be SUCCEEDED, FAILED or CANCELLED")
        assert state is not None
        if request.result:
            try:
                json.loads(request.result)
            except ValueError:
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "result: must be a JSON document")
        lease = (request.lease.task_id, request.lease.attempt, request.lease.lease_token)
        try:
            outcome = await ctx.db(
                ctx.store.complete, delegate.id, lease, state, request.result, request.error[:4096], ctx.clock()
            )
        except NotFound as exc:
            await context.abort(grpc.StatusCode.NOT_FOUND, str(exc))
        if not outcome.accepted:
            await context.abort(
                grpc.StatusCode.FAILED_PRECONDITION,
                f"task {lease[0]} attempt {lease[1]} no longer holds the lease (task is {outcome.state})",
            )
        if outcome.transitioned and outcome.task is not None:
            log.info("task completed", task=outcome.task.id, state=state, attempt=outcome.task.attempt)
            await ctx.task_ended(outcome.task)
        return delegate_pb2.CompleteTaskResponse(accepted=True, state=task_state_enum(outcome.state))
