"""SQLite store: the embedded default. One connection in WAL mode, serialised by a lock.

SQLite allows one writer at a time anyway; a single connection guarded by a lock avoids
SQLITE_BUSY storms between threads and keeps every transaction short. Writes start with
BEGIN IMMEDIATE so a claim's read-then-update cannot interleave with another claim.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from control_plane.store.sql import Cursor, Row, SqlStore


def _dict_row(cursor: sqlite3.Cursor, row: tuple[Any, ...]) -> dict[str, Any]:
    return {d[0]: v for d, v in zip(cursor.description, row, strict=True)}


class SqliteStore(SqlStore):
    dialect = "sqlite"

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False, timeout=30)
        self._conn.row_factory = _dict_row
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.execute("PRAGMA busy_timeout=30000")
        self._conn.execute("PRAGMA foreign_keys=ON")

    @contextmanager
    def _tx(self, write: bool = True) -> Iterator[Cursor]:
        with self._lock:
            cur = self._conn.cursor()
            cur.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                yield cur
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            else:
                cur.execute("COMMIT")
            finally:
                cur.close()

    def _claim_one(self, cur: Cursor, ids: list[str]) -> Row | None:
        # The writer lock taken by BEGIN IMMEDIATE already excludes other claimers.
        # Only "?" placeholders are interpolated; the ids themselves travel as parameters.
        placeholders = ", ".join("?" for _ in ids)
        sql = f"SELECT * FROM tasks WHERE id IN ({placeholders}) AND state = 'QUEUED' ORDER BY seq LIMIT 1"  # noqa: S608
        return self._one(cur, sql, ids)

    def close(self) -> None:
        with self._lock:
            self._conn.close()
