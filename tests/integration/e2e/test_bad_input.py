"""Bad input: exit code 2, one line naming the file/document/field, and nothing stored or deployed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.lambda_stack import LambdaStack, moto_server, shop_config

GOOD = shop_config()


def _swap(old: str, new: str) -> str:
    assert old in GOOD, old
    return GOOD.replace(old, new, 1)


CASES = {
    "bad-yaml": (GOOD + "\n---\nkind: [unclosed\n", "line"),
    "unknown-field": (_swap("handler: app.handler", "handler: app.handler\n      memroySize: 256"), "memroySize"),
    "memory-64": (_swap("handler: app.handler", "handler: app.handler\n      memorySize: 64"), "memorySize"),
    "timeout-901": (_swap("handler: app.handler", "handler: app.handler\n      timeout: 901"), "timeout"),
    "memory-wrong-type": (_swap("handler: app.handler", 'handler: app.handler\n      memorySize: "big"'), "memorySize"),
    "name-too-long": (
        _swap("- runtime: python3.12", '- name: "${app.name}-' + "x" * 60 + '-${env.name}"\n      runtime: python3.12'),
        "name",
    ),
    "unknown-cloud-provider": (
        _swap("    cloudProvider: aws-dev\n    bucket", "    cloudProvider: aws-nope\n    bucket"),
        "aws-nope",
    ),
    "vpc-empty-subnets": (
        _swap('executionRole: "arn', 'vpc: {subnetIds: [], securityGroupIds: [sg-1]}\n      executionRole: "arn'),
        "subnetIds",
    ),
    "bad-role-arn": (
        _swap("arn:aws:iam::123456789012:role/lambda-exec", "arn:aws:iam::123:role/lambda-exec"),
        "executionRole",
    ),
    "unknown-expression": (_swap("GREETING: hello", 'GREETING: "${oops.name}"'), "oops.name"),
    "unknown-kind": (GOOD + "\n---\nkind: Pipeline\nname: p\nspec: {}\n", "Pipeline"),
    "missing-name": (GOOD + "\n---\nkind: Application\nspec: {}\n", "name"),
    "bad-region": (_swap("region: us-east-1", "region: moon-1"), "region"),
    "bad-runtime": (_swap("runtime: python3.12", "runtime: python2.7"), "runtime"),
    "aws-tag": (_swap("tags: {team: orders}", 'tags: {"aws:owner": me}'), "tags"),
    "unknown-environment": (
        _swap("  environment: dev\n  infrastructure", "  environment: prod\n  infrastructure"),
        "prod",
    ),
    "unknown-infrastructure": (_swap("infrastructure: default\n  rollback", "infrastructure: eu\n  rollback"), "eu"),
    "bad-cron": (
        GOOD + "\n---\nkind: Trigger\napplication: shop\nname: nightly\n"
        'spec:\n  workflow: orders-dev\n  on:\n    cron: "61 3 * * *"\n',
        "cron",
    ),
    "duplicate-document": (GOOD + "\n---\nkind: Application\nname: shop\n", "shop"),
    "env-var-bad-key": (_swap("GREETING: hello", "9GREETING: hello"), "9GREETING"),
}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LambdaStack]:
    workdir = tmp_path_factory.mktemp("bad-input")
    server, url = moto_server()
    s = LambdaStack(workdir, f"sqlite:///{workdir / 'cp.db'}", url, url).start()
    try:
        yield s
    finally:
        s.stop()
        server.stop()


@pytest.mark.parametrize("case", sorted(CASES))
def test_apply_refuses_bad_input_and_stores_nothing(stack: LambdaStack, case: str) -> None:
    text, needle = CASES[case]
    proc = stack.apply_yaml(text, name=f"{case}.yaml")
    assert proc.returncode == 2, proc.stderr
    line = proc.stderr.strip()
    assert line.count("\n") == 0, f"error is not one line: {line!r}"
    assert "Traceback" not in line
    assert needle in line, line
    if case != "bad-yaml":
        assert f"{case}.yaml" in line, line
    stored = json.loads(stack.cli("get", "application", "-o", "json").stdout)
    assert stored == []  # all documents or none


def test_deploy_input_errors_exit_2(stack: LambdaStack, tmp_path: Path) -> None:
    assert stack.apply_yaml(GOOD.replace("variables: {}", ""), name="good.yaml").returncode == 0
    unknown = stack.cli("deploy", "nope", "--app", "shop")
    assert unknown.returncode == 2 and "nope" in unknown.stderr
    bad_set = stack.cli("deploy", "orders-dev", "--app", "shop", "--set", "colour=red")
    assert bad_set.returncode == 2 and "colour" in bad_set.stderr
    malformed = stack.cli("deploy", "orders-dev", "--app", "shop", "--set", "novalue")
    assert malformed.returncode == 2 and "KEY=VALUE" in malformed.stderr
    missing_file = stack.cli("apply", "-f", str(tmp_path / "absent.yaml"))
    assert missing_file.returncode == 2 and "no such file" in missing_file.stderr
    assert stack.client("lambda").list_functions()["Functions"] == []
    assert json.loads(stack.cli("executions", "list", "-o", "json").stdout) == []
