"""The store interface. Both implementations pass the same test suite (tests/integration/store).

Every method is synchronous and runs in a worker thread of the gRPC server; each one is a single
transaction, so a caller never sees half of an operation. Task state transitions are
compare-and-set on the row (state, attempt, lease token), which is what makes fencing work.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterable, Sequence

from control_plane.store.models import (
    ApiKeyRow,
    AttemptRow,
    AuditRow,
    CompleteOutcome,
    ConfigRow,
    DelegateRow,
    ExecutionRow,
    LeaseCheck,
    LogBatchRow,
    NewTask,
    TaskRow,
    TokenRow,
    TriggerStateRow,
)


class StoreError(Exception):
    """Root of store failures."""


class Conflict(StoreError):
    """A unique name is taken, or an optimistic update lost the race."""


class NotFound(StoreError):
    """The object does not exist."""


class Store(abc.ABC):
    dialect: str

    # --- lifecycle ---------------------------------------------------------------------------
    @abc.abstractmethod
    def migrate(self) -> int:
        """Apply pending migrations; returns the schema version."""

    @abc.abstractmethod
    def ping(self) -> None: ...

    @abc.abstractmethod
    def close(self) -> None: ...

    # --- auth --------------------------------------------------------------------------------
    @abc.abstractmethod
    def create_api_key(self, row: ApiKeyRow) -> None: ...

    @abc.abstractmethod
    def find_api_key(self, key_hash: str) -> ApiKeyRow | None: ...

    @abc.abstractmethod
    def count_api_keys(self) -> int: ...

    @abc.abstractmethod
    def create_token(self, row: TokenRow) -> None: ...

    @abc.abstractmethod
    def rotate_token(self, name: str, new_hash: str, previous_expires_at: int) -> TokenRow: ...

    @abc.abstractmethod
    def revoke_token(self, name: str) -> TokenRow: ...

    @abc.abstractmethod
    def list_tokens(self) -> list[TokenRow]: ...

    @abc.abstractmethod
    def find_token(self, secret_hash: str, now: int) -> TokenRow | None:
        """The live token with this hash, current or previous within its grace period."""

    @abc.abstractmethod
    def touch_token(self, name: str, now: int) -> None: ...

    # --- delegates ---------------------------------------------------------------------------
    @abc.abstractmethod
    def register_delegate(self, row: DelegateRow) -> DelegateRow:
        """Insert or refresh the delegate with this name; its id stays stable across restarts."""

    @abc.abstractmethod
    def get_delegate_by_session(self, session_id: str) -> DelegateRow | None: ...

    @abc.abstractmethod
    def get_delegate_by_name(self, name: str) -> DelegateRow | None: ...

    @abc.abstractmethod
    def get_token(self, name: str) -> TokenRow | None: ...

    @abc.abstractmethod
    def touch_delegate(self, delegate_id: str, now: int) -> None: ...

    @abc.abstractmethod
    def list_delegates(self) -> list[DelegateRow]: ...

    # --- tasks -------------------------------------------------------------------------------
    @abc.abstractmethod
    def enqueue(self, task: NewTask, now: int) -> TaskRow: ...

    def listen_for_tasks(self, callback: Callable[[str, frozenset[str]], None]) -> None:
        """Call `callback(task_type, selectors)` for tasks queued by other processes, if the database can
        announce them (PostgreSQL LISTEN/NOTIFY). The default does nothing: one SQLite server is alone."""
        return

    @abc.abstractmethod
    def claim(
        self,
        delegate_id: str,
        selectors: frozenset[str],
        task_types: frozenset[str],
        now: int,
        lease_ms: int,
    ) -> TaskRow | None:
        """Lease the oldest queued task this delegate may run, or None."""

    @abc.abstractmethod
    def heartbeat(
        self, delegate_id: str, leases: Sequence[tuple[str, int, str]], now: int, lease_ms: int
    ) -> list[LeaseCheck]: ...

    @abc.abstractmethod
    def append_logs(
        self,
        delegate_id: str,
        lease: tuple[str, int, str],
        batches: Sequence[tuple[int, str]],
        now: int,
    ) -> int:
        """Store each (seq, lines JSON) once; returns the highest contiguous seq stored."""

    @abc.abstractmethod
    def save_checkpoint(self, delegate_id: str, lease: tuple[str, int, str], data: bytes, now: int) -> bool:
        """Store the task's checkpoint if it has none yet (first write wins); fenced like completion."""

    @abc.abstractmethod
    def complete(
        self,
        delegate_id: str,
        lease: tuple[str, int, str],
        state: str,
        result: bytes,
        error: str,
        now: int,
    ) -> CompleteOutcome: ...

    @abc.abstractmethod
    def request_cancel(self, task_id: str, now: int) -> TaskRow: ...

    @abc.abstractmethod
    def expire(self, now: int) -> list[TaskRow]:
        """Requeue or fail tasks whose lease expired or whose attempt ran out of time; returns them."""

    @abc.abstractmethod
    def extend_leases(self, until: int) -> int:
        """Push every live lease to at least `until` (at start: delegates could not renew while we were down)."""

    @abc.abstractmethod
    def purge_tasks(self, ended_before: int, limit: int = 1000) -> int:
        """Delete ended tasks that belong to no execution (collections, diagnostics), with their logs."""

    @abc.abstractmethod
    def queued_count(self) -> int: ...

    @abc.abstractmethod
    def get_task(self, task_id: str) -> TaskRow | None: ...

    @abc.abstractmethod
    def list_tasks(self, limit: int = 100, execution_id: str | None = None) -> list[TaskRow]: ...

    @abc.abstractmethod
    def read_logs(self, task_id: str, after: tuple[int, int] = (0, 0), limit: int = 500) -> list[LogBatchRow]:
        """Batches ordered by (attempt, seq) strictly after the (attempt, seq) cursor."""

    @abc.abstractmethod
    def acked_seq(self, task_id: str, attempt: int) -> int: ...

    @abc.abstractmethod
    def list_attempts(self, task_id: str) -> list[AttemptRow]: ...

    # --- configuration -----------------------------------------------------------------------
    @abc.abstractmethod
    def list_config(self) -> list[ConfigRow]: ...

    @abc.abstractmethod
    def put_config(self, rows: Iterable[ConfigRow]) -> None:
        """Insert or replace all rows in one transaction."""

    # --- executions --------------------------------------------------------------------------
    @abc.abstractmethod
    def create_execution(self, row: ExecutionRow) -> None: ...

    @abc.abstractmethod
    def update_execution(self, row: ExecutionRow) -> ExecutionRow:
        """Compare-and-set on `version`; raises Conflict when someone else updated it first."""

    @abc.abstractmethod
    def get_execution(self, execution_id: str) -> ExecutionRow | None: ...

    @abc.abstractmethod
    def list_executions(
        self, application: str | None = None, statuses: Iterable[str] | None = None, limit: int = 100
    ) -> list[ExecutionRow]: ...

    @abc.abstractmethod
    def acquire_locks(self, execution_id: str, keys: Sequence[str], now: int) -> bool:
        """Take all the named locks or none (serialises executions touching the same function)."""

    @abc.abstractmethod
    def release_locks(self, execution_id: str) -> None: ...

    # --- audit and trigger state -------------------------------------------------------------
    @abc.abstractmethod
    def add_audit(self, at: int, actor: str, action: str, target: str, result: str, details: str) -> None: ...

    @abc.abstractmethod
    def list_audit(self, limit: int = 100) -> list[AuditRow]: ...

    @abc.abstractmethod
    def get_trigger_state(self, key: str) -> TriggerStateRow | None: ...

    @abc.abstractmethod
    def put_trigger_state(self, row: TriggerStateRow, expected_updated_at: int | None) -> bool:
        """Compare-and-set on updated_at (None = must not exist); False when another writer won."""
