"""Rows as the rest of the control plane sees them: frozen dataclasses, no database types."""

from __future__ import annotations

from dataclasses import dataclass

QUEUED = "QUEUED"
LEASED = "LEASED"
SUCCEEDED = "SUCCEEDED"
FAILED = "FAILED"
CANCELLED = "CANCELLED"
TERMINAL = frozenset({SUCCEEDED, FAILED, CANCELLED})


@dataclass(frozen=True)
class NewTask:
    type: str
    payload: bytes
    selectors: tuple[str, ...] = ()
    max_attempts: int = 3
    timeout_ms: int = 600_000
    execution_id: str = ""
    step: str = ""
    signature: bytes = b""
    unavailability_policy: str = "continue"
    unavailability_deadline_ms: int = 0
    id: str = ""  # assigned before enqueue when the task is signed (the id is part of what is signed)


@dataclass(frozen=True)
class TaskRow:
    id: str
    type: str
    payload: bytes
    selectors: tuple[str, ...]
    state: str
    attempt: int
    max_attempts: int
    lease_token: str
    lease_expires_at: int
    delegate_id: str
    timeout_ms: int
    attempt_deadline: int
    created_at: int
    updated_at: int
    result: bytes
    error: str
    execution_id: str
    step: str
    cancel_requested: bool
    signature: bytes
    unavailability_policy: str
    unavailability_deadline_ms: int
    checkpoint: bytes = b""

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL


@dataclass(frozen=True)
class AttemptRow:
    task_id: str
    attempt: int
    delegate_id: str
    started_at: int
    ended_at: int
    state: str  # LEASED while running; then SUCCEEDED/FAILED/CANCELLED (reported) or LEASE_EXPIRED/TIMED_OUT


@dataclass(frozen=True)
class LeaseCheck:
    """The answer to a heartbeat for one lease."""

    task_id: str
    attempt: int
    status: str  # RENEWED | CANCEL_REQUESTED | LOST
    lease_expires_at: int


@dataclass(frozen=True)
class CompleteOutcome:
    accepted: bool
    state: str
    task: TaskRow | None
    transitioned: bool = False  # this call ended the task (False for an idempotent repeat)


@dataclass(frozen=True)
class LogBatchRow:
    task_id: str
    attempt: int
    seq: int
    lines: str  # JSON list of {ts_ms, level, section, text}
    created_at: int


@dataclass(frozen=True)
class TokenRow:
    name: str
    secret_hash: str
    previous_hash: str
    previous_expires_at: int
    selectors: tuple[str, ...]
    created_at: int
    last_used_at: int
    revoked: bool


@dataclass(frozen=True)
class ApiKeyRow:
    name: str
    key_hash: str
    role: str
    applications: tuple[str, ...]
    created_at: int
    revoked: bool


@dataclass(frozen=True)
class DelegateRow:
    id: str
    name: str
    hostname: str
    version: str
    install_kind: str
    selectors: tuple[str, ...]
    task_types: tuple[str, ...]
    max_tasks: int
    token_name: str
    session_id: str
    registered_at: int
    last_seen_at: int


@dataclass(frozen=True)
class ConfigRow:
    kind: str
    application: str
    name: str
    document: str  # JSON of the full document (kind, name, application, spec)
    updated_at: int


@dataclass(frozen=True)
class ExecutionRow:
    id: str
    application: str
    workflow: str
    kind: str  # deploy | rollback
    status: str
    document: str  # JSON: the orchestrator's state, rendered to CONTRACT §4 on read
    locks: tuple[str, ...]
    created_at: int
    updated_at: int
    version: int  # optimistic concurrency for orchestrator updates


@dataclass(frozen=True)
class AuditRow:
    id: int
    at: int
    actor: str
    action: str
    target: str
    result: str
    details: str


@dataclass(frozen=True)
class TriggerStateRow:
    key: str
    document: str  # JSON state: last run, last error, seen versions, paused...
    updated_at: int
