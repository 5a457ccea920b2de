"""Fixtures shared by every tier: stores on both databases."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from control_plane.store import Store, open_store
from tests import pg


def _require_pg() -> None:
    if not pg.available():
        if os.environ.get("CI") or os.environ.get("OUTRIDER_TEST_POSTGRES_DSN"):
            pytest.fail("PostgreSQL is required here but does not answer at " + pg.base_dsn())
        pytest.skip("PostgreSQL not reachable")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database URL for an empty database, once per store implementation."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'outrider.db'}"
        return
    _require_pg()
    with pg.fresh_schema() as dsn:
        yield dsn


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    s = open_store(db_url)
    s.migrate()
    try:
        yield s
    finally:
        s.close()
