"""Operator calls about configuration and executions: apply/get, deploy, rollback, cancel, watch.

Mixed into OperatorService. Input problems become INVALID_ARGUMENT (or NOT_FOUND) with the
one-line message the config layer produced, which the CLI prints as is with exit code 2.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import grpc

from control_plane.config_store import load_config, plan_apply, store_documents
from control_plane.executions.model import Cause, ExecutionDoc
from control_plane.executions.orchestrator import ExecutionInputError, ExecutionNotFound, Orchestrator
from control_plane.server.audit import audited
from control_plane.server.auth import Operator, authenticate_operator
from control_plane.server.context import ServerContext
from control_plane.server.watchers import Subscription
from control_plane.store.models import NewTask
from control_plane.store.sql import new_task_id
from shared.config import (
    ConfigError,
    ConfigSet,
    RenderedSource,
    Workflow,
    normalize_kind,
    parse_files,
    render_artifact_source,
)
from shared.payloads import TASK_ARTIFACT_LIST, ArtifactListPayload
from shared.pb.outrider.v1 import operator_pb2

GLOBAL_KINDS = {"CloudProvider", "ArtifactServer", "Application"}
LIST_TIMEOUT_MS = 60_000


class WorkflowHandlers:
    _ctx: ServerContext
    orchestrator: Orchestrator

    # --- configuration -----------------------------------------------------------------------
    async def Apply(
        self, request: operator_pb2.ApplyRequest, context: grpc.aio.ServicerContext
    ) -> operator_pb2.ApplyResponse:
        ctx = self._ctx
        who = await authenticate_operator(ctx, context, "config.apply")
        try:
            documents = parse_files([(f.source, f.text) for f in request.files])
        except ConfigError as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, config_problem(exc))
        for doc in documents:
            app = doc.key.application or (doc.name if doc.key.kind == "Application" else "")
            if doc.key.kind in GLOBAL_KINDS and doc.key.kind != "Application" and not _unscoped(who):
                await context.abort(
                    grpc.StatusCode.PERMISSION_DENIED, f"API key {who.name!r} may not apply {doc.label} (global object)"
                )
            if app and not who.may("config.apply", app):
                await context.abort(
                    grpc.StatusCode.PERMISSION_DENIED, f"API key {who.name!r} may not apply to application {app!r}"
                )
        async with audited(ctx, who.name, "config.apply", ",".join(d.label for d in documents)) as entry:
            current = await ctx.db(load_config, ctx.store)
            try:
                _, actions = plan_apply(current, documents)
            except ConfigError as exc:
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, config_problem(exc))
            if not request.dry_run:
                await ctx.db(store_documents, ctx.store, documents, ctx.clock())
            entry.details = {"dryRun": request.dry_run, "actions": [a.to_dict() for a in actions]}
        return operator_pb2.ApplyResponse(
            json=json.dumps({"applied": [a.to_dict() for a in actions], "dryRun": request.dry_run})
        )

    async def GetObjects(
        self, request: operator_pb2.GetObjectsRequest, context: grpc.aio.ServicerContext
    ) -> operator_pb2.GetObjectsResponse:
        ctx = self._ctx
        who = await authenticate_operator(ctx, context, "config.read", request.application or None)
        try:
            kind = normalize_kind(request.kind)
        except ConfigError as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        config = await ctx.db(load_config, ctx.store)
        found = [
            d
            for d in config.find(kind, request.name or None, request.application or None)
            if not d.key.application or who.may("config.read", d.key.application)
        ]
        if request.name and not found:
            scope = f" in application {request.application!r}" if request.application else ""
            await context.abort(grpc.StatusCode.NOT_FOUND, f"{kind} {request.name!r} does not exist{scope}")
        return operator_pb2.GetObjectsResponse(json=json.dumps([d.to_dict() for d in found]))

    # --- executions --------------------------------------------------------------------------
    async def Deploy(
        self, request: operator_pb2.DeployRequest, context: grpc.aio.ServicerContext
    ) -> operator_pb2.ExecutionResponse:
        ctx = self._ctx
        who = await authenticate_operator(ctx, context, "execution.deploy", request.application)
        async with audited(ctx, who.name, "execution.deploy", f"{request.application}/{request.workflow}") as entry:
            try:
                doc = await self.orchestrator.start_deploy(
                    request.application,
                    request.workflow,
                    request.artifact_version or None,
                    dict(request.variables),
                    Cause(type="manual", by=who.name),
                )
            except ExecutionNotFound as exc:
                await context.abort(grpc.StatusCode.NOT_FOUND, str(exc))
            except ExecutionInputError as exc:
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
            entry.target = doc.id
        return _response(doc)

    async def Rollback(
        self, request: operator_pb2.RollbackRequest, context: grpc.aio.ServicerContext
    ) -> operator_pb2.ExecutionResponse:
        ctx = self._ctx
        target = await self._execution(request.execution_id, context)
        who = await authenticate_operator(ctx, context, "execution.rollback", target.application)
        async with audited(ctx, who.name, "execution.rollback", request.execution_id) as entry:
            try:
                doc = await self.orchestrator.start_rollback(request.execution_id, Cause(type="rollback", by=who.name))
            except ExecutionInputError as exc:
                await context.abort(grpc.StatusCode.FAILED_PRECONDITION, str(exc))
            entry.target = doc.id
        return _response(doc)

    async def GetExecution(
        self, request: operator_pb2.GetExecutionRequest, context: grpc.aio.ServicerContext
    ) -> operator_pb2.ExecutionResponse:
        doc = await self._execution(request.execution_id, context)
        await authenticate_operator(self._ctx, context, "execution.read", doc.application)
        return _response(doc)

    async def ListExecutions(
        self, request: operator_pb2.ListExecutionsRequest, context: grpc.aio.ServicerContext
    ) -> operator_pb2.ListExecutionsResponse:
        ctx = self._ctx
        who = await authenticate_operator(ctx, context, "execution.read", request.application or None)
        rows = await ctx.db(ctx.store.list_executions, request.application or None, None, request.limit or 50)
        docs = [ExecutionDoc.model_validate_json(r.document).to_public() for r in rows]
        docs = [d for d in docs if who.may("execution.read", d["application"])]  # an operator sees its apps
        return operator_pb2.ListExecutionsResponse(json=json.dumps(docs))

    async def CancelExecution(
        self, request: operator_pb2.CancelExecutionRequest, context: grpc.aio.ServicerContext
    ) -> operator_pb2.ExecutionResponse:
        ctx = self._ctx
        target = await self._execution(request.execution_id, context)
        who = await authenticate_operator(ctx, context, "execution.cancel", target.application)
        async with audited(ctx, who.name, "execution.cancel", request.execution_id):
            doc = await self.orchestrator.cancel(request.execution_id)
        return _response(doc)

    async def WatchExecution(
        self, request: operator_pb2.WatchExecutionRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[operator_pb2.WatchEvent]:
        from control_plane.server.operator_service import parse_cursor

        ctx = self._ctx
        doc = await self._execution(request.execution_id, context)
        await authenticate_operator(ctx, context, "execution.read", doc.application)
        # Cursor "STEP_INDEX:ATTEMPT.SEQ": the step whose task is being streamed and its log position.
        step_part, _, task_part = request.cursor.partition(":")
        # isascii: "²".isdigit() is True but int("²") fails; a malformed cursor means "from the start".
        index = int(step_part) if step_part.isascii() and step_part.isdigit() else 0
        after = parse_cursor(task_part)
        with ctx.bus.subscription(request.execution_id) as changes:
            async for event in self._execution_events(request, index, after, changes):
                yield event

    async def _execution_events(
        self,
        request: operator_pb2.WatchExecutionRequest,
        index: int,
        after: tuple[int, int],
        changes: Subscription,
    ) -> AsyncIterator[operator_pb2.WatchEvent]:
        from control_plane.server.operator_service import parse_cursor, watch_task_events

        ctx = self._ctx
        last_status = ""
        while True:
            doc = await self.orchestrator.get(request.execution_id)
            if doc.status != last_status:
                last_status = doc.status
                yield operator_pb2.WatchEvent(cursor=f"{index}:{after[0]}.{after[1]}", status=doc.status)
            steps = [s for s in doc.steps if s.task_id]
            if index < len(steps):
                step = steps[index]
                assert step.task_id is not None
                async for event in watch_task_events(
                    ctx, step.task_id, after, prefix=f"{index}:", stop_at_end=False, follow=not request.no_follow
                ):
                    if event.HasField("line"):
                        after = parse_cursor(event.cursor.partition(":")[2])
                        yield event
                task = await ctx.db(ctx.store.get_task, step.task_id)
                if task is not None and task.terminal:
                    index, after = index + 1, (0, 0)
                    continue
            doc = await self.orchestrator.get(request.execution_id)
            if doc.terminal and index >= len([s for s in doc.steps if s.task_id]):
                yield operator_pb2.WatchEvent(cursor=f"{index}:0.0", status=doc.status, done=True)
                return
            if request.no_follow and index >= len([s for s in doc.steps if s.task_id]) - 1:
                return  # caught up with what exists now
            await changes.wait(1.0)

    async def ListArtifacts(
        self, request: operator_pb2.ListArtifactsRequest, context: grpc.aio.ServicerContext
    ) -> operator_pb2.JsonListResponse:
        """Versions of a service's artifact source, listed by a delegate (the credentials live there)."""
        ctx = self._ctx
        await authenticate_operator(ctx, context, "artifact.read", request.application)
        config = await ctx.db(load_config, ctx.store)
        try:
            source = render_service_source(config, request.application, request.service)
        except ConfigError as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        payload = ArtifactListPayload(artifact=source.source, limit=100)
        task_id = new_task_id()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + LIST_TIMEOUT_MS / 1000
        with ctx.bus.subscription(task_id) as changes:  # before the task exists: no completion is missed
            await ctx.enqueue(
                NewTask(
                    id=task_id,
                    type=TASK_ARTIFACT_LIST,
                    payload=payload.model_dump_json(by_alias=True).encode(),
                    selectors=tuple(sorted(set(source.selectors))),
                    max_attempts=1,
                    timeout_ms=LIST_TIMEOUT_MS,
                )
            )
            while loop.time() < deadline:
                current = await ctx.db(ctx.store.get_task, task_id)
                if current is not None and current.terminal:
                    if current.state != "SUCCEEDED":
                        await context.abort(
                            grpc.StatusCode.FAILED_PRECONDITION, f"listing versions failed: {current.error}"
                        )
                    versions = json.loads(current.result or b"{}").get("versions", [])
                    return operator_pb2.JsonListResponse(json=json.dumps(versions))
                await changes.wait(1.0)
        await ctx.db(ctx.store.request_cancel, task_id, ctx.clock())
        await context.abort(
            grpc.StatusCode.DEADLINE_EXCEEDED,
            "no delegate listed the versions in time (is one connected with the right selectors?)",
        )
        raise AssertionError("unreachable")

    async def _execution(self, execution_id: str, context: grpc.aio.ServicerContext) -> ExecutionDoc:
        try:
            return await self.orchestrator.get(execution_id)
        except ExecutionNotFound as exc:
            await authenticate_operator(self._ctx, context, "execution.read")
            await context.abort(grpc.StatusCode.NOT_FOUND, str(exc))
            raise  # unreachable: abort raises


def render_service_source(config: ConfigSet, application: str, service: str) -> RenderedSource:
    """A service's artifact source, rendered through the first workflow deploying it (which gives the
    region and cloud provider used to reach the source)."""
    workflows = [w for w in config.of_kind(Workflow, application) if w.spec.service == service]
    if not workflows:
        raise ConfigError(
            f"service {application}/{service}: no workflow deploys it, so the artifact source has no region to use"
        )
    return render_artifact_source(config, application, workflows[0].name)


def config_problem(exc: ConfigError) -> str:
    """One line for the user: the first problem, and how many more there are (each names its field)."""
    more = len(exc.errors) - 1
    return exc.errors[0] + (f" (and {more} more problem{'s' if more > 1 else ''}; fix this one first)" if more else "")


def _unscoped(who: Operator) -> bool:
    return who.role == "admin" or (who.role == "operator" and not who.applications)


def _response(doc: ExecutionDoc) -> operator_pb2.ExecutionResponse:
    return operator_pb2.ExecutionResponse(json=json.dumps(doc.to_public()))
