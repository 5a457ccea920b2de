"""A tampered queue row cannot make a delegate act (signed tasks, CONTRACT issue 5 item 5).

The attacker can write the control plane's database but does not have its signing key. They turn
harmless queued diagnostic tasks into `artifact.resolve` tasks whose custom artifact source runs a
command on the delegate (a marker file stands for "the attacker's code ran"):

1. content altered, the original signature kept;
2. content altered, the signature removed;
3. content altered and signed with the attacker's own Ed25519 key;
4. content untouched, but another task's valid signature copied onto it (replay under another id).

A real delegate then polls them: each must end FAILED with "refused", with the refusal in its log,
and the marker must not exist. The same attack against a control plane started with
--no-task-signing does create the marker, which shows the attack is real and the check is what
stops it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shared.pb.outrider.v1 import common_pb2, operator_pb2
from shared.signing import TaskSigner
from tests.harness import DelegateProcess, Operator, ServerProcess, admin_init, wait_until
from tests.integration.security.conftest import ControlPlane
from tests.integration.security.kit import FAST, query, unique, write


def _hostile_payload(marker: Path) -> bytes:
    script = ["/bin/sh", "-c", f"touch {marker}"]
    return json.dumps({"artifact": {"source": "custom", "script": script}, "version": None}).encode()


def _turn_hostile(db_url: str, task_id: str, marker: Path) -> None:
    changed = write(
        db_url,
        "UPDATE tasks SET type = 'artifact.resolve', payload = ? WHERE id = ? AND state = 'QUEUED'",
        (_hostile_payload(marker), task_id),
    )
    assert changed == 1


def _state(op: Operator, task_id: str) -> str:
    return str(common_pb2.TaskState.Name(op.task(task_id).state)).removeprefix("TASK_STATE_")


def _log(op: Operator, task_id: str) -> str:
    events = op.stub.WatchTask(
        operator_pb2.WatchTaskRequest(task_id=task_id, no_follow=True), metadata=op.metadata, timeout=10
    )
    return "\n".join(e.line.text for e in events if e.HasField("line"))


def test_tampered_tasks_are_refused_and_nothing_runs(cp: ControlPlane, tmp_path: Path) -> None:
    selector = unique("quarantine")
    marker = tmp_path / "attacker-code-ran"
    attacker = TaskSigner.generate()
    ids = {case: cp.admin.submit(selectors=[selector]) for case in ("kept", "removed", "foreign", "replayed")}
    for case in ("kept", "removed", "foreign"):
        _turn_hostile(cp.db_url, ids[case], marker)
    write(cp.db_url, "UPDATE tasks SET signature = X'' WHERE id = ?", (ids["removed"],))
    [(payload, timeout_ms)] = query(cp.db_url, "SELECT payload, timeout_ms FROM tasks WHERE id = ?", (ids["foreign"],))
    forged = attacker.sign(
        task_id=ids["foreign"], type="artifact.resolve", payload=payload, execution_id="", timeout_ms=timeout_ms
    )
    write(cp.db_url, "UPDATE tasks SET signature = ? WHERE id = ?", (forged, ids["foreign"]))
    [(valid_elsewhere,)] = query(cp.db_url, "SELECT signature FROM tasks WHERE id = ?", (ids["kept"],))
    write(cp.db_url, "UPDATE tasks SET signature = ? WHERE id = ?", (valid_elsewhere, ids["replayed"]))

    token = cp.admin.create_token(unique("t"))
    delegate = DelegateProcess(cp.address, token, unique("d"), tmp_path, selectors=(selector,)).start()
    try:
        for case, task_id in ids.items():
            wait_until(lambda task_id=task_id: _state(cp.admin, task_id) == "FAILED", 30, message=f"{case} task")
            info = cp.admin.task(task_id)
            assert info.error.startswith("refused:"), (case, info.error)
            assert info.attempt == 1  # refused for good, not retried elsewhere
            assert "refused" in _log(cp.admin, task_id), case
        assert not marker.exists()
        # The delegate is not poisoned: an honest task still runs.
        honest = cp.admin.submit(selectors=[selector])
        wait_until(lambda: _state(cp.admin, honest) == "SUCCEEDED", 30, message="honest task")
        assert not marker.exists()
        assert delegate.log_text().count("refusing task") == len(ids)
    finally:
        delegate.kill()


@pytest.mark.slow
def test_without_signing_the_same_attack_runs_the_attackers_code(tmp_path: Path) -> None:
    """The control for the test above: proves the tampering would work if tasks were not signed."""
    db_url = f"sqlite:///{tmp_path / 'unsigned.db'}"
    api_key = admin_init(db_url)
    server = ServerProcess(db_url, tmp_path, extra=[*FAST, "--no-task-signing"]).start()
    op = Operator(server.address, api_key)
    marker = tmp_path / "attacker-code-ran"
    delegate = None
    try:
        task_id = op.submit(selectors=["quarantine"])
        _turn_hostile(db_url, task_id, marker)
        delegate = DelegateProcess(server.address, op.create_token("t"), "d", tmp_path, selectors=("quarantine",))
        delegate.start()
        wait_until(marker.exists, 30, message="the unsigned tampered task to run the attacker's command")
    finally:
        if delegate is not None:
            delegate.kill()
        op.close()
        server.stop()
