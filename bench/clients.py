"""Minimal grpc.aio clients the benchmarks drive: an operator that submits tasks and a bare delegate.

The bare delegate speaks the delegate protocol directly with the shared.pb stubs (Register,
PollTask, CompleteTask) and nothing else: no spool, no log shipping, no jitter, so what it times is
the control plane's dispatch path and the wire, not the agent's own loop.
"""

from __future__ import annotations

import json
import socket
from typing import Any

import grpc

from shared.auth_metadata import bearer
from shared.payloads import TASK_NOOP
from shared.pb.outrider.v1 import common_pb2, delegate_pb2, delegate_pb2_grpc, operator_pb2, operator_pb2_grpc
from shared.version import __version__

CALL_TIMEOUT_S = 30.0


def channel(address: str) -> grpc.aio.Channel:
    return grpc.aio.insecure_channel(address)


class AsyncOperator:
    def __init__(self, chan: grpc.aio.Channel, api_key: str) -> None:
        self._stub: Any = operator_pb2_grpc.OperatorServiceStub(chan)  # type: ignore[no-untyped-call]
        self._metadata = bearer(api_key)

    async def create_token(self, name: str) -> str:
        response = await self._stub.CreateToken(
            operator_pb2.CreateTokenRequest(name=name), metadata=self._metadata, timeout=CALL_TIMEOUT_S
        )
        return str(response.token)

    async def submit_noop(self) -> str:
        info = await self._stub.SubmitTask(
            operator_pb2.SubmitTaskRequest(type=TASK_NOOP, payload=json.dumps({}).encode()),
            metadata=self._metadata,
            timeout=CALL_TIMEOUT_S,
        )
        return str(info.task_id)


class BareDelegate:
    def __init__(self, chan: grpc.aio.Channel, token: str) -> None:
        self._stub: Any = delegate_pb2_grpc.DelegateServiceStub(chan)  # type: ignore[no-untyped-call]
        self._metadata = bearer(token)
        self.session_id = ""

    async def register(self, name: str, max_tasks: int = 1) -> delegate_pb2.RegisterResponse:
        response: delegate_pb2.RegisterResponse = await self._stub.Register(
            delegate_pb2.RegisterRequest(
                name=name,
                hostname=socket.gethostname(),
                version=__version__,
                install_kind="dev",
                max_tasks=max_tasks,
                task_types=[TASK_NOOP],
            ),
            metadata=self._metadata,
            timeout=CALL_TIMEOUT_S,
        )
        self.session_id = response.session_id
        return response

    def poll(self, wait_ms: int) -> grpc.aio.UnaryUnaryCall:
        call: grpc.aio.UnaryUnaryCall = self._stub.PollTask(
            delegate_pb2.PollTaskRequest(session_id=self.session_id, free_slots=1, wait_ms=wait_ms),
            metadata=self._metadata,
            timeout=wait_ms / 1000 + 10,
        )
        return call

    async def succeed(self, task: delegate_pb2.Task) -> None:
        await self._stub.CompleteTask(
            delegate_pb2.CompleteTaskRequest(
                session_id=self.session_id,
                lease=common_pb2.LeaseRef(task_id=task.task_id, attempt=task.attempt, lease_token=task.lease_token),
                state=common_pb2.TASK_STATE_SUCCEEDED,
                result=b"{}",
            ),
            metadata=self._metadata,
            timeout=CALL_TIMEOUT_S,
        )
