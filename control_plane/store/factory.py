"""Open a store from a database URL: sqlite:///ABS/PATH.db or postgresql://..."""

from __future__ import annotations

from pathlib import Path

from control_plane.store.base import Store, StoreError


class BadDatabaseUrl(StoreError):
    pass


def open_store(url: str) -> Store:
    if url.startswith("sqlite:///"):
        path = Path(url[len("sqlite:///") - 1 :]) if url.startswith("sqlite:////") else Path(url[len("sqlite:///") :])
        if not path.is_absolute():
            path = Path.cwd() / path
        from control_plane.store.sqlite import SqliteStore

        return SqliteStore(path)
    if url.startswith(("postgresql://", "postgres://")):
        from control_plane.store.postgres import PostgresStore

        return PostgresStore(url)
    raise BadDatabaseUrl(f"--db: unsupported database URL {url!r}; use sqlite:///ABS/PATH.db or postgresql://...")
