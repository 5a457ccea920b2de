"""CONTRACT §4 through the real CLI, control plane and delegate, against moto over HTTP."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.aws_fault_proxy import AwsFaultProxy, Rule
from tests.support.lambda_stack import LambdaStack, app_zip, shop_config

FN = "shop-orders-dev"


def _put(stack: LambdaStack, key: str, body: bytes, bucket: str = "shop-artifacts") -> None:
    s3 = stack.client("s3")
    if bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
        s3.create_bucket(Bucket=bucket)
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket=bucket, Key=key, Body=body)


def _versions(stack: LambdaStack, fn: str = FN) -> list[str]:
    return [v["Version"] for v in stack.client("lambda").list_versions_by_function(FunctionName=fn)["Versions"]]


def _alias(stack: LambdaStack, name: str = "dev", fn: str = FN) -> str:
    return str(stack.client("lambda").get_alias(FunctionName=fn, Name=name)["FunctionVersion"])


def test_deploy_redeploy_noop_override_and_rollback(stack: LambdaStack) -> None:
    assert stack.apply_yaml(shop_config()).returncode == 0
    _put(stack, "orders/orders-1.zip", app_zip("v1"))
    lam = stack.client("lambda")

    code, first, err = stack.deploy("orders-dev", "shop")
    assert code == 0, err
    assert first["status"] == "SUCCEEDED"
    assert first["artifact"]["version"] == "orders/orders-1.zip" and len(first["artifact"]["sha256"]) == 64
    assert first["functions"] == [
        {
            "name": FN,
            "version": "1",
            "codeSha256": first["functions"][0]["codeSha256"],
            "changed": True,
            "aliases": {"dev": "1"},
        }
    ]
    assert [s["status"] for s in first["steps"]] == ["SUCCEEDED", "SUCCEEDED"] and first["rollback"] is None
    config = lam.get_function_configuration(FunctionName=FN)
    assert config["Environment"]["Variables"] == {"LOG_LEVEL": "debug", "GREETING": "hello"}  # override merged
    assert lam.list_tags(Resource=config["FunctionArn"])["Tags"] == {"team": "orders"}
    assert (
        f"outrider execution {first['id']}"
        in lam.get_function_configuration(FunctionName=FN, Qualifier="1")["Description"]
    )

    _put(stack, "orders/orders-2.zip", app_zip("v2"))
    code, second, err = stack.deploy("orders-dev", "shop")
    assert code == 0, err
    assert second["functions"][0]["version"] == "2" and _alias(stack) == "2"
    assert second["artifact"]["version"] == "orders/orders-2.zip"

    code, same, err = stack.deploy("orders-dev", "shop")
    assert code == 0, err
    assert same["changed"] is False and same["functions"][0]["changed"] is False
    assert _versions(stack) == ["$LATEST", "1", "2"]  # nothing published

    assert stack.apply_yaml(shop_config(memory=256)).returncode == 0
    code, bigger, err = stack.deploy("orders-dev", "shop")
    assert code == 0, err
    assert bigger["functions"][0]["version"] == "3"
    assert bigger["functions"][0]["codeSha256"] == second["functions"][0]["codeSha256"]  # code untouched
    assert lam.get_function_configuration(FunctionName=FN)["MemorySize"] == 256

    lam.tag_resource(Resource=config["FunctionArn"], Tags={"stray": "x"})
    proc = stack.cli("rollback", bigger["id"], "-o", "json")
    assert proc.returncode == 0, proc.stderr
    rolled = json.loads(proc.stdout)
    assert rolled["status"] == "SUCCEEDED" and rolled["kind"] == "rollback"
    assert _alias(stack) == "2"
    assert lam.get_function_configuration(FunctionName=FN)["MemorySize"] == 128
    assert lam.list_tags(Resource=config["FunctionArn"])["Tags"] == {"team": "orders"}

    listed = json.loads(stack.cli("executions", "list", "--app", "shop", "-o", "json").stdout)
    assert [e["id"] for e in listed][:2] == [rolled["id"], bigger["id"]]
    logs = stack.cli("logs", second["id"])
    assert logs.returncode == 0
    assert "── Publish version" in logs.stdout and "published version 2" in logs.stdout


def test_failure_in_second_function_rolls_both_back(tmp_path: Path, moto_url: str) -> None:
    # The second function's configuration update is refused by "AWS" (the proxy), after its code changed.
    proxy = AwsFaultProxy(
        moto_url,
        rules=[
            Rule(
                path=r"PUT /2015-03-31/functions/shop-orders-b-dev/configuration",
                status=400,
                code="InvalidParameterValueException",
                message="injected: configuration refused",
            ),
        ],
    ).start()
    stack = LambdaStack(tmp_path, f"sqlite:///{tmp_path / 'cp.db'}", moto_url, proxy.url).start()
    try:
        two = """
    - name: "${app.name}-${service.name}-a-${env.name}"
      runtime: python3.12
      handler: app.handler
    - name: "${app.name}-${service.name}-b-${env.name}"
      runtime: python3.12
      handler: app.handler
"""
        assert stack.apply_yaml(shop_config(functions=two)).returncode == 0
        _put(stack, "orders/orders-1.zip", app_zip("v1"))
        code, _, err = stack.deploy("orders-dev", "shop")
        assert code == 0, err
        assert stack.apply_yaml(shop_config(functions=two, memory=512)).returncode == 0
        _put(stack, "orders/orders-2.zip", app_zip("v2"))
        code, failed, err = stack.deploy("orders-dev", "shop")
        assert code == 1
        assert failed["status"] == "ROLLED_BACK"
        assert failed["rollback"]["status"] == "SUCCEEDED"
        assert sorted(failed["rollback"]["functions"]) == ["shop-orders-a-dev", "shop-orders-b-dev"]
        assert "configuration refused" in failed["error"]
        lam = stack.client("lambda")
        for fn in ("shop-orders-a-dev", "shop-orders-b-dev"):
            assert _alias(stack, fn=fn) == "1"
            assert lam.get_function_configuration(FunctionName=fn)["MemorySize"] == 128
        # The first function had published version 2 before the second failed; the alias no longer uses it.
        assert _versions(stack, "shop-orders-a-dev") == ["$LATEST", "1", "2"]
        assert _versions(stack, "shop-orders-b-dev") == ["$LATEST", "1"]
        assert proxy.faults >= 1
    finally:
        stack.stop()
        proxy.stop()


def test_assume_role_with_external_id(stack: LambdaStack) -> None:
    role = (
        '\n  credentials:\n    assumeRole: {roleArn: "arn:aws:iam::123456789012:role/deployer", externalId: "ext-42"}'
    )
    assert stack.apply_yaml(shop_config(credentials=role)).returncode == 0
    _put(stack, "orders/orders-1.zip", app_zip("v1"))
    code, doc, err = stack.deploy("orders-dev", "shop", "--follow")
    assert code == 0, err
    assert doc["status"] == "SUCCEEDED"
    delegate_log = stack.delegates[0].log_text()
    assert "testing-secret" not in delegate_log
    # The task payload the control plane stored describes the role; it holds no key material.
    import sqlite3

    db = sqlite3.connect(str(stack.workdir / "cp.db"))
    payloads = b"".join(row[0] for row in db.execute("SELECT payload FROM tasks"))
    assert b"ext-42" in payloads and b"AccessKeyId" not in payloads and b"SecretAccessKey" not in payloads
    db.close()


def test_missing_artifact_version_is_exit_2_and_changes_nothing(stack: LambdaStack) -> None:
    assert stack.apply_yaml(shop_config()).returncode == 0
    _put(stack, "orders/orders-1.zip", app_zip("v1"))
    code, doc, err = stack.deploy("orders-dev", "shop", "--artifact", "orders/orders-9.zip")
    assert code == 2
    assert "orders/orders-9.zip" in err and err.strip().count("\n") == 0
    assert doc["status"] == "FAILED"
    assert stack.client("lambda").list_functions()["Functions"] == []
