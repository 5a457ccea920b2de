"""Fixtures for the security tests: a control plane on SQLite with an admin key, and raw delegates.

Hostile-input tests report how many hypothesis examples they ran with `record_examples` (see
tests/support/example_counts.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from tests.harness import Operator, ServerProcess, admin_init
from tests.integration.security.kit import FAST, RawDelegate
from tests.support.example_counts import (  # noqa: F401 - fixture and hooks used by pytest
    pytest_runtest_logreport,
    pytest_terminal_summary,
    record_examples,
)


@dataclass
class ControlPlane:
    server: ServerProcess
    db_url: str
    api_key: str
    admin: Operator
    delegates: list[RawDelegate] = field(default_factory=list)

    @property
    def address(self) -> str:
        return self.server.address

    def delegate(self, token: str) -> RawDelegate:
        raw = RawDelegate(self.address, token)
        self.delegates.append(raw)
        return raw


@pytest.fixture(scope="module")
def cp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    """One control plane per test module (per xdist worker); tests use names of their own (`unique`)."""
    workdir = tmp_path_factory.mktemp("cp")
    db_url = f"sqlite:///{workdir / 'cp.db'}"
    api_key = admin_init(db_url)
    server = ServerProcess(db_url, workdir, extra=FAST).start()
    plane = ControlPlane(server, db_url, api_key, Operator(server.address, api_key))
    try:
        yield plane
    finally:
        for raw in plane.delegates:
            raw.close()
        plane.admin.close()
        server.stop()
