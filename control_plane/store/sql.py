"""The store logic, written once over a small dialect seam (placeholders, locking, connections).

SQL uses `?` placeholders and is rewritten to `%s` for PostgreSQL. Claiming differs: SQLite takes
the single writer lock for the transaction (BEGIN IMMEDIATE), PostgreSQL locks exactly one
candidate row with FOR UPDATE SKIP LOCKED so concurrent pollers never block each other.
"""

from __future__ import annotations

import abc
import datetime
import json
import secrets
import uuid
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

from control_plane.store import migrations
from control_plane.store.base import Conflict, NotFound, Store
from control_plane.store.models import (
    CANCELLED,
    FAILED,
    LEASED,
    QUEUED,
    SUCCEEDED,
    TERMINAL,
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

Row = dict[str, Any]
EXECUTION_ENDED = frozenset({"SUCCEEDED", "FAILED", "CANCELLED", "ROLLED_BACK"})

# Queued tasks are inspected a page at a time (selectors are matched in Python); most claims stop at the
# first page, so a long queue does not make every claim slow. At most MAX_PAGES pages are looked at.
PAGE = 32
MAX_PAGES = 8


class Cursor(Protocol):
    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any: ...
    def fetchone(self) -> Any: ...
    def fetchall(self) -> Any: ...

    @property
    def rowcount(self) -> int: ...


def _tuple(text: str) -> tuple[str, ...]:
    return tuple(json.loads(text))


def _json(items: Iterable[str]) -> str:
    return json.dumps(sorted(set(items)))


def _task(row: Row) -> TaskRow:
    return TaskRow(
        id=row["id"],
        type=row["type"],
        payload=bytes(row["payload"]),
        selectors=_tuple(row["selectors"]),
        state=row["state"],
        attempt=row["attempt"],
        max_attempts=row["max_attempts"],
        lease_token=row["lease_token"],
        lease_expires_at=row["lease_expires_at"],
        delegate_id=row["delegate_id"],
        timeout_ms=row["timeout_ms"],
        attempt_deadline=row["attempt_deadline"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        result=bytes(row["result"]),
        error=row["error"],
        execution_id=row["execution_id"],
        step=row["step"],
        cancel_requested=bool(row["cancel_requested"]),
        signature=bytes(row["signature"]),
        unavailability_policy=row["unavailability_policy"],
        unavailability_deadline_ms=row["unavailability_deadline_ms"],
        checkpoint=bytes(row.get("checkpoint") or b""),
    )


def _token(row: Row) -> TokenRow:
    return TokenRow(
        name=row["name"],
        secret_hash=row["secret_hash"],
        previous_hash=row["previous_hash"],
        previous_expires_at=row["previous_expires_at"],
        selectors=_tuple(row["selectors"]),
        created_at=row["created_at"],
        last_used_at=row["last_used_at"],
        revoked=bool(row["revoked"]),
    )


def _delegate(row: Row) -> DelegateRow:
    return DelegateRow(
        id=row["id"],
        name=row["name"],
        hostname=row["hostname"],
        version=row["version"],
        install_kind=row["install_kind"],
        selectors=_tuple(row["selectors"]),
        task_types=_tuple(row["task_types"]),
        max_tasks=row["max_tasks"],
        token_name=row["token_name"],
        session_id=row["session_id"],
        registered_at=row["registered_at"],
        last_seen_at=row["last_seen_at"],
    )


def _execution(row: Row) -> ExecutionRow:
    return ExecutionRow(
        id=row["id"],
        application=row["application"],
        workflow=row["workflow"],
        kind=row["kind"],
        status=row["status"],
        document=row["document"],
        locks=_tuple(row["locks"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        version=row["version"],
    )


class SqlStore(Store):
    """Shared implementation; subclasses provide connections and the claim query."""

    @abc.abstractmethod
    def _tx(self, write: bool = True) -> AbstractContextManager[Cursor]: ...

    @abc.abstractmethod
    def _claim_one(self, cur: Cursor, ids: list[str]) -> Row | None:
        """Lock and return the first (by seq) still-queued row among ids, or None."""

    def _q(self, sql: str) -> str:
        return sql

    def _exec(self, cur: Cursor, sql: str, params: Sequence[Any] = ()) -> Any:
        return cur.execute(self._q(sql), params)

    def _one(self, cur: Cursor, sql: str, params: Sequence[Any] = ()) -> Row | None:
        self._exec(cur, sql, params)
        row: Row | None = cur.fetchone()
        return row

    def _all(self, cur: Cursor, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        self._exec(cur, sql, params)
        return list(cur.fetchall())

    # --- lifecycle ---------------------------------------------------------------------------
    def migrate(self) -> int:
        with self._tx() as cur:
            self._exec(
                cur,
                "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
                "name TEXT NOT NULL, applied_at TEXT NOT NULL)",
            )
        current = self.schema_version()
        for migration in migrations.MIGRATIONS:
            if migration.version <= current:
                continue
            with self._tx() as cur:
                # Re-check inside the transaction: another replica may have migrated meanwhile.
                row = self._one(cur, "SELECT version FROM schema_migrations WHERE version = ?", (migration.version,))
                if row is not None:
                    continue
                for statement in migration.statements:
                    self._exec(cur, migrations.render(statement, self.dialect))
                self._exec(
                    cur,
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                    (migration.version, migration.name, _iso_now()),
                )
                self._exec(cur, "INSERT INTO counters (name, value) VALUES ('task_seq', 0) ON CONFLICT DO NOTHING")
        return self.schema_version()

    def schema_version(self) -> int:
        with self._tx(write=False) as cur:
            row = self._one(cur, "SELECT MAX(version) AS v FROM schema_migrations")
        return int(row["v"]) if row and row["v"] is not None else 0

    def ping(self) -> None:
        with self._tx(write=False) as cur:
            self._one(cur, "SELECT 1 AS one")

    # --- auth --------------------------------------------------------------------------------
    def create_api_key(self, row: ApiKeyRow) -> None:
        with self._tx() as cur:
            if self._one(cur, "SELECT name FROM api_keys WHERE name = ?", (row.name,)):
                raise Conflict(f"API key {row.name!r} exists already")
            self._exec(
                cur,
                "INSERT INTO api_keys (name, key_hash, role, applications, created_at, revoked) "
                "VALUES (?, ?, ?, ?, ?, 0)",
                (row.name, row.key_hash, row.role, _json(row.applications), row.created_at),
            )

    def find_api_key(self, key_hash: str) -> ApiKeyRow | None:
        with self._tx(write=False) as cur:
            row = self._one(cur, "SELECT * FROM api_keys WHERE key_hash = ? AND revoked = 0", (key_hash,))
        if row is None:
            return None
        return ApiKeyRow(
            name=row["name"],
            key_hash=row["key_hash"],
            role=row["role"],
            applications=_tuple(row["applications"]),
            created_at=row["created_at"],
            revoked=bool(row["revoked"]),
        )

    def count_api_keys(self) -> int:
        with self._tx(write=False) as cur:
            row = self._one(cur, "SELECT COUNT(*) AS n FROM api_keys")
        return int(row["n"]) if row else 0

    def create_token(self, row: TokenRow) -> None:
        with self._tx() as cur:
            if self._one(cur, "SELECT name FROM tokens WHERE name = ?", (row.name,)):
                raise Conflict(f"token {row.name!r} exists already; revoke it or rotate it")
            self._exec(
                cur,
                "INSERT INTO tokens (name, secret_hash, selectors, created_at) VALUES (?, ?, ?, ?)",
                (row.name, row.secret_hash, _json(row.selectors), row.created_at),
            )

    def rotate_token(self, name: str, new_hash: str, previous_expires_at: int) -> TokenRow:
        with self._tx() as cur:
            row = self._one(cur, "SELECT * FROM tokens WHERE name = ?", (name,))
            if row is None:
                raise NotFound(f"token {name!r} does not exist")
            if row["revoked"]:
                raise Conflict(f"token {name!r} is revoked; create a new one")
            self._exec(
                cur,
                "UPDATE tokens SET previous_hash = secret_hash, previous_expires_at = ?, secret_hash = ? "
                "WHERE name = ?",
                (previous_expires_at, new_hash, name),
            )
            updated = self._one(cur, "SELECT * FROM tokens WHERE name = ?", (name,))
        assert updated is not None
        return _token(updated)

    def revoke_token(self, name: str) -> TokenRow:
        with self._tx() as cur:
            if self._one(cur, "SELECT name FROM tokens WHERE name = ?", (name,)) is None:
                raise NotFound(f"token {name!r} does not exist")
            self._exec(cur, "UPDATE tokens SET revoked = 1 WHERE name = ?", (name,))
            row = self._one(cur, "SELECT * FROM tokens WHERE name = ?", (name,))
        assert row is not None
        return _token(row)

    def list_tokens(self) -> list[TokenRow]:
        with self._tx(write=False) as cur:
            return [_token(r) for r in self._all(cur, "SELECT * FROM tokens ORDER BY name")]

    def find_token(self, secret_hash: str, now: int) -> TokenRow | None:
        with self._tx(write=False) as cur:
            row = self._one(
                cur,
                "SELECT * FROM tokens WHERE revoked = 0 AND "
                "(secret_hash = ? OR (previous_hash = ? AND previous_expires_at > ?))",
                (secret_hash, secret_hash, now),
            )
        return _token(row) if row else None

    def touch_token(self, name: str, now: int) -> None:
        with self._tx() as cur:
            self._exec(cur, "UPDATE tokens SET last_used_at = ? WHERE name = ?", (now, name))

    # --- delegates ---------------------------------------------------------------------------
    def register_delegate(self, row: DelegateRow) -> DelegateRow:
        with self._tx() as cur:
            existing = self._one(cur, "SELECT id FROM delegates WHERE name = ?", (row.name,))
            delegate_id = existing["id"] if existing else row.id
            params = (
                row.hostname,
                row.version,
                row.install_kind,
                _json(row.selectors),
                _json(row.task_types),
                row.max_tasks,
                row.token_name,
                row.session_id,
                row.registered_at,
                row.last_seen_at,
            )
            if existing:
                self._exec(
                    cur,
                    "UPDATE delegates SET hostname = ?, version = ?, install_kind = ?, selectors = ?, "
                    "task_types = ?, max_tasks = ?, token_name = ?, session_id = ?, registered_at = ?, "
                    "last_seen_at = ? WHERE id = ?",
                    (*params, delegate_id),
                )
            else:
                self._exec(
                    cur,
                    "INSERT INTO delegates (hostname, version, install_kind, selectors, task_types, max_tasks, "
                    "token_name, session_id, registered_at, last_seen_at, id, name) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (*params, delegate_id, row.name),
                )
            stored = self._one(cur, "SELECT * FROM delegates WHERE id = ?", (delegate_id,))
        assert stored is not None
        return _delegate(stored)

    def get_delegate_by_session(self, session_id: str) -> DelegateRow | None:
        with self._tx(write=False) as cur:
            row = self._one(cur, "SELECT * FROM delegates WHERE session_id = ?", (session_id,))
        return _delegate(row) if row else None

    def get_delegate_by_name(self, name: str) -> DelegateRow | None:
        with self._tx(write=False) as cur:
            row = self._one(cur, "SELECT * FROM delegates WHERE name = ?", (name,))
        return _delegate(row) if row else None

    def get_token(self, name: str) -> TokenRow | None:
        with self._tx(write=False) as cur:
            row = self._one(cur, "SELECT * FROM tokens WHERE name = ?", (name,))
        return _token(row) if row else None

    def touch_delegate(self, delegate_id: str, now: int) -> None:
        with self._tx() as cur:
            self._exec(cur, "UPDATE delegates SET last_seen_at = ? WHERE id = ?", (now, delegate_id))

    def list_delegates(self) -> list[DelegateRow]:
        with self._tx(write=False) as cur:
            return [_delegate(r) for r in self._all(cur, "SELECT * FROM delegates ORDER BY name")]

    # --- tasks -------------------------------------------------------------------------------
    def enqueue(self, task: NewTask, now: int) -> TaskRow:
        task_id = task.id or new_task_id()
        with self._tx() as cur:
            seq_row = self._one(cur, "UPDATE counters SET value = value + 1 WHERE name = 'task_seq' RETURNING value")
            assert seq_row is not None
            self._exec(
                cur,
                "INSERT INTO tasks (id, type, payload, selectors, state, attempt, max_attempts, timeout_ms, "
                "created_at, updated_at, result, execution_id, step, signature, unavailability_policy, "
                "unavailability_deadline_ms, seq) VALUES (?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    task_id,
                    task.type,
                    task.payload,
                    _json(task.selectors),
                    QUEUED,
                    task.max_attempts,
                    task.timeout_ms,
                    now,
                    now,
                    b"",
                    task.execution_id,
                    task.step,
                    task.signature,
                    task.unavailability_policy,
                    task.unavailability_deadline_ms,
                    seq_row["value"],
                ),
            )
            row = self._one(cur, "SELECT * FROM tasks WHERE id = ?", (task_id,))
            assert row is not None
            self._announce(cur, _task(row))
        return _task(row)

    def _announce(self, cur: Cursor, task: TaskRow) -> None:
        """Tell other control plane replicas a task was queued (PostgreSQL: NOTIFY on commit)."""

    def claim(
        self,
        delegate_id: str,
        selectors: frozenset[str],
        task_types: frozenset[str],
        now: int,
        lease_ms: int,
    ) -> TaskRow | None:
        types = sorted(task_types)
        if not types:
            return None
        type_marks = ", ".join("?" for _ in types)
        with self._tx() as cur:
            row = None
            after = -1
            for _ in range(MAX_PAGES):
                candidates = self._all(
                    cur,
                    # Only "?" placeholders are interpolated; the types travel as parameters.
                    f"SELECT id, selectors, seq FROM tasks WHERE state = ? AND type IN ({type_marks}) "  # noqa: S608
                    "AND seq > ? ORDER BY seq LIMIT ?",
                    (QUEUED, *types, after, PAGE),
                )
                ids = [c["id"] for c in candidates if set(_tuple(c["selectors"])) <= selectors]
                if ids:
                    row = self._claim_one(cur, ids)
                    if row is not None:
                        break
                if len(candidates) < PAGE:
                    break
                after = candidates[-1]["seq"]
            if row is None:
                return None
            token = secrets.token_urlsafe(18)
            attempt = row["attempt"] + 1
            deadline = now + row["timeout_ms"] if row["timeout_ms"] > 0 else 0
            self._exec(
                cur,
                "UPDATE tasks SET state = ?, attempt = ?, lease_token = ?, lease_expires_at = ?, delegate_id = ?, "
                "attempt_deadline = ?, updated_at = ? WHERE id = ? AND state = ?",
                (LEASED, attempt, token, now + lease_ms, delegate_id, deadline, now, row["id"], QUEUED),
            )
            self._exec(
                cur,
                "INSERT INTO task_attempts (task_id, attempt, delegate_id, lease_token, started_at, state) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (row["id"], attempt, delegate_id, token, now, LEASED),
            )
            claimed = self._one(cur, "SELECT * FROM tasks WHERE id = ?", (row["id"],))
        assert claimed is not None
        return _task(claimed)

    def heartbeat(
        self, delegate_id: str, leases: Sequence[tuple[str, int, str]], now: int, lease_ms: int
    ) -> list[LeaseCheck]:
        checks = []
        with self._tx() as cur:
            for task_id, attempt, token in leases:
                row = self._one(cur, "SELECT * FROM tasks WHERE id = ?", (task_id,))
                holds = (
                    row is not None
                    and row["state"] == LEASED
                    and row["attempt"] == attempt
                    and row["lease_token"] == token
                    and row["delegate_id"] == delegate_id
                )
                if not holds or row is None:
                    checks.append(LeaseCheck(task_id, attempt, "LOST", 0))
                    continue
                expires = now + lease_ms
                self._exec(
                    cur,
                    "UPDATE tasks SET lease_expires_at = ? WHERE id = ? AND attempt = ?",
                    (expires, task_id, attempt),
                )
                status = "CANCEL_REQUESTED" if row["cancel_requested"] else "RENEWED"
                checks.append(LeaseCheck(task_id, attempt, status, expires))
        return checks

    def _attempt_holder(self, cur: Cursor, delegate_id: str, lease: tuple[str, int, str]) -> Row | None:
        task_id, attempt, token = lease
        return self._one(
            cur,
            "SELECT * FROM task_attempts WHERE task_id = ? AND attempt = ? AND lease_token = ? AND delegate_id = ?",
            (task_id, attempt, token, delegate_id),
        )

    def save_checkpoint(self, delegate_id: str, lease: tuple[str, int, str], data: bytes, now: int) -> bool:
        task_id, attempt, token = lease
        with self._tx() as cur:
            row = self._one(cur, "SELECT * FROM tasks WHERE id = ?", (task_id,))
            if row is None:
                raise NotFound(f"task {task_id} does not exist")
            holds = (
                row["state"] == LEASED
                and row["attempt"] == attempt
                and row["lease_token"] == token
                and row["delegate_id"] == delegate_id
            )
            if not holds:
                raise NotFound(f"task {task_id} attempt {attempt} is not leased to this delegate")
            if bytes(row["checkpoint"] or b""):
                return False  # the first attempt's "before" state is the one that counts
            self._exec(cur, "UPDATE tasks SET checkpoint = ? WHERE id = ?", (data, task_id))
            return True

    def append_logs(
        self,
        delegate_id: str,
        lease: tuple[str, int, str],
        batches: Sequence[tuple[int, str]],
        now: int,
    ) -> int:
        task_id, attempt, _ = lease
        with self._tx() as cur:
            # Fenced by the attempt record, not by the live lease: lines an attempt produced before
            # it lost its lease are still history worth keeping, and they cannot change task state.
            if self._attempt_holder(cur, delegate_id, lease) is None:
                raise NotFound(f"task {task_id} attempt {attempt} is not leased to this delegate")
            for seq, lines in batches:
                self._exec(
                    cur,
                    "INSERT INTO task_logs (task_id, attempt, seq, lines, created_at) VALUES (?, ?, ?, ?, ?) "
                    "ON CONFLICT DO NOTHING",
                    (task_id, attempt, seq, lines, now),
                )
            return self._contiguous(cur, task_id, attempt)

    def _contiguous(self, cur: Cursor, task_id: str, attempt: int) -> int:
        rows = self._all(
            cur,
            "SELECT seq FROM task_logs WHERE task_id = ? AND attempt = ? ORDER BY seq",
            (task_id, attempt),
        )
        acked = 0
        for r in rows:
            if r["seq"] != acked + 1:
                break
            acked = r["seq"]
        return acked

    def list_attempts(self, task_id: str) -> list[AttemptRow]:
        with self._tx(write=False) as cur:
            rows = self._all(cur, "SELECT * FROM task_attempts WHERE task_id = ? ORDER BY attempt", (task_id,))
        return [
            AttemptRow(r["task_id"], r["attempt"], r["delegate_id"], r["started_at"], r["ended_at"], r["state"])
            for r in rows
        ]

    def acked_seq(self, task_id: str, attempt: int) -> int:
        with self._tx(write=False) as cur:
            return self._contiguous(cur, task_id, attempt)

    def complete(
        self,
        delegate_id: str,
        lease: tuple[str, int, str],
        state: str,
        result: bytes,
        error: str,
        now: int,
    ) -> CompleteOutcome:
        task_id, attempt, token = lease
        with self._tx() as cur:
            row = self._one(cur, "SELECT * FROM tasks WHERE id = ?", (task_id,))
            if row is None:
                raise NotFound(f"task {task_id} does not exist")
            same_attempt = row["attempt"] == attempt and row["lease_token"] == token
            if row["state"] in TERMINAL:
                # Idempotent repeat of the completion that ended the task (the ack was lost).
                accepted = same_attempt and row["state"] == state and row["delegate_id"] == delegate_id
                return CompleteOutcome(accepted, row["state"], _task(row))
            if row["state"] != LEASED or not same_attempt or row["delegate_id"] != delegate_id:
                return CompleteOutcome(False, row["state"], _task(row))
            self._exec(
                cur,
                "UPDATE tasks SET state = ?, result = ?, error = ?, updated_at = ?, lease_expires_at = 0 "
                "WHERE id = ? AND attempt = ?",
                (state, result, error, now, task_id, attempt),
            )
            self._exec(
                cur,
                "UPDATE task_attempts SET state = ?, ended_at = ? WHERE task_id = ? AND attempt = ?",
                (state, now, task_id, attempt),
            )
            done = self._one(cur, "SELECT * FROM tasks WHERE id = ?", (task_id,))
        assert done is not None
        return CompleteOutcome(True, state, _task(done), transitioned=True)

    def request_cancel(self, task_id: str, now: int) -> TaskRow:
        with self._tx() as cur:
            row = self._one(cur, "SELECT * FROM tasks WHERE id = ?", (task_id,))
            if row is None:
                raise NotFound(f"task {task_id} does not exist")
            if row["state"] == QUEUED:
                self._exec(
                    cur,
                    "UPDATE tasks SET state = ?, error = ?, updated_at = ?, cancel_requested = 1 WHERE id = ?",
                    (CANCELLED, "cancelled before it started", now, task_id),
                )
            elif row["state"] == LEASED:
                self._exec(cur, "UPDATE tasks SET cancel_requested = 1, updated_at = ? WHERE id = ?", (now, task_id))
            updated = self._one(cur, "SELECT * FROM tasks WHERE id = ?", (task_id,))
        assert updated is not None
        return _task(updated)

    def expire(self, now: int) -> list[TaskRow]:
        changed: list[TaskRow] = []
        with self._tx() as cur:
            rows = self._all(
                cur,
                "SELECT * FROM tasks WHERE state = ? AND (lease_expires_at < ? OR "
                "(attempt_deadline > 0 AND attempt_deadline < ?))",
                (LEASED, now, now),
            )
            for row in rows:
                timed_out = 0 < row["attempt_deadline"] < now
                if timed_out:
                    new_state, error = FAILED, f"timed out after {row['timeout_ms'] // 1000}s"
                elif row["cancel_requested"]:
                    new_state, error = CANCELLED, "cancelled; the delegate stopped answering"
                elif row["attempt"] < row["max_attempts"]:
                    new_state, error = QUEUED, ""
                else:
                    new_state = FAILED
                    error = f"lease lost {row['attempt']} times; the delegate stopped renewing it"
                self._exec(
                    cur,
                    "UPDATE tasks SET state = ?, error = ?, updated_at = ?, lease_token = '', "
                    "lease_expires_at = 0 WHERE id = ? AND attempt = ? AND state = ?",
                    (new_state, error, now, row["id"], row["attempt"], LEASED),
                )
                self._exec(
                    cur,
                    "UPDATE task_attempts SET state = ?, ended_at = ? WHERE task_id = ? AND attempt = ?",
                    ("TIMED_OUT" if timed_out else "LEASE_EXPIRED", now, row["id"], row["attempt"]),
                )
                updated = self._one(cur, "SELECT * FROM tasks WHERE id = ?", (row["id"],))
                assert updated is not None
                changed.append(_task(updated))
        return changed

    def extend_leases(self, until: int) -> int:
        with self._tx() as cur:
            self._exec(
                cur,
                "UPDATE tasks SET lease_expires_at = ? WHERE state = ? AND lease_expires_at < ?",
                (until, LEASED, until),
            )
            return int(cur.rowcount)

    def purge_tasks(self, ended_before: int, limit: int = 1000) -> int:
        with self._tx() as cur:
            rows = self._all(
                cur,
                "SELECT id FROM tasks WHERE execution_id = '' AND state IN (?, ?, ?) AND updated_at < ? LIMIT ?",
                (SUCCEEDED, FAILED, CANCELLED, ended_before, limit),
            )
            for r in rows:
                for table, column in (("task_logs", "task_id"), ("task_attempts", "task_id"), ("tasks", "id")):
                    self._exec(cur, f"DELETE FROM {table} WHERE {column} = ?", (r["id"],))  # noqa: S608 - fixed names
            return len(rows)

    def queued_count(self) -> int:
        with self._tx(write=False) as cur:
            row = self._one(cur, "SELECT COUNT(*) AS n FROM tasks WHERE state = ?", (QUEUED,))
        return int(row["n"]) if row else 0

    def get_task(self, task_id: str) -> TaskRow | None:
        with self._tx(write=False) as cur:
            row = self._one(cur, "SELECT * FROM tasks WHERE id = ?", (task_id,))
        return _task(row) if row else None

    def list_tasks(self, limit: int = 100, execution_id: str | None = None) -> list[TaskRow]:
        with self._tx(write=False) as cur:
            if execution_id is not None:
                rows = self._all(
                    cur,
                    "SELECT * FROM tasks WHERE execution_id = ? ORDER BY seq LIMIT ?",
                    (execution_id, limit),
                )
            else:
                rows = self._all(cur, "SELECT * FROM tasks ORDER BY seq DESC LIMIT ?", (limit,))
        return [_task(r) for r in rows]

    def read_logs(self, task_id: str, after: tuple[int, int] = (0, 0), limit: int = 500) -> list[LogBatchRow]:
        attempt, seq = after
        with self._tx(write=False) as cur:
            rows = self._all(
                cur,
                "SELECT * FROM task_logs WHERE task_id = ? AND (attempt > ? OR (attempt = ? AND seq > ?)) "
                "ORDER BY attempt, seq LIMIT ?",
                (task_id, attempt, attempt, seq, limit),
            )
        return [LogBatchRow(r["task_id"], r["attempt"], r["seq"], r["lines"], r["created_at"]) for r in rows]

    # --- configuration -----------------------------------------------------------------------
    def list_config(self) -> list[ConfigRow]:
        with self._tx(write=False) as cur:
            rows = self._all(cur, "SELECT * FROM config_docs ORDER BY kind, application, name")
        return [ConfigRow(r["kind"], r["application"], r["name"], r["document"], r["updated_at"]) for r in rows]

    def put_config(self, rows: Iterable[ConfigRow]) -> None:
        with self._tx() as cur:
            for r in rows:
                self._exec(
                    cur,
                    "INSERT INTO config_docs (kind, application, name, document, updated_at) VALUES (?, ?, ?, ?, ?) "
                    "ON CONFLICT (kind, application, name) DO UPDATE SET document = excluded.document, "
                    "updated_at = excluded.updated_at",
                    (r.kind, r.application, r.name, r.document, r.updated_at),
                )

    # --- executions --------------------------------------------------------------------------
    def create_execution(self, row: ExecutionRow) -> None:
        with self._tx() as cur:
            self._exec(
                cur,
                "INSERT INTO executions (id, application, workflow, kind, status, document, locks, created_at, "
                "updated_at, version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    row.id,
                    row.application,
                    row.workflow,
                    row.kind,
                    row.status,
                    row.document,
                    json.dumps(list(row.locks)),
                    row.created_at,
                    row.updated_at,
                    row.version,
                ),
            )

    def update_execution(self, row: ExecutionRow) -> ExecutionRow:
        with self._tx() as cur:
            self._exec(
                cur,
                "UPDATE executions SET status = ?, document = ?, locks = ?, updated_at = ?, version = ? "
                "WHERE id = ? AND version = ?",
                (
                    row.status,
                    row.document,
                    json.dumps(list(row.locks)),
                    row.updated_at,
                    row.version + 1,
                    row.id,
                    row.version,
                ),
            )
            if cur.rowcount != 1:
                raise Conflict(f"execution {row.id} was updated concurrently")
            if row.status in EXECUTION_ENDED:
                # In the same transaction as the final status: a crash in between must not leave the
                # function locked for good.
                self._exec(cur, "DELETE FROM function_locks WHERE execution_id = ?", (row.id,))
            stored = self._one(cur, "SELECT * FROM executions WHERE id = ?", (row.id,))
        assert stored is not None
        return _execution(stored)

    def get_execution(self, execution_id: str) -> ExecutionRow | None:
        with self._tx(write=False) as cur:
            row = self._one(cur, "SELECT * FROM executions WHERE id = ?", (execution_id,))
        return _execution(row) if row else None

    def list_executions(
        self, application: str | None = None, statuses: Iterable[str] | None = None, limit: int = 100
    ) -> list[ExecutionRow]:
        sql = "SELECT * FROM executions WHERE 1 = 1"
        params: list[Any] = []
        if application:
            sql += " AND application = ?"
            params.append(application)
        wanted = list(statuses or [])
        if wanted:
            sql += " AND status IN (" + ", ".join("?" for _ in wanted) + ")"
            params.extend(wanted)
        sql += " ORDER BY created_at DESC, id DESC LIMIT ?"
        params.append(limit)
        with self._tx(write=False) as cur:
            return [_execution(r) for r in self._all(cur, sql, params)]

    def acquire_locks(self, execution_id: str, keys: Sequence[str], now: int) -> bool:
        with self._tx() as cur:
            for key in sorted(set(keys)):
                row = self._one(
                    cur,
                    "SELECT l.execution_id, e.status FROM function_locks l "
                    "LEFT JOIN executions e ON e.id = l.execution_id WHERE l.lock_key = ?",
                    (key,),
                )
                if row is not None and row["execution_id"] != execution_id:
                    if row["status"] is not None and row["status"] not in EXECUTION_ENDED:
                        return False
                    # Held by an execution that ended (or no longer exists): a leftover, take it over.
                    self._exec(cur, "DELETE FROM function_locks WHERE lock_key = ?", (key,))
            for key in sorted(set(keys)):
                self._exec(
                    cur,
                    "INSERT INTO function_locks (lock_key, execution_id, acquired_at) VALUES (?, ?, ?) "
                    "ON CONFLICT DO NOTHING",
                    (key, execution_id, now),
                )
            held = self._all(cur, "SELECT lock_key FROM function_locks WHERE execution_id = ?", (execution_id,))
            if {r["lock_key"] for r in held} >= set(keys):
                return True
            raise Conflict("lost a lock race; retry")

    def release_locks(self, execution_id: str) -> None:
        with self._tx() as cur:
            self._exec(cur, "DELETE FROM function_locks WHERE execution_id = ?", (execution_id,))

    # --- audit and trigger state -------------------------------------------------------------
    def add_audit(self, at: int, actor: str, action: str, target: str, result: str, details: str) -> None:
        with self._tx() as cur:
            self._exec(
                cur,
                "INSERT INTO audit (at, actor, action, target, result, details) VALUES (?, ?, ?, ?, ?, ?)",
                (at, actor, action, target, result, details),
            )

    def list_audit(self, limit: int = 100) -> list[AuditRow]:
        with self._tx(write=False) as cur:
            rows = self._all(cur, "SELECT * FROM audit ORDER BY id DESC LIMIT ?", (limit,))
        return [
            AuditRow(r["id"], r["at"], r["actor"], r["action"], r["target"], r["result"], r["details"]) for r in rows
        ]

    def get_trigger_state(self, key: str) -> TriggerStateRow | None:
        with self._tx(write=False) as cur:
            row = self._one(cur, "SELECT * FROM trigger_state WHERE state_key = ?", (key,))
        return TriggerStateRow(row["state_key"], row["document"], row["updated_at"]) if row else None

    def put_trigger_state(self, row: TriggerStateRow, expected_updated_at: int | None) -> bool:
        with self._tx() as cur:
            if expected_updated_at is None:
                self._exec(
                    cur,
                    "INSERT INTO trigger_state (state_key, document, updated_at) VALUES (?, ?, ?) "
                    "ON CONFLICT DO NOTHING",
                    (row.key, row.document, row.updated_at),
                )
            else:
                self._exec(
                    cur,
                    "UPDATE trigger_state SET document = ?, updated_at = ? WHERE state_key = ? AND updated_at = ?",
                    (row.document, row.updated_at, row.key, expected_updated_at),
                )
            return bool(cur.rowcount == 1)


def new_task_id() -> str:
    return "t-" + uuid.uuid4().hex[:20]


def _iso_now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat()
