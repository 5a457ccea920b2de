"""Reads task progress straight from the control plane's database, so watching costs the server nothing.

The one place in bench/ that knows the `tasks` table; read-only, SQLite or PostgreSQL.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

import psycopg

_QUERY = "SELECT state, COUNT(*), MAX(updated_at) FROM tasks WHERE type = 'diagnostic.noop' GROUP BY state"


@dataclass(frozen=True)
class Progress:
    by_state: dict[str, int]
    last_update_ms: int
    """Latest state change of any task (the server's clock, ms since the epoch)."""

    def count(self, state: str) -> int:
        return self.by_state.get(state, 0)


class TaskCounts:
    def __init__(self, db_url: str) -> None:
        self._conn: Any
        if db_url.startswith("sqlite:///"):
            path = db_url[len("sqlite:///") :]
            self._conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30, check_same_thread=False)
        else:
            self._conn = psycopg.connect(db_url, autocommit=True)

    def read(self) -> Progress:
        rows = self._conn.execute(_QUERY).fetchall()
        return Progress({state: int(n) for state, n, _ in rows}, max((int(t) for _, _, t in rows), default=0))

    def close(self) -> None:
        self._conn.close()
