from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.lambda_stack import LambdaStack, moto_server


@pytest.fixture
def moto_url() -> Iterator[str]:
    server, url = moto_server()
    try:
        yield url
    finally:
        server.stop()


@pytest.fixture
def stack(tmp_path: Path, moto_url: str) -> Iterator[LambdaStack]:
    s = LambdaStack(tmp_path, f"sqlite:///{tmp_path / 'cp.db'}", moto_url, moto_url).start()
    try:
        yield s
    finally:
        s.stop()
