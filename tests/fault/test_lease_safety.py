"""A delegate that cannot renew its lease stops the task before the lease could go to someone else,
and a task with the "cancel" unavailability policy cancels itself when the control plane is away."""

from __future__ import annotations

import json
import time
from pathlib import Path

from control_plane.store import open_store
from shared.pb.outrider.v1 import common_pb2, operator_pb2
from tests.harness import DelegateProcess, wait_until
from tests.support.history import check_tasks, record
from tests.support.partition import partitionable


def _events(d: DelegateProcess, event: str) -> list[dict[str, object]]:
    found = []
    for line in d.log_text().splitlines():
        try:
            doc = json.loads(line)
        except ValueError:
            continue
        if doc.get("event") == event:
            found.append(doc)
    return found


def _epoch_ms(iso: str) -> int:
    from datetime import datetime

    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)


def test_partitioned_delegate_stops_before_its_lease_is_handed_over(db_url: str, tmp_path: Path) -> None:
    with partitionable(db_url, tmp_path, "--lease-seconds", "6", "--heartbeat-seconds", "1") as net:
        op, proxy = net.operator, net.proxy
        first = net.delegate("partitioned")
        tid = op.submit("diagnostic.sleep", {"seconds": 12, "lines": 50})
        wait_until(lambda: op.task(tid).state == common_pb2.TASK_STATE_LEASED, 20, message="first lease")
        proxy.cut()  # heartbeats fail from now on; the server will expire the lease after 6 s
        net.delegate("healthy", through_proxy=False)
        wait_until(lambda: _events(first, "task stopped without reporting"), 20, message="the partitioned stop")
        wait_until(lambda: op.task(tid).attempt == 2, 30, message="attempt 2 on the healthy delegate")
        stopped_at = _epoch_ms(str(_events(first, "task stopped without reporting")[0]["timestamp"]))
        store = open_store(db_url)
        try:
            attempts = {a.attempt: a.started_at for a in store.list_attempts(tid)}
        finally:
            store.close()
        assert stopped_at < attempts[2], (stopped_at, attempts)  # never two attempts at once
        proxy.restore()
        wait_until(lambda: op.task(tid).state == common_pb2.TASK_STATE_SUCCEEDED, 60, message="attempt 2 to finish")
        store = open_store(db_url)
        try:
            history = check_tasks(store)
        finally:
            store.close()
        history.check()
        record(f"[fault] heartbeat-loss: faults=1 gap_ms={attempts[2] - stopped_at} {history.summary()}")


def test_cancel_policy_task_cancels_itself_when_control_plane_is_unreachable(db_url: str, tmp_path: Path) -> None:
    with partitionable(db_url, tmp_path, "--lease-seconds", "60", "--heartbeat-seconds", "1") as net:
        op, proxy = net.operator, net.proxy
        net.delegate("d1")
        info = op.SubmitTask(
            operator_pb2.SubmitTaskRequest(
                type="diagnostic.sleep",
                payload=json.dumps({"seconds": 60, "lines": 60}).encode(),
                unavailability_policy="cancel",
                unavailability_deadline_ms=2000,
            )
        )
        tid = info.task_id
        wait_until(lambda: op.task(tid).state == common_pb2.TASK_STATE_LEASED, 20, message="lease")
        proxy.cut()
        time.sleep(5)  # the partition lasts past the 2 s deadline; the task stops itself and waits to report
        proxy.restore()
        wait_until(lambda: op.task(tid).state == common_pb2.TASK_STATE_CANCELLED, 30, message="self-cancel reported")
        assert "unreachable past the task's deadline" in op.task(tid).error
