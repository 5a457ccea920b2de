"""One attempt of one task on this delegate: its lease, its stop conditions, its log stream.

The lease is tracked on the local monotonic clock. Each renewal moves the local deadline to
(renewal time + lease duration); the attempt must stop at a safe point one heartbeat interval
before that deadline, because after it the control plane may hand the task to another delegate
and two attempts must never act on the same function at once.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from delegate.log_stream import LogStream
from delegate.spool import AttemptSpool
from shared.pb.outrider.v1 import common_pb2


@dataclass
class Attempt:
    task_id: str
    attempt: int
    lease_token: str
    type: str
    execution_id: str
    spool: AttemptSpool
    stream: LogStream
    lease_duration_s: float
    safety_margin_s: float
    lease_deadline: float = 0.0  # monotonic
    cancel_requested: bool = False
    lost: bool = False
    shutting_down: bool = False
    unavailable_since: float | None = None
    unavailability_policy: str = "continue"
    unavailability_deadline_s: float = 0.0
    finished: bool = False
    started: float = field(default_factory=time.monotonic)
    flush: asyncio.Event = field(default_factory=asyncio.Event)
    """Set when the log buffer is full, so the shipper sends before its interval."""

    def __post_init__(self) -> None:
        if not self.lease_deadline:
            self.lease_deadline = time.monotonic() + self.lease_duration_s

    @property
    def lease_ref(self) -> common_pb2.LeaseRef:
        return common_pb2.LeaseRef(task_id=self.task_id, attempt=self.attempt, lease_token=self.lease_token)

    def renewed(self, at: float) -> None:
        self.lease_deadline = at + self.lease_duration_s
        self.unavailable_since = None

    def stop_reason(self) -> str | None:
        if self.cancel_requested:
            return "cancelled by an operator"
        if self._unavailable_too_long():
            return "control plane unreachable past the task's deadline (policy: cancel)"
        if self.lost:
            return "lease lost: the control plane gave this task to another attempt"
        now = time.monotonic()
        if now >= self.lease_deadline - self.safety_margin_s:
            return "lease about to expire: heartbeats to the control plane are failing"
        if self.shutting_down:
            return "delegate shutting down"
        return None

    def cancelled(self) -> bool:
        return self.cancel_requested or self._unavailable_too_long()

    def _unavailable_too_long(self) -> bool:
        return (
            self.unavailability_policy == "cancel"
            and self.unavailable_since is not None
            and time.monotonic() - self.unavailable_since >= self.unavailability_deadline_s
        )
