"""One moto server, control plane and delegate per test (safe under pytest-xdist: nothing is shared)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.integration.triggers.kit import TriggerStack
from tests.support.lambda_stack import moto_server


@pytest.fixture
def moto_url() -> Iterator[str]:
    server, url = moto_server()
    try:
        yield url
    finally:
        server.stop()


@pytest.fixture
def make_stack(tmp_path: Path, moto_url: str) -> Iterator[Callable[[float], TriggerStack]]:
    """Start the stack with an artifact poll interval (seconds) chosen by the test."""
    started: list[TriggerStack] = []

    def make(poll_interval: float) -> TriggerStack:
        stack = TriggerStack(tmp_path, f"sqlite:///{tmp_path / 'cp.db'}", moto_url, moto_url)
        stack.poll_interval = poll_interval
        started.append(stack)
        return stack.start()

    yield make
    for stack in started:
        stack.stop()
