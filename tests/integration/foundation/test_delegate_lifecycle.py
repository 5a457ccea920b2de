"""A real control plane and real delegate processes over loopback gRPC, on both stores."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from shared.auth_metadata import bearer
from shared.pb.outrider.v1 import common_pb2, delegate_pb2, delegate_pb2_grpc, operator_pb2
from tests.harness import DelegateProcess, Operator, ServerProcess, run_cli, wait_until


@pytest.fixture
def delegates(tmp_path: Path) -> Iterator[list[DelegateProcess]]:
    started: list[DelegateProcess] = []
    yield started
    for d in started:
        d.kill()


def _state(op: Operator, task_id: str) -> str:
    return str(common_pb2.TaskState.Name(op.task(task_id).state)).removeprefix("TASK_STATE_")


def _logs(op: Operator, task_id: str) -> list[str]:
    events = op.stub.WatchTask(operator_pb2.WatchTaskRequest(task_id=task_id), metadata=op.metadata, timeout=20)
    return [e.line.text for e in events if e.HasField("line")]


def test_noop_and_sleep_tasks_run_with_logs(
    server: ServerProcess, operator: Operator, delegates: list[DelegateProcess], tmp_path: Path
) -> None:
    token = operator.create_token("t1")
    delegates.append(DelegateProcess(server.address, token, "d1", tmp_path, max_tasks=2).start())
    ids = [operator.submit() for _ in range(5)]
    sleeper = operator.submit("diagnostic.sleep", {"seconds": 0.5, "lines": 30})
    for tid in [*ids, sleeper]:
        wait_until(lambda tid=tid: _state(operator, tid) == "SUCCEEDED", 20, message=f"task {tid} to succeed")
    lines = _logs(operator, sleeper)
    assert lines == [f"line {i} of 30" for i in range(1, 31)]
    assert json.loads(operator.task(sleeper).result) == {"slept": 0.5, "lines": 30}
    listed = run_cli(
        "delegates", "list", "-o", "json", "--server", server.address, "--insecure", "--api-key", server.api_key
    )  # type: ignore[attr-defined]
    assert listed.returncode == 0, listed.stderr
    [d] = json.loads(listed.stdout)
    assert d["name"] == "d1" and d["connected"] and d["installKind"] == "dev"


def test_selectors_route_tasks(
    server: ServerProcess, operator: Operator, delegates: list[DelegateProcess], tmp_path: Path
) -> None:
    token = operator.create_token("t1")
    plain = DelegateProcess(server.address, token, "plain", tmp_path).start()
    delegates.append(plain)
    tid = operator.submit(selectors=["prod"])
    other = operator.submit()
    wait_until(lambda: _state(operator, other) == "SUCCEEDED", 20, message="unrouted task")
    assert _state(operator, tid) == "QUEUED"
    delegates.append(DelegateProcess(server.address, token, "prod", tmp_path, selectors=("prod", "eu")).start())
    wait_until(lambda: _state(operator, tid) == "SUCCEEDED", 20, message="routed task")
    assert operator.task(tid).delegate_id != operator.task(other).delegate_id


def test_sigkill_delegate_task_moves_to_attempt_2_and_late_completion_is_refused(
    server: ServerProcess, operator: Operator, delegates: list[DelegateProcess], tmp_path: Path
) -> None:
    token = operator.create_token("t1")
    first = DelegateProcess(server.address, token, "first", tmp_path).start()
    delegates.append(first)
    tid = operator.submit("diagnostic.sleep", {"seconds": 3})
    wait_until(lambda: _state(operator, tid) == "LEASED", 20, message="first lease")
    leased = operator.task(tid)
    assert leased.attempt == 1
    first.kill()
    second = DelegateProcess(server.address, token, "second", tmp_path).start()
    delegates.append(second)
    wait_until(lambda: operator.task(tid).attempt == 2, 20, message="attempt 2 after lease expiry")
    wait_until(lambda: _state(operator, tid) == "SUCCEEDED", 20, message="attempt 2 to finish")
    assert operator.task(tid).delegate_id != leased.delegate_id
    # The first delegate's attempt, completing late over a fresh session with the same name, is fenced off.
    channel = grpc.insecure_channel(server.address)
    stub = delegate_pb2_grpc.DelegateServiceStub(channel)  # type: ignore[no-untyped-call]
    reg = stub.Register(
        delegate_pb2.RegisterRequest(name="first", task_types=["diagnostic.sleep"], max_tasks=1),
        metadata=bearer(token),
    )
    with pytest.raises(grpc.RpcError) as err:
        stub.CompleteTask(
            delegate_pb2.CompleteTaskRequest(
                session_id=reg.session_id,
                lease=common_pb2.LeaseRef(task_id=tid, attempt=1, lease_token="stale-token"),
                state=common_pb2.TASK_STATE_FAILED,
            ),
            metadata=bearer(token),
        )
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert _state(operator, tid) == "SUCCEEDED"
    channel.close()


def test_control_plane_restart_keeps_queued_tasks(
    server: ServerProcess, operator: Operator, delegates: list[DelegateProcess], tmp_path: Path
) -> None:
    ids = [operator.submit() for _ in range(20)]
    token = operator.create_token("t1")
    server.kill()
    server.start()
    op2 = Operator(server.address, server.api_key)  # type: ignore[attr-defined]
    try:
        delegates.append(DelegateProcess(server.address, token, "d1", tmp_path).start())
        for tid in ids:
            wait_until(lambda tid=tid: _state(op2, tid) == "SUCCEEDED", 30, message=f"task {tid} after restart")
    finally:
        op2.close()


def test_revoked_token_stops_delegate_with_clear_message(
    server: ServerProcess, operator: Operator, delegates: list[DelegateProcess], tmp_path: Path
) -> None:
    token = operator.create_token("t1")
    d = DelegateProcess(server.address, token, "d1", tmp_path).start()
    delegates.append(d)
    wait_until(lambda: "registered" in d.log_text(), 20, message="registration")
    operator.RevokeToken(operator_pb2.RevokeTokenRequest(name="t1"))
    assert d.proc is not None
    code = d.proc.wait(30)
    assert code == 3
    assert "token unknown, revoked or expired" in d.log_text()


def test_sigterm_finishes_in_flight_task(
    server: ServerProcess, operator: Operator, delegates: list[DelegateProcess], tmp_path: Path
) -> None:
    token = operator.create_token("t1")
    d = DelegateProcess(server.address, token, "d1", tmp_path).start()
    delegates.append(d)
    tid = operator.submit("diagnostic.sleep", {"seconds": 1.5, "lines": 3})
    wait_until(lambda: _state(operator, tid) == "LEASED", 20, message="lease")
    assert d.terminate(30) == 0
    assert _state(operator, tid) == "SUCCEEDED"
    assert _logs(operator, tid) == ["line 1 of 3", "line 2 of 3", "line 3 of 3"]
