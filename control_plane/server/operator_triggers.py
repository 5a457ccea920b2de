"""Operator calls about triggers: list, pause/resume, fire. Mixed into OperatorService.

Reading needs `trigger.read`, pausing, resuming and firing need `trigger.change` (auth.py); the
changes are audited. `build_server` sets `triggers` to the process's TriggerService.
"""

from __future__ import annotations

import json

import grpc

from control_plane.executions.orchestrator import ExecutionInputError, ExecutionNotFound
from control_plane.server.audit import audited
from control_plane.server.auth import authenticate_operator
from control_plane.server.context import ServerContext
from control_plane.triggers import TriggerNotFound, TriggerPausedInConfig, TriggerService
from shared.pb.outrider.v1 import operator_pb2


class TriggerHandlers:
    _ctx: ServerContext
    triggers: TriggerService

    async def ListTriggers(
        self, request: operator_pb2.ListTriggersRequest, context: grpc.aio.ServicerContext
    ) -> operator_pb2.JsonListResponse:
        who = await authenticate_operator(self._ctx, context, "trigger.read", request.application or None)
        docs = await self.triggers.list_triggers(request.application or None)
        visible = [d for d in docs if who.may("trigger.read", d["application"])]
        return operator_pb2.JsonListResponse(json=json.dumps(visible))

    async def SetTriggerPaused(
        self, request: operator_pb2.SetTriggerPausedRequest, context: grpc.aio.ServicerContext
    ) -> operator_pb2.JsonResponse:
        ctx = self._ctx
        await _require_name(request.application, request.name, context)
        who = await authenticate_operator(ctx, context, "trigger.change", request.application)
        action = "trigger.pause" if request.paused else "trigger.resume"
        async with audited(ctx, who.name, action, f"{request.application}/{request.name}"):
            try:
                doc = await self.triggers.set_paused(request.application, request.name, request.paused, who.name)
            except TriggerNotFound as exc:
                await context.abort(grpc.StatusCode.NOT_FOUND, str(exc))
            except TriggerPausedInConfig as exc:
                await context.abort(grpc.StatusCode.FAILED_PRECONDITION, str(exc))
        return operator_pb2.JsonResponse(json=json.dumps(doc))

    async def FireTrigger(
        self, request: operator_pb2.FireTriggerRequest, context: grpc.aio.ServicerContext
    ) -> operator_pb2.ExecutionResponse:
        ctx = self._ctx
        await _require_name(request.application, request.name, context)
        who = await authenticate_operator(ctx, context, "trigger.change", request.application)
        async with audited(ctx, who.name, "trigger.fire", f"{request.application}/{request.name}") as entry:
            try:
                doc = await self.triggers.fire(request.application, request.name, who.name)
            except (TriggerNotFound, ExecutionNotFound) as exc:
                await context.abort(grpc.StatusCode.NOT_FOUND, str(exc))
            except ExecutionInputError as exc:
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
            entry.details = {"execution": doc.id}
        return operator_pb2.ExecutionResponse(json=json.dumps(doc.to_public()))


async def _require_name(application: str, name: str, context: grpc.aio.ServicerContext) -> None:
    if not application:
        await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "application: required (--app)")
    if not name:
        await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "trigger name: required")
