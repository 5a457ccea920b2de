"""PostgreSQL store (psycopg 3 with a connection pool), for several control plane replicas.

Claims lock exactly one candidate row with FOR UPDATE SKIP LOCKED, so concurrent pollers on
any replica never wait for each other and never lease the same task twice.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from control_plane.store.models import TaskRow
from control_plane.store.sql import Cursor, Row, SqlStore

CHANNEL = "outrider_tasks"


class PostgresStore(SqlStore):
    dialect = "postgresql"

    def __init__(self, dsn: str, *, min_size: int = 1, max_size: int = 8) -> None:
        self._dsn = dsn
        self._closed = threading.Event()
        self._listener: psycopg.Connection[Any] | None = None
        self._pool = ConnectionPool(
            dsn,
            min_size=min_size,
            max_size=max_size,
            kwargs={"row_factory": dict_row, "autocommit": False},
            open=True,
            timeout=30,
        )

    def _q(self, sql: str) -> str:
        return sql.replace("%", "%%").replace("?", "%s")

    @contextmanager
    def _tx(self, write: bool = True) -> Iterator[Cursor]:
        with self._pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
            yield cur

    def _claim_one(self, cur: Cursor, ids: list[str]) -> Row | None:
        return self._one(
            cur,
            "SELECT * FROM tasks WHERE id = ANY(?) AND state = 'QUEUED' ORDER BY seq LIMIT 1 FOR UPDATE SKIP LOCKED",
            (ids,),
        )

    def _announce(self, cur: Cursor, task: TaskRow) -> None:
        # Delivered when the transaction commits, to every replica listening (see listen_for_tasks).
        payload = json.dumps({"type": task.type, "selectors": list(task.selectors)})
        self._exec(cur, "SELECT pg_notify(?, ?)", (CHANNEL, payload))

    def listen_for_tasks(self, callback: Callable[[str, frozenset[str]], None]) -> None:
        thread = threading.Thread(target=self._listen, args=(callback,), name="pg-listen", daemon=True)
        thread.start()

    def _listen(self, callback: Callable[[str, frozenset[str]], None]) -> None:
        """A dedicated connection waiting for NOTIFY; reconnects after errors until the store closes."""
        while not self._closed.is_set():
            try:
                with psycopg.connect(self._dsn, autocommit=True) as conn:
                    self._listener = conn
                    conn.execute(f"LISTEN {CHANNEL}")
                    for note in conn.notifies():
                        if self._closed.is_set():
                            return
                        try:
                            doc = json.loads(note.payload)
                            callback(str(doc["type"]), frozenset(doc["selectors"]))
                        except (ValueError, KeyError, TypeError):
                            continue
            except psycopg.Error:
                if self._closed.wait(1.0):
                    return

    def close(self) -> None:
        self._closed.set()
        listener = self._listener
        if listener is not None:
            with contextlib.suppress(psycopg.Error):
                listener.cancel_safe()
        self._pool.close()
