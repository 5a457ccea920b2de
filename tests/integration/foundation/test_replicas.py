"""Two control plane replicas on one PostgreSQL database: a task queued through one wakes a delegate
long-polling the other at once (LISTEN/NOTIFY), not at its next poll or sweep."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from shared.pb.outrider.v1 import common_pb2
from tests.harness import DelegateProcess, Operator, ServerProcess, admin_init, wait_until

SLOW_FALLBACKS = ["--sweep-seconds", "60", "--poll-timeout-seconds", "60"]


@pytest.mark.postgres
def test_task_queued_on_one_replica_reaches_a_delegate_of_the_other(db_url: str, tmp_path: Path) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("replicas share a PostgreSQL database")
    api_key = admin_init(db_url)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = ServerProcess(db_url, tmp_path / "a", extra=SLOW_FALLBACKS).start()
    b = ServerProcess(db_url, tmp_path / "b", extra=SLOW_FALLBACKS).start()
    op_b = Operator(b.address, api_key)
    d = None
    try:
        token = op_b.create_token("t")
        d = DelegateProcess(a.address, token, "on-a", tmp_path).start()
        wait_until(lambda: "registered" in d.log_text(), 20, message="registration on replica A")
        time.sleep(1)  # let the delegate settle into its 60 s long poll on A
        tid = op_b.submit()
        # Without NOTIFY the task would wait for the 60 s poll or sweep: well past this deadline.
        wait_until(lambda: op_b.task(tid).state == common_pb2.TASK_STATE_SUCCEEDED, 15, message="cross-replica task")
    finally:
        if d:
            d.kill()
        op_b.close()
        a.stop()
        b.stop()
