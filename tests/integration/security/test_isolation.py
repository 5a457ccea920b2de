"""Isolation between delegates: nobody but the lease holder can log, renew or complete a task.

Delegate A holds a task. Delegate B (another token) and delegate C (A's own token, another
delegate) try every call about it: with a guessed lease token, with A's exact lease (as if it
leaked), and with made-up task ids. Every attempt is refused, nothing they send is stored, and
A's task goes on and ends exactly as A reports.
"""

from __future__ import annotations

import json
import secrets

import grpc

from shared.pb.outrider.v1 import common_pb2, delegate_pb2, operator_pb2
from tests.integration.security.conftest import ControlPlane
from tests.integration.security.kit import RawDelegate, lease_of, query, refusal, unique

RENEWED, LOST = delegate_pb2.LEASE_STATUS_RENEWED, delegate_pb2.LEASE_STATUS_LOST


def _task_row(cp: ControlPlane, task_id: str) -> tuple[str, str, int, str]:
    [row] = query(
        cp.db_url, "SELECT state, delegate_id, lease_expires_at, lease_token FROM tasks WHERE id = ?", (task_id,)
    )
    return row  # type: ignore[return-value]


def _stored_lines(cp: ControlPlane, task_id: str) -> list[str]:
    rows = query(cp.db_url, "SELECT lines FROM task_logs WHERE task_id = ? ORDER BY attempt, seq", (task_id,))
    return [line["text"] for (lines,) in rows for line in json.loads(lines)]


def _intrude(intruder: RawDelegate, lease: common_pb2.LeaseRef) -> dict[str, object]:
    """Every call about `lease` from `intruder`: the status codes and the heartbeat answer."""
    outcome: dict[str, object] = {}
    outcome["append"] = refusal(lambda: intruder.append(lease, 1, "written by an intruder")).code()
    outcome["complete"] = refusal(
        lambda: intruder.complete(lease, common_pb2.TASK_STATE_FAILED, b'{"by": "intruder"}')
    ).code()
    [state] = intruder.heartbeat(lease)
    outcome["heartbeat"] = state.status
    return outcome


def test_other_delegates_cannot_log_renew_or_complete_a_task_they_do_not_hold(cp: ControlPlane) -> None:
    selector = unique("sel")
    token_a = cp.admin.create_token(unique("a"))
    a = cp.delegate(token_a)
    a.register(unique("a"), selectors=[selector])
    b = cp.delegate(cp.admin.create_token(unique("b")))
    b.register(unique("b"), selectors=[selector])
    c = cp.delegate(token_a)  # same token as A, another delegate
    c.register(unique("c"), selectors=[selector])

    task_id = cp.admin.submit(selectors=[selector])
    task = a.poll()
    assert task is not None and task.task_id == task_id
    held = lease_of(task)
    assert a.append(held, 1, "line from A") == 1
    before = _task_row(cp, task_id)

    guessed = common_pb2.LeaseRef(task_id=task_id, attempt=1, lease_token=secrets.token_urlsafe(18))
    made_up = common_pb2.LeaseRef(task_id=f"t-{secrets.token_hex(10)}", attempt=1, lease_token="x")
    for who, intruder in {"other token": b, "same token": c}.items():
        for label, lease in {"guessed lease": guessed, "leaked lease": held}.items():
            outcome = _intrude(intruder, lease)
            assert outcome == {
                "append": grpc.StatusCode.NOT_FOUND,
                "complete": grpc.StatusCode.FAILED_PRECONDITION,
                "heartbeat": LOST,
            }, (who, label)
        assert _intrude(intruder, made_up) == {
            "append": grpc.StatusCode.NOT_FOUND,
            "complete": grpc.StatusCode.NOT_FOUND,
            "heartbeat": LOST,
        }, who
        assert intruder.poll() is None  # the task is A's; nothing else is queued for the selector

    # Nothing the intruders sent was stored, and their heartbeats renewed nothing.
    assert _task_row(cp, task_id) == before
    assert _stored_lines(cp, task_id) == ["line from A"]

    # A's task is unaffected: A renews, logs, completes, and its result is what is stored.
    [renewed] = a.heartbeat(held)
    assert renewed.status == RENEWED
    assert a.append(held, 2, "second line from A") == 2
    done = a.complete(held, common_pb2.TASK_STATE_SUCCEEDED, b'{"by": "A"}')
    assert done.accepted and done.state == common_pb2.TASK_STATE_SUCCEEDED
    info = cp.admin.task(task_id)
    assert info.state == common_pb2.TASK_STATE_SUCCEEDED and json.loads(info.result) == {"by": "A"}
    assert info.delegate_id == a.delegate_id
    events = cp.admin.stub.WatchTask(
        operator_pb2.WatchTaskRequest(task_id=task_id, no_follow=True), metadata=cp.admin.metadata, timeout=10
    )
    assert [e.line.text for e in events if e.HasField("line")] == ["line from A", "second line from A"]
    # After completion, a late intruder still cannot change the outcome (the repeat is not A's).
    assert refusal(lambda: b.complete(held, common_pb2.TASK_STATE_FAILED)).code() == (
        grpc.StatusCode.FAILED_PRECONDITION
    )
    assert cp.admin.task(task_id).state == common_pb2.TASK_STATE_SUCCEEDED


def test_a_delegate_receives_only_tasks_routed_to_its_selectors(cp: ControlPlane) -> None:
    wanted, other = unique("prod"), unique("dev")
    token = cp.admin.create_token(unique("t"))
    prod = cp.delegate(token)
    prod.register(unique("prod"), selectors=[wanted])
    dev = cp.delegate(token)
    dev.register(unique("dev"), selectors=[other])
    task_id = cp.admin.submit(selectors=[wanted])
    assert dev.poll() is None
    task = prod.poll()
    assert task is not None and task.task_id == task_id


def test_a_session_belongs_to_its_token(cp: ControlPlane) -> None:
    a = cp.delegate(cp.admin.create_token(unique("a")))
    a.register(unique("a"))
    b = cp.delegate(cp.admin.create_token(unique("b")))
    b.register(unique("b"))
    b.session_id = a.session_id  # B presents A's session id with its own token
    assert refusal(lambda: b.poll()).code() == grpc.StatusCode.PERMISSION_DENIED
    assert refusal(lambda: b.heartbeat()).code() == grpc.StatusCode.PERMISSION_DENIED
