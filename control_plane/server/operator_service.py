"""OperatorService: tokens, API keys, delegates, tasks and their logs. See proto/outrider/v1/operator.proto.

Configuration, executions and triggers are implemented by their own modules and reached through
the handlers registered in `handlers`; this module owns authentication, audit and the task views.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import grpc

from control_plane.executions.orchestrator import Orchestrator
from control_plane.server.audit import audited
from control_plane.server.auth import ROLES, authenticate_operator
from control_plane.server.context import ServerContext, task_state_enum
from control_plane.server.hashing import hash_secret, new_api_key, new_delegate_token
from control_plane.server.operator_triggers import TriggerHandlers
from control_plane.server.operator_workflows import WorkflowHandlers
from control_plane.server.watchers import Subscription
from control_plane.store.base import Conflict, NotFound
from control_plane.store.models import TERMINAL, ApiKeyRow, NewTask, TaskRow, TokenRow
from shared.pb.outrider.v1 import common_pb2, operator_pb2, operator_pb2_grpc
from shared.version import __version__

NAME_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")
DIAGNOSTIC_TYPES = {"diagnostic.noop", "diagnostic.sleep"}
CONNECTED_WITHIN_MS = 90_000
MAX_GRACE_SECONDS = 30 * 86_400  # as `outrider token create --grace-seconds` allows


def _valid_name(name: str) -> bool:
    return 0 < len(name) <= 64 and set(name) <= NAME_CHARS


def token_info(row: TokenRow, delegates: list[str]) -> operator_pb2.TokenInfo:
    return operator_pb2.TokenInfo(
        name=row.name,
        selectors=list(row.selectors),
        created_at_ms=row.created_at,
        last_used_at_ms=row.last_used_at,
        revoked=row.revoked,
        delegates=delegates,
    )


def task_info(task: TaskRow) -> operator_pb2.TaskInfo:
    return operator_pb2.TaskInfo(
        task_id=task.id,
        type=task.type,
        state=task_state_enum(task.state),
        attempt=task.attempt,
        max_attempts=task.max_attempts,
        selectors=list(task.selectors),
        delegate_id=task.delegate_id,
        result=task.result,
        error=task.error,
        created_at_ms=task.created_at,
        updated_at_ms=task.updated_at,
        execution_id=task.execution_id,
        cancel_requested=task.cancel_requested,
    )


def _version_tuple(version: str) -> tuple[int, ...]:
    parts = []
    for piece in version.split("."):
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)


class OperatorService(WorkflowHandlers, TriggerHandlers, operator_pb2_grpc.OperatorServiceServicer):
    def __init__(self, ctx: ServerContext, orchestrator: Orchestrator) -> None:
        self._ctx = ctx
        self.orchestrator = orchestrator

    # --- tokens and keys ---------------------------------------------------------------------
    async def CreateToken(
        self, request: operator_pb2.CreateTokenRequest, context: grpc.aio.ServicerContext
    ) -> operator_pb2.CreateTokenResponse:
        ctx = self._ctx
        who = await authenticate_operator(ctx, context, "token.create")
        if not _valid_name(request.name):
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "token name: 1..64 of letters, digits, '-', '_', '.'")
        if request.rotate and not 0 <= request.grace_seconds <= MAX_GRACE_SECONDS:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, f"grace_seconds: must be between 0 and {MAX_GRACE_SECONDS}"
            )
        secret = new_delegate_token()
        now = ctx.clock()
        async with audited(ctx, who.name, "token.rotate" if request.rotate else "token.create", request.name):
            try:
                if request.rotate:
                    # 0 means no grace: the old secret stops working at once (a leaked token is
                    # replaced, not kept alive for an hour). The CLI always sends its --grace-seconds.
                    expires = now + request.grace_seconds * 1000
                    row = await ctx.db(ctx.store.rotate_token, request.name, hash_secret(secret), expires)
                    ctx.tokens.clear()
                else:
                    row = TokenRow(
                        name=request.name,
                        secret_hash=hash_secret(secret),
                        previous_hash="",
                        previous_expires_at=0,
                        selectors=tuple(sorted(set(request.selectors))),
                        created_at=now,
                        last_used_at=0,
                        revoked=False,
                    )
                    await ctx.db(ctx.store.create_token, row)
            except Conflict as exc:
                await context.abort(grpc.StatusCode.ALREADY_EXISTS, str(exc))
            except NotFound as exc:
                await context.abort(grpc.StatusCode.NOT_FOUND, str(exc))
        return operator_pb2.CreateTokenResponse(token=secret, info=token_info(row, []))

    async def ListTokens(
        self, request: operator_pb2.ListTokensRequest, context: grpc.aio.ServicerContext
    ) -> operator_pb2.ListTokensResponse:
        ctx = self._ctx
        await authenticate_operator(ctx, context, "token.list")
        tokens = await ctx.db(ctx.store.list_tokens)
        delegates = await ctx.db(ctx.store.list_delegates)
        return operator_pb2.ListTokensResponse(
            tokens=[token_info(t, [d.name for d in delegates if d.token_name == t.name]) for t in tokens]
        )

    async def RevokeToken(
        self, request: operator_pb2.RevokeTokenRequest, context: grpc.aio.ServicerContext
    ) -> operator_pb2.RevokeTokenResponse:
        ctx = self._ctx
        who = await authenticate_operator(ctx, context, "token.revoke")
        async with audited(ctx, who.name, "token.revoke", request.name):
            try:
                row = await ctx.db(ctx.store.revoke_token, request.name)
                ctx.tokens.clear()  # refused on its very next call
            except NotFound as exc:
                await context.abort(grpc.StatusCode.NOT_FOUND, str(exc))
        return operator_pb2.RevokeTokenResponse(info=token_info(row, []))

    async def CreateApiKey(
        self, request: operator_pb2.CreateApiKeyRequest, context: grpc.aio.ServicerContext
    ) -> operator_pb2.CreateApiKeyResponse:
        ctx = self._ctx
        who = await authenticate_operator(ctx, context, "apikey.create")
        if not _valid_name(request.name):
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, "API key name: 1..64 of letters, digits, '-', '_', '.'"
            )
        if request.role not in ROLES:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"role: must be one of {', '.join(ROLES)}")
        secret = new_api_key()
        async with audited(ctx, who.name, "apikey.create", request.name) as entry:
            entry.details = {"role": request.role, "applications": list(request.applications)}
            try:
                await ctx.db(
                    ctx.store.create_api_key,
                    ApiKeyRow(
                        request.name, hash_secret(secret), request.role, tuple(request.applications), ctx.clock(), False
                    ),
                )
            except Conflict as exc:
                await context.abort(grpc.StatusCode.ALREADY_EXISTS, str(exc))
        return operator_pb2.CreateApiKeyResponse(api_key=secret, name=request.name, role=request.role)

    # --- delegates ---------------------------------------------------------------------------
    async def ListDelegates(
        self, request: operator_pb2.ListDelegatesRequest, context: grpc.aio.ServicerContext
    ) -> operator_pb2.ListDelegatesResponse:
        ctx = self._ctx
        await authenticate_operator(ctx, context, "delegates.list")
        rows = await ctx.db(ctx.store.list_delegates)
        running: dict[str, int] = {}
        for task in await ctx.db(ctx.store.list_tasks, 1000):
            if task.state == "LEASED":
                running[task.delegate_id] = running.get(task.delegate_id, 0) + 1
        recommended = ctx.settings.recommended_version or __version__
        now = ctx.clock()
        return operator_pb2.ListDelegatesResponse(
            recommended_version=recommended,
            delegates=[
                operator_pb2.DelegateInfo(
                    delegate_id=d.id,
                    name=d.name,
                    hostname=d.hostname,
                    version=d.version,
                    install_kind=d.install_kind,
                    selectors=list(d.selectors),
                    max_tasks=d.max_tasks,
                    running_tasks=running.get(d.id, 0),
                    last_seen_ms=d.last_seen_at,
                    connected=now - d.last_seen_at < max(CONNECTED_WITHIN_MS, 3 * ctx.settings.lease_ms),
                    token_name=d.token_name,
                    outdated=_version_tuple(d.version) < _version_tuple(recommended),
                )
                for d in rows
            ],
        )

    # --- tasks -------------------------------------------------------------------------------
    async def SubmitTask(
        self, request: operator_pb2.SubmitTaskRequest, context: grpc.aio.ServicerContext
    ) -> operator_pb2.TaskInfo:
        ctx = self._ctx
        who = await authenticate_operator(ctx, context, "task.submit")
        # Operators may queue diagnostics directly; deployment tasks only come from executions.
        if request.type not in DIAGNOSTIC_TYPES:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, f"type: only {', '.join(sorted(DIAGNOSTIC_TYPES))} may be submitted"
            )
        try:
            json.loads(request.payload or b"{}")
        except ValueError:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "payload: must be a JSON document")
        if request.unavailability_policy not in ("", "continue", "cancel"):
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "unavailability_policy: must be continue or cancel")
        async with audited(ctx, who.name, "task.submit") as entry:
            task = await ctx.enqueue(
                NewTask(
                    type=request.type,
                    payload=request.payload or b"{}",
                    selectors=tuple(sorted(set(request.selectors))),
                    max_attempts=request.max_attempts
                    if request.max_attempts > 0
                    else ctx.settings.max_attempts_default,
                    timeout_ms=request.timeout_ms if request.timeout_ms > 0 else 600_000,
                    unavailability_policy=request.unavailability_policy or "continue",
                    unavailability_deadline_ms=max(request.unavailability_deadline_ms, 0),
                )
            )
            entry.target = task.id
        return task_info(task)

    async def GetTask(
        self, request: operator_pb2.GetTaskRequest, context: grpc.aio.ServicerContext
    ) -> operator_pb2.TaskInfo:
        ctx = self._ctx
        await authenticate_operator(ctx, context, "task.read")
        task = await ctx.db(ctx.store.get_task, request.task_id)
        if task is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"task {request.task_id!r} does not exist")
        assert task is not None
        return task_info(task)

    async def ListTasks(
        self, request: operator_pb2.ListTasksRequest, context: grpc.aio.ServicerContext
    ) -> operator_pb2.ListTasksResponse:
        ctx = self._ctx
        await authenticate_operator(ctx, context, "task.read")
        tasks = await ctx.db(ctx.store.list_tasks, request.limit if request.limit > 0 else 100)
        return operator_pb2.ListTasksResponse(tasks=[task_info(t) for t in tasks])

    async def CancelTask(
        self, request: operator_pb2.CancelTaskRequest, context: grpc.aio.ServicerContext
    ) -> operator_pb2.TaskInfo:
        ctx = self._ctx
        who = await authenticate_operator(ctx, context, "task.cancel")
        async with audited(ctx, who.name, "task.cancel", request.task_id):
            try:
                task = await ctx.db(ctx.store.request_cancel, request.task_id, ctx.clock())
            except NotFound as exc:
                await context.abort(grpc.StatusCode.NOT_FOUND, str(exc))
        if task.state == "CANCELLED":
            await ctx.task_ended(task)
        return task_info(task)

    async def ListAudit(
        self, request: operator_pb2.ListAuditRequest, context: grpc.aio.ServicerContext
    ) -> operator_pb2.JsonListResponse:
        ctx = self._ctx
        await authenticate_operator(ctx, context, "audit.list")
        rows = await ctx.db(ctx.store.list_audit, request.limit if request.limit > 0 else 100)
        docs = [
            {
                "id": r.id,
                "at": r.at,
                "actor": r.actor,
                "action": r.action,
                "target": r.target,
                "result": r.result,
                "details": json.loads(r.details or "{}"),
            }
            for r in rows
        ]
        return operator_pb2.JsonListResponse(json=json.dumps(docs))

    async def WatchTask(
        self, request: operator_pb2.WatchTaskRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[operator_pb2.WatchEvent]:
        ctx = self._ctx
        await authenticate_operator(ctx, context, "task.read")
        task = await ctx.db(ctx.store.get_task, request.task_id)
        if task is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"task {request.task_id!r} does not exist")
        async for event in watch_task_events(
            ctx, request.task_id, parse_cursor(request.cursor), follow=not request.no_follow
        ):
            yield event


def parse_cursor(cursor: str) -> tuple[int, int]:
    """Task cursors are "ATTEMPT.SEQ" of the last batch delivered; empty means from the start."""
    if not cursor:
        return (0, 0)
    attempt, _, seq = cursor.partition(".")
    try:
        return (int(attempt), int(seq))
    except ValueError:
        return (0, 0)


async def watch_task_events(
    ctx: ServerContext,
    task_id: str,
    after: tuple[int, int],
    *,
    prefix: str = "",
    stop_at_end: bool = True,
    follow: bool = True,
) -> AsyncIterator[operator_pb2.WatchEvent]:
    """Log lines after the cursor, then state changes, until the task ends and its log is drained."""
    with ctx.bus.subscription(task_id) as changes:
        async for event in _task_events(ctx, task_id, after, changes, prefix, stop_at_end, follow):
            yield event


async def _task_events(
    ctx: ServerContext,
    task_id: str,
    after: tuple[int, int],
    changes: Subscription,
    prefix: str,
    stop_at_end: bool,
    follow: bool,
) -> AsyncIterator[operator_pb2.WatchEvent]:
    last_state = ""
    while True:
        task = await ctx.db(ctx.store.get_task, task_id)
        if task is None:
            return
        batches = await ctx.db(ctx.store.read_logs, task_id, after, 500)
        for batch in batches:
            after = (batch.attempt, batch.seq)
            cursor = f"{prefix}{batch.attempt}.{batch.seq}"
            for line in json.loads(batch.lines):
                yield operator_pb2.WatchEvent(
                    cursor=cursor,
                    task_id=task_id,
                    attempt=batch.attempt,
                    line=common_pb2.LogLine(
                        ts_ms=line["ts"], level=line["level"], section=line["section"], text=line["text"]
                    ),
                )
        if task.state != last_state:
            last_state = task.state
            yield operator_pb2.WatchEvent(
                cursor=f"{prefix}{after[0]}.{after[1]}", task_id=task_id, attempt=task.attempt, status=task.state
            )
        if batches:
            continue  # drain everything before waiting
        if task.state in TERMINAL or not follow:
            if stop_at_end:
                yield operator_pb2.WatchEvent(
                    cursor=f"{prefix}{after[0]}.{after[1]}", task_id=task_id, status=task.state, done=True
                )
            return
        await changes.wait(1.0)
