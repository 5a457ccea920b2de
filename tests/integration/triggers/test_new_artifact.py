"""newArtifact triggers through a real control plane and delegate, against moto over HTTP."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from tests.harness import wait_until
from tests.integration.triggers.kit import APP, FN, TRIGGER, TriggerStack, code_sha256, trigger_config
from tests.support.lambda_stack import app_zip

KEY = "orders/orders-1.zip"


def test_new_version_deploys_exactly_once_within_two_intervals(make_stack: Callable[[float], TriggerStack]) -> None:
    interval = 3.0
    stack = make_stack(interval)
    stack.put(KEY, app_zip("v1"))
    assert stack.apply_yaml(trigger_config()).returncode == 0

    # What exists when the trigger is created is a baseline, not something to deploy.
    stack.wait_baseline(1)
    assert stack.triggered() == []

    # A new object version of the same key (a versioned bucket) is a new version.
    v2 = app_zip("v2")
    uploaded_at = int(time.time() * 1000)
    v2_id = stack.put(KEY, v2)
    [started] = wait_until(stack.triggered, 4 * interval, interval=0.05, message="the trigger to start a deployment")
    assert started["createdAt"] - uploaded_at <= 2 * interval * 1000, "not started within two collection intervals"
    assert started["cause"]["type"] == "trigger" and started["cause"]["trigger"] == TRIGGER
    ended = stack.wait_ended(started["id"])
    assert ended["status"] == "SUCCEEDED", ended.get("error")
    # Pinned to the object version that was uploaded, not to whatever the key holds later.
    assert ended["artifact"]["version"] == f"{KEY}@{v2_id}"
    lam = stack.client("lambda")
    assert lam.get_function_configuration(FunctionName=FN)["CodeSha256"] == code_sha256(v2)

    # Later collections list the same versions again: nothing more starts.
    stack.wait_collections(2)
    assert [e["id"] for e in stack.triggered()] == [started["id"]]

    listed = stack.cli("triggers", "list", "--app", APP, "-o", "json")
    assert listed.returncode == 0, listed.stderr
    [doc] = json.loads(listed.stdout)
    assert doc["status"] == "ok" and doc["kind"] == "newArtifact" and doc["lastError"] is None
    assert doc["schedule"] == "every 3s" and doc["source"] == "s3://shop-artifacts/orders/orders-*.zip"
    assert doc["seenVersions"] == 2 and doc["lastExecution"]["id"] == started["id"]
    assert doc["nextRun"] and doc["lastRun"] and doc["lastSuccess"]

    table = stack.cli_wide("executions", "list", "--app", APP)
    assert table.returncode == 0 and TRIGGER in table.stdout  # the CAUSE column names the trigger


def test_ten_uploads_in_a_burst_deploy_in_order_without_duplicates(
    make_stack: Callable[[float], TriggerStack],
) -> None:
    stack = make_stack(1.0)
    stack.put("orders/orders-0.zip", app_zip("v0"))
    assert stack.apply_yaml(trigger_config()).returncode == 0
    stack.wait_baseline(1)

    keys = [f"orders/orders-{n}.zip" for n in range(1, 11)]
    version_ids = [stack.put(key, app_zip(f"v{n}")) for n, key in enumerate(keys, start=1)]

    def all_ended() -> list[dict[str, object]] | None:
        runs = stack.triggered()
        done = len(runs) == len(keys) and all(r["status"] in ("SUCCEEDED", "FAILED", "ROLLED_BACK") for r in runs)
        return runs if done else None

    runs = wait_until(all_ended, 90, interval=0.2, message="ten triggered deployments to end")
    assert [r["status"] for r in runs] == ["SUCCEEDED"] * len(keys)
    assert [r["artifact"]["version"] for r in runs] == [f"{k}@{v}" for k, v in zip(keys, version_ids, strict=True)]

    # Deployed in that order: each published version carries its execution id, oldest first.
    lam = stack.client("lambda")
    published = [v for v in lam.list_versions_by_function(FunctionName=FN)["Versions"] if v["Version"] != "$LATEST"]
    published.sort(key=lambda v: int(v["Version"]))
    assert [next(r["id"] for r in runs if r["id"] in v["Description"]) for v in published] == [r["id"] for r in runs]
    assert lam.get_alias(FunctionName=FN, Name="dev")["FunctionVersion"] == published[-1]["Version"]

    stack.wait_collections(2)
    assert len(stack.triggered()) == len(keys)
