"""Two control plane processes on one PostgreSQL database: each version deploys once, in order,
and the source is listed once per interval, not once per replica."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.pb.outrider.v1 import operator_pb2
from tests.harness import ServerProcess, wait_until
from tests.integration.triggers.kit import TriggerStack, trigger_config
from tests.support.lambda_stack import FAST, app_zip

INTERVAL = 1.0


@pytest.fixture
def two_replicas(db_url: str, tmp_path: Path, moto_url: str) -> Iterator[TriggerStack]:
    """The stack's control plane (the delegate talks to it) plus a second one on the same database."""
    stack = TriggerStack(tmp_path, db_url, moto_url, moto_url)
    stack.poll_interval = INTERVAL
    second = ServerProcess(db_url, tmp_path / "replica-b", extra=[*FAST, "--artifact-poll-interval", str(INTERVAL)])
    second.workdir.mkdir()
    try:
        stack.start()
        second.start()
        yield stack
    finally:
        second.stop()
        stack.stop()


def _list_tasks_created(stack: TriggerStack, since_ms: int) -> int:
    assert stack.operator is not None
    tasks = stack.operator.ListTasks(operator_pb2.ListTasksRequest(limit=1000)).tasks
    return sum(1 for t in tasks if t.type == "artifact.list" and t.created_at_ms >= since_ms)


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_two_replicas_deploy_each_version_once_and_collect_once_per_interval(two_replicas: TriggerStack) -> None:
    stack = two_replicas
    stack.put("orders/orders-0.zip", app_zip("v0"))
    assert stack.apply_yaml(trigger_config()).returncode == 0
    stack.wait_baseline(1)

    since = int(time.time() * 1000)
    keys = [f"orders/orders-{n}.zip" for n in range(1, 4)]
    ids = [stack.put(key, app_zip(f"v{n}")) for n, key in enumerate(keys, start=1)]

    def ended() -> list[dict[str, object]] | None:
        runs = stack.triggered()
        return runs if len(runs) >= 3 and all(r["status"] == "SUCCEEDED" for r in runs) else None

    runs = wait_until(ended, 60, interval=0.2, message="three triggered deployments")
    stack.wait_collections(3)
    runs = stack.triggered()
    assert [r["artifact"]["version"] for r in runs] == [f"{k}@{v}" for k, v in zip(keys, ids, strict=True)]

    elapsed_s = (time.time() * 1000 - since) / 1000
    rounds = _list_tasks_created(stack, since)
    # One replica collecting alone makes about elapsed/interval rounds; two uncoordinated would double it.
    assert rounds <= elapsed_s / INTERVAL * 1.3 + 2, f"{rounds} listings in {elapsed_s:.1f}s"
