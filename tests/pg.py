"""PostgreSQL for tests: one fresh schema per test, dropped afterwards.

Uses OUTRIDER_TEST_POSTGRES_DSN, else the server on 127.0.0.1:5432 (trust auth, database `test`).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote

import psycopg

DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/test"


def base_dsn() -> str:
    return os.environ.get("OUTRIDER_TEST_POSTGRES_DSN", DEFAULT_DSN)


def available() -> bool:
    try:
        with psycopg.connect(base_dsn(), connect_timeout=3):
            return True
    except psycopg.Error:
        return False


@contextmanager
def fresh_schema() -> Iterator[str]:
    """Yields a DSN whose search_path is a new, empty schema."""
    schema = "t_" + uuid.uuid4().hex[:16]
    with psycopg.connect(base_dsn(), autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")  # name is generated above, never user input
    sep = "&" if "?" in base_dsn() else "?"
    dsn = f"{base_dsn()}{sep}options={quote(f'-csearch_path={schema}')}"
    try:
        yield dsn
    finally:
        with psycopg.connect(base_dsn(), autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
