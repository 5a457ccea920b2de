"""The delegate's only door to the control plane: typed calls on DelegateService with auth metadata.

Creating the channel (TLS, mTLS or explicit plaintext) happens here too. Retry decisions are not
made here; callers wrap calls with `shared.retry` predicates.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import grpc

from shared.auth_metadata import bearer
from shared.pb.outrider.v1 import common_pb2, delegate_pb2, delegate_pb2_grpc

CALL_TIMEOUT_S = 20.0


@dataclass(frozen=True)
class ChannelSecurity:
    insecure: bool = False
    ca_cert: Path | None = None
    client_cert: Path | None = None
    client_key: Path | None = None


def open_channel(target: str, security: ChannelSecurity) -> grpc.aio.Channel:
    options = [
        ("grpc.max_receive_message_length", 16 * 1024 * 1024),
        ("grpc.keepalive_time_ms", 30_000),
        ("grpc.keepalive_timeout_ms", 10_000),
        ("grpc.keepalive_permit_without_calls", 1),
        # Reconnect quickly after the control plane comes back; our own loop adds jittered backoff.
        ("grpc.initial_reconnect_backoff_ms", 200),
        ("grpc.max_reconnect_backoff_ms", 5_000),
    ]
    if security.insecure:
        return grpc.aio.insecure_channel(target, options=options)
    from shared.tls import channel_credentials

    creds = channel_credentials(security.ca_cert, security.client_cert, security.client_key)
    return grpc.aio.secure_channel(target, creds, options=options)


class ControlPlaneClient:
    def __init__(self, channel: grpc.aio.Channel, token: str) -> None:
        self._channel = channel
        self._stub = delegate_pb2_grpc.DelegateServiceStub(channel)  # type: ignore[no-untyped-call]
        self._metadata = bearer(token)
        self.session_id = ""

    async def close(self) -> None:
        await self._channel.close()

    async def register(self, request: delegate_pb2.RegisterRequest) -> delegate_pb2.RegisterResponse:
        response: delegate_pb2.RegisterResponse = await self._stub.Register(
            request, metadata=self._metadata, timeout=CALL_TIMEOUT_S
        )
        self.session_id = response.session_id
        return response

    def poll(self, free_slots: int, wait_ms: int) -> grpc.aio.UnaryUnaryCall:
        """Returns the call so the agent can cancel it on shutdown."""
        call: grpc.aio.UnaryUnaryCall = self._stub.PollTask(
            delegate_pb2.PollTaskRequest(session_id=self.session_id, free_slots=free_slots, wait_ms=wait_ms),
            metadata=self._metadata,
            timeout=wait_ms / 1000 + 10,
        )
        return call

    async def heartbeat(self, leases: list[common_pb2.LeaseRef]) -> delegate_pb2.HeartbeatResponse:
        response: delegate_pb2.HeartbeatResponse = await self._stub.Heartbeat(
            delegate_pb2.HeartbeatRequest(session_id=self.session_id, leases=leases),
            metadata=self._metadata,
            timeout=CALL_TIMEOUT_S,
        )
        return response

    async def append_logs(self, lease: common_pb2.LeaseRef, batches: list[common_pb2.LogBatch]) -> int:
        response: delegate_pb2.AppendLogsResponse = await self._stub.AppendLogs(
            delegate_pb2.AppendLogsRequest(session_id=self.session_id, lease=lease, batches=batches),
            metadata=self._metadata,
            timeout=CALL_TIMEOUT_S,
        )
        return response.acked_seq

    async def save_checkpoint(self, lease: common_pb2.LeaseRef, data: bytes) -> bool:
        response: delegate_pb2.SaveCheckpointResponse = await self._stub.SaveCheckpoint(
            delegate_pb2.SaveCheckpointRequest(session_id=self.session_id, lease=lease, data=data),
            metadata=self._metadata,
            timeout=CALL_TIMEOUT_S,
        )
        return response.stored

    async def complete(
        self, lease: common_pb2.LeaseRef, state: common_pb2.TaskState, result: bytes, error: str, last_log_seq: int
    ) -> delegate_pb2.CompleteTaskResponse:
        response: delegate_pb2.CompleteTaskResponse = await self._stub.CompleteTask(
            delegate_pb2.CompleteTaskRequest(
                session_id=self.session_id,
                lease=lease,
                state=state,
                result=result,
                error=error,
                last_log_seq=last_log_seq,
            ),
            metadata=self._metadata,
            timeout=CALL_TIMEOUT_S,
        )
        return response
