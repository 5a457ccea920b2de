"""`outrider triggers pause|resume|fire|list` through the real CLI, and cron triggers' schedule."""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable

from tests.harness import wait_until
from tests.integration.triggers.kit import APP, TRIGGER, TriggerStack, trigger_config
from tests.support.lambda_stack import app_zip

NIGHTLY = """---
kind: Trigger
application: shop
name: nightly
spec:
  workflow: orders-dev
  on:
    cron: "30 3 * * 1-5"
"""


def test_pause_stops_deployments_resume_restarts_and_fire_deploys_latest(
    make_stack: Callable[[float], TriggerStack],
) -> None:
    stack = make_stack(1.0)
    stack.put("orders/orders-1.zip", app_zip("v1"))
    assert stack.apply_yaml(trigger_config(extra=NIGHTLY)).returncode == 0
    stack.wait_baseline(1)

    paused = stack.cli("triggers", "pause", TRIGGER, "--app", APP, "-o", "json")
    assert paused.returncode == 0, paused.stderr
    assert json.loads(paused.stdout)["paused"] is True and json.loads(paused.stdout)["pausedBy"] == "admin"

    stack.put("orders/orders-2.zip", app_zip("v2"))
    # Still collected while paused (the version is seen), but nothing is deployed.
    wait_until(lambda: stack.trigger()["seenVersions"] == 2, 20, interval=0.1, message="v2 to be collected")
    stack.wait_collections(2)
    assert stack.triggered() == []
    doc = stack.trigger()
    assert doc["status"] == "paused" and doc["skippedWhilePaused"] == 1

    resumed = stack.cli("triggers", "resume", TRIGGER, "--app", APP)
    assert resumed.returncode == 0, resumed.stderr
    assert "resumed" in resumed.stderr
    v3_id = stack.put("orders/orders-3.zip", app_zip("v3"))
    [run] = wait_until(stack.triggered, 20, message="a deployment after resume")
    assert stack.wait_ended(run["id"])["artifact"]["version"] == f"orders/orders-3.zip@{v3_id}"
    stack.wait_collections(2)
    assert len(stack.triggered()) == 1  # v2, seen while paused, is never deployed

    # fire: the latest version, now, recorded as started by the trigger on behalf of the operator.
    fired = stack.cli("triggers", "fire", "nightly", "--app", APP, "-o", "json")
    assert fired.returncode == 0, fired.stderr
    execution = json.loads(fired.stdout)
    assert execution["cause"] == {
        "type": "trigger",
        "by": "admin",
        "trigger": "nightly",
        "detail": "fired by admin",
    }
    ended = stack.wait_ended(execution["id"])
    assert ended["status"] == "SUCCEEDED" and ended["artifact"]["version"] == "orders/orders-3.zip"
    assert ended["changed"] is False  # v3 is deployed already

    audit = json.loads(stack.cli("audit", "-o", "json").stdout)
    actions = [(a["action"], a["target"], a["result"]) for a in audit]
    for action, target in [
        ("trigger.pause", f"{APP}/{TRIGGER}"),
        ("trigger.resume", f"{APP}/{TRIGGER}"),
        ("trigger.fire", f"{APP}/nightly"),
    ]:
        assert (action, target, "ok") in actions


def test_cron_trigger_listed_with_next_run_and_bad_requests_exit_2(
    make_stack: Callable[[float], TriggerStack],
) -> None:
    stack = make_stack(1.0)
    stack.put("orders/orders-1.zip", app_zip("v1"))
    config = trigger_config(extra=NIGHTLY + NIGHTLY.replace("name: nightly", "name: frozen") + "  paused: true\n")
    assert stack.apply_yaml(config).returncode == 0

    listed = stack.cli("triggers", "list", "--app", APP, "-o", "json")
    assert listed.returncode == 0, listed.stderr
    docs = {d["name"]: d for d in json.loads(listed.stdout)}
    nightly = docs["nightly"]
    assert nightly["kind"] == "cron" and nightly["schedule"] == "30 3 * * 1-5 (UTC)"
    assert nightly["paused"] is False and nightly["seenVersions"] is None
    next_run = datetime.datetime.fromtimestamp(nightly["nextRun"] / 1000, datetime.UTC)
    assert (next_run.hour, next_run.minute, next_run.second) == (3, 30, 0)
    assert next_run.isoweekday() in range(1, 6)  # Monday..Friday: cron's 1-5
    assert next_run - datetime.datetime.now(datetime.UTC) <= datetime.timedelta(days=3, minutes=1)
    assert docs["frozen"]["paused"] is True and docs["frozen"]["pausedBy"] == "configuration"
    assert docs["frozen"]["nextRun"] is None

    table = stack.cli_wide("triggers", "list", "--app", APP)
    assert table.returncode == 0, table.stderr
    for column in ("LAST RUN", "LAST SUCCESS", "NEXT RUN", "LAST ERROR", "SEEN", "30 3 * * 1-5 (UTC)", "yes"):
        assert column in table.stdout

    resume = stack.cli("triggers", "resume", "frozen", "--app", APP)
    assert resume.returncode == 2 and "spec.paused" in resume.stderr
    missing = stack.cli("triggers", "fire", "nope", "--app", APP)
    assert missing.returncode == 2 and "Trigger shop/nope does not exist" in missing.stderr
    no_app = stack.cli("triggers", "pause", TRIGGER)
    assert no_app.returncode == 2
    assert stack.cli("triggers", "list", "--app", "other", "-o", "json").stdout.strip() == "[]"
