"""Least-privilege IAM (issue 5 item 7): the policies in deploy/iam/ against what the code calls.

Reads the delegate's source (AST) rather than trusting a list: every AWS operation a wrapper calls
is declared in delegate/aws/operations.py and vice versa, nothing outside delegate/aws/ reaches
boto3, and each policy allows exactly the IAM actions those operations need, plus the few AWS requires
implicitly, with conditions on the dangerous ones and (for the deployer role) resources scoped to
their service.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import pytest

from delegate.aws.operations import IAM_ACTIONS, OPERATIONS, required_iam_actions

ROOT = Path(__file__).resolve().parents[3]
DELEGATE = ROOT / "delegate"
AWS = DELEGATE / "aws"
IAM = ROOT / "deploy" / "iam"

# Actions AWS requires without a matching API call (see deploy/iam/README.md).
IMPLIED = {
    "lambda:ListTags": "GetFunction returns tags only to callers allowed lambda:ListTags",
    "kms:Decrypt": "secrets and SecureString parameters under a customer-managed key",
}
# What the assumed deployer role does not need: assuming roles is the delegate's own job.
DELEGATE_ONLY = {"sts:AssumeRole"}


def _sources(root: Path) -> dict[Path, ast.Module]:
    return {path: ast.parse(path.read_text(), str(path)) for path in sorted(root.rglob("*.py"))}


def _called_operations() -> dict[str, list[str]]:
    """Every literal operation passed to ServiceClient._call / _paginate in delegate/aws/, with where.

    (Only the wrappers there can call AWS: test_only_delegate_aws_reaches_boto3 makes sure of it.)
    """
    found: dict[str, list[str]] = {}
    for path, tree in _sources(AWS).items():
        for node in ast.walk(tree):
            if not (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("_call", "_paginate")
            ):
                continue
            first = node.args[0] if node.args else None
            where = f"{path.relative_to(ROOT)}:{node.lineno}"
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                found.setdefault(first.value, []).append(where)
            else:
                # Only base.py forwards a variable (its _paginate calls _call with its own argument).
                assert path == AWS / "base.py", f"{where}: the operation must be a string literal"
    return found


def _policy(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((IAM / name).read_text())
    return document


def _statements(policy: dict[str, Any]) -> list[dict[str, Any]]:
    statements = policy["Statement"]
    return [statements] if isinstance(statements, dict) else list(statements)


def _as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _allowed(policy: dict[str, Any]) -> set[str]:
    return {action for s in _statements(policy) for action in _as_list(s["Action"])}


# --- the code ------------------------------------------------------------------------------


def test_every_called_operation_is_declared_and_every_declared_one_is_called() -> None:
    called = _called_operations()
    undeclared = {op: where for op, where in called.items() if op not in OPERATIONS}
    assert undeclared == {}, "called but not in delegate/aws/operations.py"
    assert set(OPERATIONS) - set(called) == set(), "declared (so granted) but never called"
    assert all(":" in op and op.split(":")[0] in {"lambda", "s3", "sts", "secretsmanager", "ssm"} for op in called)


def test_only_delegate_aws_reaches_boto3() -> None:
    """boto3/botocore imports and client construction stay in delegate/aws/, and the wrappers call
    boto3 client methods only through ServiceClient._call (which checks OPERATIONS)."""
    for root in (ROOT / "delegate", ROOT / "shared", ROOT / "control_plane"):
        for path, tree in _sources(root).items():
            for node in ast.walk(tree):
                if isinstance(node, ast.Import | ast.ImportFrom):
                    names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                    if any(n.split(".")[0] in ("boto3", "botocore", "s3transfer") for n in names):
                        assert path.is_relative_to(AWS), f"{path.relative_to(ROOT)}:{node.lineno} imports boto"
    for path, tree in _sources(DELEGATE).items():
        rel = path.relative_to(ROOT)
        for node in ast.walk(tree):
            if not isinstance(node, ast.Attribute):
                continue
            # The botocore client lives in ServiceClient._client; only _call may touch it, via getattr.
            in_aws = path.is_relative_to(AWS)
            if in_aws and node.attr == "_client" and isinstance(node.value, ast.Name) and node.value.id == "self":
                assert path == AWS / "base.py", f"{rel}:{node.lineno} uses a botocore client directly"
            # Paginators, waiters, presigned URLs and managed transfers would call AWS past OPERATIONS.
            assert node.attr not in {
                "get_paginator",
                "get_waiter",
                "generate_presigned_url",
                "generate_presigned_post",
                "upload_file",
                "upload_fileobj",
                "download_file",
                "download_fileobj",
            }, f"{rel}:{node.lineno} calls boto3's {node.attr}"
            # botocore clients are built in session.py only (AwsSession.client is the way to get one).
            if node.attr in ("client", "resource", "create_client") and path != AWS / "session.py":
                parent = node.value
                name = parent.attr if isinstance(parent, ast.Attribute) else getattr(parent, "id", "")
                assert name not in ("boto3", "_boto", "botocore_session"), (
                    f"{rel}:{node.lineno} builds a boto3 {node.attr}"
                )
    base = (AWS / "base.py").read_text()
    assert "operations.check(operation)" in base.split("def _call", 1)[1].split("def ", 1)[0]


# --- the policies --------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["delegate-policy.json", "deployer-role-policy.json"])
def test_policy_is_allow_only_without_wildcard_actions(name: str) -> None:
    policy = _policy(name)
    assert policy["Version"] == "2012-10-17"
    for statement in _statements(policy):
        assert statement["Effect"] == "Allow", statement
        assert not {"NotAction", "NotResource", "NotPrincipal"} & set(statement), statement
        for action in _as_list(statement["Action"]):
            assert "*" not in action and "?" not in action, f"{name}: wildcard action {action}"
    for statement in _statements(policy):
        actions = set(_as_list(statement["Action"]))
        if "iam:PassRole" in actions:
            assert actions == {"iam:PassRole"}
            assert statement["Condition"] == {"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}}
        if "kms:Decrypt" in actions:
            assert actions == {"kms:Decrypt"}
            services = statement["Condition"]["StringLike"]["kms:ViaService"]
            assert sorted(services) == ["secretsmanager.*.amazonaws.com", "ssm.*.amazonaws.com"]


@pytest.mark.parametrize("name", ["delegate-policy.json", "deployer-role-policy.json"])
def test_policy_allows_every_action_the_code_needs(name: str) -> None:
    needed = required_iam_actions() | set(IMPLIED)
    if name == "deployer-role-policy.json":
        needed -= DELEGATE_ONLY
    missing = needed - _allowed(_policy(name))
    assert missing == set(), f"{name} lacks {sorted(missing)}"


def test_deployer_role_policy_allows_nothing_else() -> None:
    extra = _allowed(_policy("deployer-role-policy.json")) - (required_iam_actions() | set(IMPLIED))
    assert extra == set()


def test_delegate_policy_allows_nothing_else() -> None:
    extra = _allowed(_policy("delegate-policy.json")) - (required_iam_actions() | set(IMPLIED))
    assert extra == set(), f"delegate-policy.json allows {sorted(extra)} that no code needs"


def test_deployer_role_policy_scopes_every_resource_to_its_service() -> None:
    for statement in _statements(_policy("deployer-role-policy.json")):
        services = {action.split(":")[0] for action in _as_list(statement["Action"])}
        assert len(services) == 1, statement
        [service] = services
        for resource in _as_list(statement["Resource"]):
            assert resource != "*", f"{statement['Sid']}: Resource '*'"
            assert resource.startswith(f"arn:aws:{service}:"), f"{statement['Sid']}: {resource}"


def test_operations_map_only_to_real_service_prefixes() -> None:
    for operation, actions in IAM_ACTIONS.items():
        for action in actions:
            assert action.split(":")[0] in {"lambda", "s3", "sts", "secretsmanager", "ssm", "iam", "kms"}, (
                operation,
                action,
            )
