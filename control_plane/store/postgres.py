"""PostgreSQL store (psycopg 3 with a connection pool), for several control plane replicas.

Claims lock exactly one candidate row with FOR UPDATE SKIP LOCKED, so concurrent pollers on
any replica never wait for each other and never lease the same task twice.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from control_plane.store.sql import Cursor, Row, SqlStore


class PostgresStore(SqlStore):
    dialect = "postgresql"

    def __init__(self, dsn: str, *, min_size: int = 1, max_size: int = 8) -> None:
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

    def close(self) -> None:
        self._pool.close()
