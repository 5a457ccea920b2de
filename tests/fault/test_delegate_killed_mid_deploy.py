"""SIGKILL the delegate at each step of a deploy; a second delegate finishes it (attempt 2).

The fault proxy lets the chosen AWS call reach moto, then holds the answer: the delegate dies not
knowing the call was applied, which is the hardest case for convergence. Afterwards the history
check holds and the function is exactly as an undisturbed run leaves it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from control_plane.store import open_store
from tests.harness import wait_until
from tests.support.aws_fault_proxy import AwsFaultProxy, Rule
from tests.support.history import History, check_tasks, check_versions, lambda_state, record
from tests.support.lambda_stack import LambdaStack, app_zip, moto_server, shop_config

STEPS = {
    "resolve": r"GET /shop-artifacts\?",
    "snapshot": r"GET /2015-03-31/functions/shop-orders-dev(\?|$)",
    "update-code": r"PUT /2015-03-31/functions/shop-orders-dev/code",
    "update-config": r"PUT /2015-03-31/functions/shop-orders-dev/configuration",
    "publish": r"POST /2015-03-31/functions/shop-orders-dev/versions",
    "alias": r"/2015-03-31/functions/shop-orders-dev/aliases/dev",
    "tags": r"(POST|DELETE) /2017-03-31/tags/",
}


@pytest.fixture
def moto_url() -> Iterator[str]:
    server, url = moto_server()
    try:
        yield url
    finally:
        server.stop()


def _put(stack: LambdaStack, key: str, body: bytes) -> None:
    s3 = stack.client("s3")
    if not s3.list_buckets()["Buckets"]:
        s3.create_bucket(Bucket="shop-artifacts")
        s3.put_bucket_versioning(Bucket="shop-artifacts", VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket="shop-artifacts", Key=key, Body=body)


def _execution(stack: LambdaStack, execution_id: str) -> dict[str, object]:
    doc: dict[str, object] = json.loads(stack.cli("executions", "get", execution_id, "-o", "json").stdout)
    return doc


@pytest.mark.parametrize("step", sorted(STEPS))
def test_kill_delegate_at_step(step: str, db_url: str, tmp_path: Path, moto_url: str) -> None:
    proxy = AwsFaultProxy(moto_url).start()
    stack = LambdaStack(tmp_path, db_url, moto_url, proxy.url).start()
    try:
        lam = stack.client("lambda")
        # A reference run without faults, in another application (so another function).
        assert stack.apply_yaml(shop_config(app="ref"), "ref.yaml").returncode == 0
        # v1 under a changed configuration, so the faulted run has code, config, publish, alias and tag work.
        assert stack.apply_yaml(shop_config(memory=256, env_override="LOG_LEVEL: warn"), "shop.yaml").returncode == 0
        _put(stack, "orders/orders-1.zip", app_zip("v1"))
        for app in ("ref", "shop"):
            code, _, err = stack.deploy("orders-dev", app)
            assert code == 0, err
        lam.tag_resource(
            Resource=lam.get_function(FunctionName="shop-orders-dev")["Configuration"]["FunctionArn"],
            Tags={"stale": "yes"},
        )
        assert stack.apply_yaml(shop_config(), "shop.yaml").returncode == 0
        _put(stack, "orders/orders-2.zip", app_zip("v2"))
        code, ref_doc, err = stack.deploy("orders-dev", "ref")
        assert code == 0, err

        rule = Rule(path=STEPS[step], delay_after=60, count=1)
        proxy.rules.append(rule)
        proc = stack.cli("deploy", "orders-dev", "--app", "shop", "--no-wait", "-o", "json")
        execution_id = json.loads(proc.stdout)["id"]
        wait_until(lambda: rule.hits == 1, 30, message=f"the delegate to reach step {step}")
        stack.delegates[0].kill()
        stack.add_delegate("d2")
        wait_until(
            lambda: _execution(stack, execution_id)["status"] in {"SUCCEEDED", "FAILED", "ROLLED_BACK"},
            60,
            message="the execution to end on the second delegate",
        )
        doc = _execution(stack, execution_id)
        assert doc["status"] == "SUCCEEDED", doc

        store = open_store(db_url)
        try:
            history = check_tasks(store, History())
            deploy_task = next(t for t in store.list_tasks(100, execution_id) if t.type == "lambda.deploy")
        finally:
            store.close()
        check_versions(lam, ["shop-orders-dev", "ref-orders-dev"], history)
        history.check()
        if step != "resolve":
            assert deploy_task.attempt == 2  # the killed attempt never reported; the second one did
        assert lambda_state(lam, "shop-orders-dev") == lambda_state(lam, "ref-orders-dev")
        shop_versions = [
            v["Version"] for v in lam.list_versions_by_function(FunctionName="shop-orders-dev")["Versions"]
        ]
        assert shop_versions == ["$LATEST", "1", "2"]  # one version for this execution, never two
        assert ref_doc["functions"][0]["codeSha256"] == doc["functions"][0]["codeSha256"], doc  # type: ignore[index]
        record(f"[fault] kill-delegate@{step}: faults=1 {history.summary()}")
    finally:
        stack.stop()
        proxy.stop()


def test_attempt_2_rolls_back_to_the_state_before_attempt_1(db_url: str, tmp_path: Path, moto_url: str) -> None:
    """Attempt 1 moves the alias and dies; attempt 2 fails later: the rollback restores the state from
    before attempt 1 (checkpointed with the control plane), not the half-done state attempt 2 found."""
    proxy = AwsFaultProxy(moto_url).start()
    stack = LambdaStack(tmp_path, db_url, moto_url, proxy.url).start()
    try:
        lam = stack.client("lambda")
        assert stack.apply_yaml(shop_config(), "shop.yaml").returncode == 0
        _put(stack, "orders/orders-1.zip", app_zip("v1"))
        code, _, err = stack.deploy("orders-dev", "shop")
        assert code == 0, err
        arn = lam.get_function(FunctionName="shop-orders-dev")["Configuration"]["FunctionArn"]
        lam.tag_resource(Resource=arn, Tags={"stray": "yes"})  # so the tag step has work to do
        before = lambda_state(lam, "shop-orders-dev")
        assert stack.apply_yaml(shop_config(memory=512), "shop.yaml").returncode == 0
        _put(stack, "orders/orders-2.zip", app_zip("v2"))
        hold = Rule(path=STEPS["alias"], delay_after=60, count=1)
        refuse_tags = Rule(
            path=r"DELETE /2017-03-31/tags/",
            status=400,
            code="InvalidParameterValueException",
            message="injected: tags refused",
            count=1,
        )
        proxy.rules.append(hold)
        proc = stack.cli("deploy", "orders-dev", "--app", "shop", "--no-wait", "-o", "json")
        execution_id = json.loads(proc.stdout)["id"]
        wait_until(lambda: hold.hits == 1, 30, message="attempt 1 to move the alias")
        stack.delegates[0].kill()
        assert lam.get_alias(FunctionName="shop-orders-dev", Name="dev")["FunctionVersion"] == "2"
        proxy.rules.append(refuse_tags)
        stack.add_delegate("d2")
        wait_until(
            lambda: _execution(stack, execution_id)["status"] in {"SUCCEEDED", "FAILED", "ROLLED_BACK"},
            60,
            message="attempt 2 to end",
        )
        doc = _execution(stack, execution_id)
        assert doc["status"] == "ROLLED_BACK", doc
        after = lambda_state(lam, "shop-orders-dev")
        # Alias back to version 1 (serving v1 code), memory back to 128, tags as they were. $LATEST keeps the
        # new code: Lambda cannot copy code between versions, and traffic goes through the alias.
        assert {k: v for k, v in after.items() if k != "codeSha256"} == {
            k: v for k, v in before.items() if k != "codeSha256"
        }
        store = open_store(db_url)
        try:
            task = next(t for t in store.list_tasks(100, execution_id) if t.type == "lambda.deploy")
            history = check_tasks(store, History())
        finally:
            store.close()
        assert task.attempt == 2 and task.checkpoint  # the checkpoint came from attempt 1
        history.check()
        record(f"[fault] attempt-2-rollback-to-checkpoint: faults={proxy.faults} {history.summary()}")
    finally:
        stack.stop()
        proxy.stop()
