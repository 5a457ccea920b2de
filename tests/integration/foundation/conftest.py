from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness import Operator, ServerProcess, admin_init

FAST = ["--lease-seconds", "2", "--heartbeat-seconds", "0.5", "--poll-timeout-seconds", "5"]


@pytest.fixture
def server(db_url: str, tmp_path: Path) -> Iterator[ServerProcess]:
    srv = ServerProcess(db_url, tmp_path, extra=FAST)
    srv.api_key = admin_init(db_url)  # type: ignore[attr-defined]
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def operator(server: ServerProcess) -> Iterator[Operator]:
    op = Operator(server.address, server.api_key)  # type: ignore[attr-defined]
    try:
        yield op
    finally:
        op.close()
