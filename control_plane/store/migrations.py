"""Versioned schema migrations, applied in order at start.

The SQL is written once for both databases; `{blob}` and `{bigint}` are the only dialect words.
Each migration runs in one transaction together with its row in schema_migrations, so a crash
mid-migration leaves the previous version intact (SQLite and PostgreSQL both have transactional DDL).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    statements: tuple[str, ...]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "initial",
        (
            """CREATE TABLE api_keys (
                name TEXT PRIMARY KEY, key_hash TEXT NOT NULL UNIQUE, role TEXT NOT NULL,
                applications TEXT NOT NULL, created_at {bigint} NOT NULL, revoked INTEGER NOT NULL DEFAULT 0)""",
            """CREATE TABLE tokens (
                name TEXT PRIMARY KEY, secret_hash TEXT NOT NULL UNIQUE, previous_hash TEXT NOT NULL DEFAULT '',
                previous_expires_at {bigint} NOT NULL DEFAULT 0, selectors TEXT NOT NULL,
                created_at {bigint} NOT NULL, last_used_at {bigint} NOT NULL DEFAULT 0,
                revoked INTEGER NOT NULL DEFAULT 0)""",
            """CREATE TABLE delegates (
                id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, hostname TEXT NOT NULL, version TEXT NOT NULL,
                install_kind TEXT NOT NULL, selectors TEXT NOT NULL, task_types TEXT NOT NULL,
                max_tasks INTEGER NOT NULL, token_name TEXT NOT NULL, session_id TEXT NOT NULL,
                registered_at {bigint} NOT NULL, last_seen_at {bigint} NOT NULL)""",
            "CREATE INDEX delegates_session ON delegates (session_id)",
            """CREATE TABLE tasks (
                id TEXT PRIMARY KEY, type TEXT NOT NULL, payload {blob} NOT NULL, selectors TEXT NOT NULL,
                state TEXT NOT NULL, attempt INTEGER NOT NULL, max_attempts INTEGER NOT NULL,
                lease_token TEXT NOT NULL DEFAULT '', lease_expires_at {bigint} NOT NULL DEFAULT 0,
                delegate_id TEXT NOT NULL DEFAULT '', timeout_ms {bigint} NOT NULL,
                attempt_deadline {bigint} NOT NULL DEFAULT 0, created_at {bigint} NOT NULL,
                updated_at {bigint} NOT NULL, result {blob} NOT NULL, error TEXT NOT NULL DEFAULT '',
                execution_id TEXT NOT NULL DEFAULT '', step TEXT NOT NULL DEFAULT '',
                cancel_requested INTEGER NOT NULL DEFAULT 0, signature {blob} NOT NULL,
                unavailability_policy TEXT NOT NULL DEFAULT 'continue',
                unavailability_deadline_ms {bigint} NOT NULL DEFAULT 0, seq {bigint} NOT NULL)""",
            "CREATE INDEX tasks_queue ON tasks (state, seq)",
            "CREATE INDEX tasks_execution ON tasks (execution_id)",
            """CREATE TABLE task_attempts (
                task_id TEXT NOT NULL, attempt INTEGER NOT NULL, delegate_id TEXT NOT NULL,
                lease_token TEXT NOT NULL, started_at {bigint} NOT NULL, ended_at {bigint} NOT NULL DEFAULT 0,
                state TEXT NOT NULL, last_log_seq {bigint} NOT NULL DEFAULT 0, PRIMARY KEY (task_id, attempt))""",
            """CREATE TABLE task_logs (
                task_id TEXT NOT NULL, attempt INTEGER NOT NULL, seq {bigint} NOT NULL, lines TEXT NOT NULL,
                created_at {bigint} NOT NULL, PRIMARY KEY (task_id, attempt, seq))""",
            """CREATE TABLE config_docs (
                kind TEXT NOT NULL, application TEXT NOT NULL, name TEXT NOT NULL, document TEXT NOT NULL,
                updated_at {bigint} NOT NULL, PRIMARY KEY (kind, application, name))""",
            """CREATE TABLE executions (
                id TEXT PRIMARY KEY, application TEXT NOT NULL, workflow TEXT NOT NULL, kind TEXT NOT NULL,
                status TEXT NOT NULL, document TEXT NOT NULL, locks TEXT NOT NULL,
                created_at {bigint} NOT NULL, updated_at {bigint} NOT NULL, version INTEGER NOT NULL)""",
            "CREATE INDEX executions_app ON executions (application, created_at)",
            "CREATE INDEX executions_status ON executions (status)",
            """CREATE TABLE function_locks (
                lock_key TEXT PRIMARY KEY, execution_id TEXT NOT NULL, acquired_at {bigint} NOT NULL)""",
            """CREATE TABLE audit (
                id {serial}, at {bigint} NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
                target TEXT NOT NULL, result TEXT NOT NULL, details TEXT NOT NULL)""",
            """CREATE TABLE trigger_state (
                state_key TEXT PRIMARY KEY, document TEXT NOT NULL, updated_at {bigint} NOT NULL)""",
            """CREATE TABLE counters (name TEXT PRIMARY KEY, value {bigint} NOT NULL)""",
        ),
    ),
    Migration(
        2,
        "task checkpoints",
        ("ALTER TABLE tasks ADD COLUMN checkpoint {blob} NOT NULL DEFAULT {empty_blob}",),
    ),
)

DIALECT_WORDS = {
    "sqlite": {"blob": "BLOB", "bigint": "INTEGER", "serial": "INTEGER PRIMARY KEY AUTOINCREMENT", "empty_blob": "X''"},
    "postgresql": {"blob": "BYTEA", "bigint": "BIGINT", "serial": "BIGSERIAL PRIMARY KEY", "empty_blob": "''::bytea"},
}


def render(statement: str, dialect: str) -> str:
    return statement.format(**DIALECT_WORDS[dialect])
