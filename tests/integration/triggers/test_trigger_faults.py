"""Triggers when things go wrong: the control plane is killed mid-way, the artifact source fails."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from tests.harness import wait_until
from tests.integration.triggers.kit import APP, FN, TRIGGER, TriggerStack, code_sha256, trigger_config
from tests.support.lambda_stack import app_zip


@pytest.mark.fault
def test_restart_between_collection_and_deployment_neither_loses_nor_repeats(
    make_stack: Callable[[float], TriggerStack],
) -> None:
    # Deployments need a delegate with selectors aws AND deploy; the only one running has just aws,
    # so listings and resolves run but a deployment waits: that holds the trigger between
    # "version collected" and "deployment started" for as long as the test needs.
    stack = make_stack(1.0)
    stack.put("orders/orders-1.zip", app_zip("v1"))
    assert stack.apply_yaml(trigger_config(deployer_selectors="[aws, deploy]")).returncode == 0
    stack.wait_baseline(1)

    stack.put("orders/orders-2.zip", app_zip("v2"))
    [first] = wait_until(stack.triggered, 20, message="the trigger to start v2's deployment")
    v3 = app_zip("v3")
    v3_id = stack.put("orders/orders-3.zip", v3)
    # v3 is collected: recorded durably as a start to make once v2's deployment has ended.
    wait_until(
        lambda: [p["version"] for p in stack.trigger()["pending"]] == ["orders/orders-3.zip"],
        20,
        interval=0.1,
        message="v3 to be collected and waiting",
    )
    assert len(stack.triggered()) == 1

    stack.restart_control_plane()
    stack.add_delegate_with("d2", ("aws", "deploy"))

    def both_ended() -> list[dict[str, object]] | None:
        runs = stack.triggered()
        return runs if len(runs) >= 2 and all(r["status"] == "SUCCEEDED" for r in runs) else None

    runs = wait_until(both_ended, 60, interval=0.2, message="v2's and v3's deployments to succeed")
    assert runs[0]["id"] == first["id"]
    assert runs[1]["artifact"]["version"] == f"orders/orders-3.zip@{v3_id}"
    assert stack.client("lambda").get_function_configuration(FunctionName=FN)["CodeSha256"] == code_sha256(v3)
    stack.wait_collections(2)
    assert len(stack.triggered()) == 2
    assert stack.trigger()["pending"] == []


def test_failing_source_shows_its_error_and_recovers(make_stack: Callable[[float], TriggerStack]) -> None:
    stack = make_stack(1.0)
    assert stack.apply_yaml(trigger_config(bucket="not-created-yet")).returncode == 0

    failing = wait_until(
        lambda: (t := stack.trigger())["status"] == "failing" and t["consecutiveFailures"] >= 2 and t,
        30,
        interval=0.1,
        message="the collection to fail visibly",
    )
    assert "not found" in failing["lastError"] and "s3://not-created-yet" in failing["lastError"]
    assert failing["lastErrorAt"] and failing["nextRun"] and failing["lastSuccess"] is None
    table = stack.cli_wide("triggers", "list", "--app", APP)
    assert table.returncode == 0, table.stderr
    assert "failing" in table.stdout and "not found" in table.stdout and TRIGGER in table.stdout

    # Fixed: the bucket appears. Collection recovers on its own (backoff is capped, never disabled).
    stack.put("orders/orders-1.zip", app_zip("v1"), bucket="not-created-yet")
    recovered = stack.wait_baseline(1, timeout=30)
    assert recovered["status"] == "ok" and recovered["lastError"] is None
    assert recovered["consecutiveFailures"] == 0 and recovered["lastSuccess"]

    v2_id = stack.put("orders/orders-2.zip", app_zip("v2"), bucket="not-created-yet")
    [run] = wait_until(stack.triggered, 20, message="a deployment after recovery")
    assert stack.wait_ended(run["id"])["artifact"]["version"] == f"orders/orders-2.zip@{v2_id}"
    listed = json.loads(stack.cli("triggers", "list", "--app", APP, "-o", "json").stdout)
    assert listed[0]["lastError"] is None and listed[0]["seenVersions"] == 2
