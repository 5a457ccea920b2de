"""Delegate tokens against a real control plane: unknown, revoked, expired, rotated, scoped.

Each refusal is asserted with the gRPC status a delegate sees, on every DelegateService call, and
then with what the real agent does about it (stop with exit code 3 and a clear message).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import pytest

from shared.auth_metadata import bearer
from shared.pb.outrider.v1 import common_pb2, delegate_pb2, operator_pb2
from tests.harness import DelegateProcess, run_cli, wait_until
from tests.integration.security.conftest import ControlPlane
from tests.integration.security.kit import GUARD, RawDelegate, code_of, refusal, unique

UNAUTHENTICATED = grpc.StatusCode.UNAUTHENTICATED


def _every_call(raw: RawDelegate, metadata: tuple[tuple[str, str], ...] | None = None) -> dict[str, Callable[[], Any]]:
    """One call of each DelegateService method with the client's session (and its token, or `metadata`)."""
    lease = common_pb2.LeaseRef(task_id="t-0", attempt=1, lease_token="x")
    md, sid = (raw.metadata if metadata is None else metadata), raw.session_id
    return {
        "Register": lambda: raw.stub.Register(delegate_pb2.RegisterRequest(name="x"), metadata=md, timeout=GUARD),
        "PollTask": lambda: raw.stub.PollTask(
            delegate_pb2.PollTaskRequest(session_id=sid, free_slots=1, wait_ms=1000), metadata=md, timeout=GUARD
        ),
        "Heartbeat": lambda: raw.stub.Heartbeat(
            delegate_pb2.HeartbeatRequest(session_id=sid, leases=[lease]), metadata=md, timeout=GUARD
        ),
        "AppendLogs": lambda: raw.stub.AppendLogs(
            delegate_pb2.AppendLogsRequest(session_id=sid, lease=lease), metadata=md, timeout=GUARD
        ),
        "CompleteTask": lambda: raw.stub.CompleteTask(
            delegate_pb2.CompleteTaskRequest(session_id=sid, lease=lease, state=common_pb2.TASK_STATE_FAILED),
            metadata=md,
            timeout=GUARD,
        ),
    }


def _cli(cp: ControlPlane, *args: str) -> Any:
    proc = run_cli(*args, "--server", cp.address, "--insecure", "--api-key", cp.api_key)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout) if "-o" in args else proc.stdout


@pytest.mark.parametrize(
    "metadata",
    [
        pytest.param((), id="no-metadata"),
        pytest.param(bearer("ordt_" + "A" * 43), id="unknown-token"),
        pytest.param(bearer(""), id="empty-bearer"),
        pytest.param((("authorization", "Basic ZGVsZWdhdGU6cHc="),), id="basic-auth"),
        pytest.param((("x-delegate-token", "whatever"),), id="wrong-header"),
    ],
)
def test_unknown_or_missing_token_is_unauthenticated_on_every_call(
    cp: ControlPlane, metadata: tuple[tuple[str, str], ...]
) -> None:
    real = cp.delegate(cp.admin.create_token(unique("real")))
    real.register(unique("d"))  # a valid session id does not stand in for the token
    for method, call in _every_call(real, metadata).items():
        assert code_of(call) == UNAUTHENTICATED, method


def test_keys_of_one_kind_are_not_accepted_as_the_other(cp: ControlPlane) -> None:
    token = cp.admin.create_token(unique("t"))
    as_delegate = cp.delegate(cp.api_key)  # the admin API key presented as a delegate token
    assert code_of(lambda: as_delegate.register(unique("d"))) == UNAUTHENTICATED
    as_operator = cp.admin.stub.ListTokens
    err = refusal(lambda: as_operator(operator_pb2.ListTokensRequest(), metadata=bearer(token), timeout=GUARD))
    assert err.code() == UNAUTHENTICATED


def test_revoked_token_is_refused_on_its_next_call_and_others_keep_working(cp: ControlPlane) -> None:
    doomed, name = unique("doomed"), unique("d")
    revoked = cp.delegate(cp.admin.create_token(doomed))
    other = cp.delegate(cp.admin.create_token(unique("other")))
    revoked.register(name)
    other.register(unique("d"))
    assert revoked.poll(wait_ms=1000) is None  # works before
    cp.admin.RevokeToken(operator_pb2.RevokeTokenRequest(name=doomed))
    for method, call in _every_call(revoked).items():
        err = refusal(call)
        assert err.code() == UNAUTHENTICATED, method
        assert "revoked" in (err.details() or ""), method
    assert other.poll(wait_ms=1000) is None  # a different token is untouched
    [info] = [t for t in _cli(cp, "token", "list", "-o", "json") if t["name"] == doomed]
    assert info["revoked"] is True and info["delegates"] == [name]


def test_rotation_keeps_the_old_token_during_the_grace_period_then_refuses_it(cp: ControlPlane) -> None:
    vpc, d_old, d_new = unique("vpc"), unique("d-old"), unique("d-new")
    old_token = cp.admin.create_token(vpc)
    old = cp.delegate(old_token)
    old.register(d_old)
    rotated = _cli(cp, "token", "create", vpc, "--rotate", "--grace-seconds", "4", "-o", "json")
    new = cp.delegate(rotated["token"])
    assert rotated["token"] != old_token
    # During the grace period both secrets work, including the old delegate's existing session.
    assert old.poll(wait_ms=1000) is None
    old.register(d_old)
    new.register(d_new)
    # Then the old one expires; the new one goes on.
    wait_until(lambda: code_of(lambda: old.poll(wait_ms=1000)) == UNAUTHENTICATED, 15, message="old token to expire")
    for method, call in _every_call(old).items():
        assert code_of(call) == UNAUTHENTICATED, method
    assert new.poll(wait_ms=1000) is None
    [info] = [t for t in _cli(cp, "token", "list", "-o", "json") if t["name"] == vpc]
    assert info["revoked"] is False and sorted(info["delegates"]) == sorted([d_new, d_old])
    assert info["lastUsedAt"] != "-"


def test_rotation_without_grace_refuses_the_old_token_at_once(cp: ControlPlane) -> None:
    leaked, name = unique("leaked"), unique("d")
    old = cp.delegate(cp.admin.create_token(leaked))
    old.register(name)
    rotated = _cli(cp, "token", "create", leaked, "--rotate", "--grace-seconds", "0", "-o", "json")
    assert code_of(lambda: old.poll(wait_ms=1000)) == UNAUTHENTICATED
    cp.delegate(rotated["token"]).register(name)


def test_rotation_grace_out_of_range_is_invalid(cp: ControlPlane) -> None:
    name = unique("t")
    cp.admin.create_token(name)
    for grace in (-1, 2**62):
        err = refusal(
            lambda grace=grace: cp.admin.CreateToken(
                operator_pb2.CreateTokenRequest(name=name, rotate=True, grace_seconds=grace)
            )
        )
        assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "grace_seconds" in (err.details() or "")


def test_token_scoped_to_selectors_cannot_register_other_selectors(cp: ControlPlane, tmp_path: Path) -> None:
    prod_only, name = unique("prod-only"), unique("d")
    scoped = _cli(cp, "token", "create", prod_only, "--selector", "prod", "--selector", "eu", "-o", "json")
    raw = cp.delegate(scoped["token"])
    assert raw.register(name, selectors=["prod"]).session_id
    assert raw.register(name, selectors=["prod", "eu"]).session_id
    err = refusal(lambda: raw.register(name, selectors=["prod", "dev"]))
    assert err.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "dev" in (err.details() or "") and prod_only in (err.details() or "")
    # The real agent treats it as fatal: exit code 3 with the reason, instead of retrying forever.
    agent = DelegateProcess(cp.address, scoped["token"], unique("d"), tmp_path, selectors=("dev",)).start()
    try:
        assert agent.proc is not None
        assert agent.proc.wait(30) == 3
        assert "may not register selectors: dev" in agent.log_text()
    finally:
        agent.kill()


def test_a_delegate_name_cannot_be_taken_over_by_another_token(cp: ControlPlane) -> None:
    prod, name = unique("prod"), unique("prod-1")
    owner = cp.delegate(cp.admin.create_token(prod, selectors=("prod",)))
    first = owner.register(name, selectors=["prod"])
    intruder = cp.delegate(cp.admin.create_token(unique("dev")))
    err = refusal(lambda: intruder.register(name))
    assert err.code() == grpc.StatusCode.PERMISSION_DENIED and "another token" in (err.details() or "")
    # The owner keeps its identity and session.
    assert owner.poll(wait_ms=1000) is None
    assert owner.register(name, selectors=["prod"]).delegate_id == first.delegate_id
    # Once the owning token is revoked (re-install with a new token), the name can be registered again.
    cp.admin.RevokeToken(operator_pb2.RevokeTokenRequest(name=prod))
    assert intruder.register(name).delegate_id == first.delegate_id
