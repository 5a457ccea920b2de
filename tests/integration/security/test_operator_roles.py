"""API key roles against a real control plane: viewer reads only, an operator only its applications.

Refusals are PERMISSION_DENIED for a known key (UNAUTHENTICATED is for unknown keys), are one line
naming the key and the action, change nothing, and are recorded in the audit log.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import grpc
import pytest

from shared.auth_metadata import bearer
from shared.pb.outrider.v1 import operator_pb2
from tests.harness import Operator, run_cli
from tests.integration.security.conftest import ControlPlane
from tests.integration.security.kit import GUARD, app_config, apply_request, query, refusal, unique

DENIED = grpc.StatusCode.PERMISSION_DENIED


@pytest.fixture(scope="module")
def apps(cp: ControlPlane) -> dict[str, str]:
    """Applications shop and blog (names made unique), and one blog execution started by the admin."""
    shop, blog, provider = unique("shop"), unique("blog"), unique("aws")
    global_doc = f"kind: CloudProvider\nname: {provider}\nspec: {{type: aws, delegateSelectors: [nowhere]}}\n"
    cp.admin.Apply(apply_request(global_doc + "---" + app_config(shop, provider) + "---" + app_config(blog, provider)))
    blog_run = json.loads(cp.admin.Deploy(operator_pb2.DeployRequest(workflow="orders-dev", application=blog)).json)
    return {"shop": shop, "blog": blog, "provider": provider, "blog_execution": blog_run["id"]}


def _key(cp: ControlPlane, role: str, *applications: str) -> Operator:
    response = cp.admin.CreateApiKey(
        operator_pb2.CreateApiKeyRequest(name=unique(role), role=role, applications=list(applications))
    )
    return Operator(cp.address, response.api_key)


@pytest.fixture
def keys(cp: ControlPlane, apps: dict[str, str]) -> Iterator[dict[str, Operator]]:
    made = {"viewer": _key(cp, "viewer"), "shop-operator": _key(cp, "operator", apps["shop"])}
    yield made
    for op in made.values():
        op.close()


def _denied(call: Callable[[], Any]) -> str:
    err = refusal(call)
    assert err.code() == DENIED, (err.code(), err.details())
    details = err.details() or ""
    assert "\n" not in details
    return details


def _counts(cp: ControlPlane) -> tuple[int, ...]:
    return tuple(
        query(cp.db_url, f"SELECT COUNT(*) FROM {table}")[0][0]  # noqa: S608 - fixed table names
        for table in ("tokens", "api_keys", "tasks", "config_docs", "executions")
    )


def test_viewer_reads_but_every_change_is_permission_denied(
    cp: ControlPlane, apps: dict[str, str], keys: dict[str, Operator]
) -> None:
    viewer = keys["viewer"]
    shop = apps["shop"]
    before = _counts(cp)
    changes: dict[str, Callable[[], Any]] = {
        "deploy": lambda: viewer.Deploy(operator_pb2.DeployRequest(workflow="orders-dev", application=shop)),
        "apply": lambda: viewer.Apply(apply_request(f"kind: Application\nname: {unique('x')}\n")),
        "rollback": lambda: viewer.Rollback(operator_pb2.RollbackRequest(execution_id=apps["blog_execution"])),
        "cancel": lambda: viewer.CancelExecution(
            operator_pb2.CancelExecutionRequest(execution_id=apps["blog_execution"])
        ),
        "token": lambda: viewer.CreateToken(operator_pb2.CreateTokenRequest(name=unique("t"))),
        "revoke": lambda: viewer.RevokeToken(operator_pb2.RevokeTokenRequest(name="anything")),
        "apikey": lambda: viewer.CreateApiKey(operator_pb2.CreateApiKeyRequest(name=unique("k"), role="admin")),
        "submit": lambda: viewer.SubmitTask(operator_pb2.SubmitTaskRequest(type="diagnostic.noop")),
        "cancel-task": lambda: viewer.CancelTask(operator_pb2.CancelTaskRequest(task_id="t-1")),
        "audit": lambda: viewer.ListAudit(operator_pb2.ListAuditRequest()),
    }
    for what, call in changes.items():
        assert "viewer" in _denied(call), what
    assert _counts(cp) == before
    # Reads work.
    viewer.GetExecution(operator_pb2.GetExecutionRequest(execution_id=apps["blog_execution"]))
    viewer.ListExecutions(operator_pb2.ListExecutionsRequest(application=shop))
    viewer.GetObjects(operator_pb2.GetObjectsRequest(kind="Service", application=shop))
    viewer.ListDelegates(operator_pb2.ListDelegatesRequest())
    # Through the CLI: one line, exit code 3 (CONTRACT §2: cannot authenticate/authorize).
    env = {"OUTRIDER_SERVER": cp.address, "OUTRIDER_API_KEY": viewer.metadata[0][1][len("Bearer ") :]}
    proc = run_cli("deploy", "orders-dev", "--app", shop, "--insecure", env=env)
    assert proc.returncode == 3, proc.stderr
    assert proc.stderr.strip().count("\n") == 0 and "may not execution.deploy" in proc.stderr


def test_operator_scoped_to_one_application_cannot_touch_another(
    cp: ControlPlane, apps: dict[str, str], keys: dict[str, Operator]
) -> None:
    op = keys["shop-operator"]
    shop, blog = apps["shop"], apps["blog"]
    before = _counts(cp)
    refusals: dict[str, Callable[[], Any]] = {
        "deploy": lambda: op.Deploy(operator_pb2.DeployRequest(workflow="orders-dev", application=blog)),
        "apply into blog": lambda: op.Apply(apply_request(app_config(blog, apps["provider"]))),
        "apply a global object": lambda: op.Apply(
            apply_request(f"kind: CloudProvider\nname: {unique('aws')}\nspec: {{type: aws}}\n")
        ),
        "apply mixed": lambda: op.Apply(
            apply_request(app_config(shop, apps["provider"]) + "---" + app_config(blog, apps["provider"]))
        ),
        "read blog": lambda: op.GetExecution(operator_pb2.GetExecutionRequest(execution_id=apps["blog_execution"])),
        "list blog": lambda: op.ListExecutions(operator_pb2.ListExecutionsRequest(application=blog)),
        "rollback blog": lambda: op.Rollback(operator_pb2.RollbackRequest(execution_id=apps["blog_execution"])),
        "cancel blog": lambda: op.CancelExecution(
            operator_pb2.CancelExecutionRequest(execution_id=apps["blog_execution"])
        ),
        "token": lambda: op.CreateToken(operator_pb2.CreateTokenRequest(name=unique("t"))),
        "apikey": lambda: op.CreateApiKey(operator_pb2.CreateApiKeyRequest(name=unique("k"), role="admin")),
    }
    for what, call in refusals.items():
        _denied(call)
        assert _counts(cp) == before, what
    # Its own application works.
    started = json.loads(op.Deploy(operator_pb2.DeployRequest(workflow="orders-dev", application=shop)).json)
    assert started["application"] == shop and started["status"] in ("QUEUED", "RUNNING")
    op.GetExecution(operator_pb2.GetExecutionRequest(execution_id=started["id"]))


def test_refused_changes_are_audited_with_who_and_what(
    cp: ControlPlane, apps: dict[str, str], keys: dict[str, Operator]
) -> None:
    op = keys["shop-operator"]
    _denied(lambda: op.Deploy(operator_pb2.DeployRequest(workflow="orders-dev", application=apps["blog"])))
    _denied(lambda: keys["viewer"].CreateToken(operator_pb2.CreateTokenRequest(name=unique("t"))))
    entries = json.loads(cp.admin.ListAudit(operator_pb2.ListAuditRequest(limit=50)).json)
    denied = [(e["action"], e["target"]) for e in entries if e["result"] == "denied"]
    assert ("execution.deploy", apps["blog"]) in denied
    assert ("token.create", "") in denied
    # An unknown key is refused without an audit row (no identity; counted in auth_failures instead).
    unknown = cp.admin.stub.CreateToken
    err = refusal(
        lambda: unknown(operator_pb2.CreateTokenRequest(name="x"), metadata=bearer("orak_unknown"), timeout=GUARD)
    )
    assert err.code() == grpc.StatusCode.UNAUTHENTICATED
