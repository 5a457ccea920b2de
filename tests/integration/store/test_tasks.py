"""The task lifecycle against both stores: claim, fencing, heartbeat, expiry, cancellation, logs."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest

from control_plane.store import Store
from control_plane.store.base import NotFound
from control_plane.store.models import NewTask

LEASE = 10_000
TYPES = frozenset({"diagnostic.noop", "diagnostic.sleep"})


def _enqueue(store: Store, now: int = 1_000, **kw: object) -> str:
    task = NewTask(type=str(kw.pop("type", "diagnostic.noop")), payload=b"{}", **kw)  # type: ignore[arg-type]
    return store.enqueue(task, now).id


def test_migrate_is_idempotent(store: Store) -> None:
    assert store.migrate() == store.migrate() >= 1


def test_claim_respects_order_selectors_and_types(store: Store) -> None:
    gpu = _enqueue(store, selectors=("gpu",))
    plain = _enqueue(store)
    other_type = _enqueue(store, type="lambda.deploy")
    first = store.claim("d1", frozenset(), TYPES, 2_000, LEASE)
    assert first is not None and first.id == plain  # gpu task skipped: selector missing
    assert store.claim("d1", frozenset(), TYPES, 2_000, LEASE) is None
    got = store.claim("d2", frozenset({"gpu", "x"}), TYPES, 2_000, LEASE)
    assert got is not None and got.id == gpu and got.attempt == 1 and got.state == "LEASED"
    assert store.get_task(other_type).state == "QUEUED"  # type: ignore[union-attr]


def test_concurrent_claims_never_lease_twice(store: Store) -> None:
    ids = {_enqueue(store) for _ in range(30)}

    def worker(n: int) -> list[str]:
        got = []
        while (t := store.claim(f"d{n}", frozenset(), TYPES, 2_000, LEASE)) is not None:
            got.append(t.id)
        return got

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(worker, range(4)))
    claimed = [i for r in results for i in r]
    assert sorted(claimed) == sorted(ids)
    assert len(claimed) == len(set(claimed))


def test_fencing_refuses_late_completion_from_old_attempt(store: Store) -> None:
    tid = _enqueue(store, max_attempts=3)
    a1 = store.claim("d1", frozenset(), TYPES, 1_000, LEASE)
    assert a1 is not None
    expired = store.expire(1_000 + LEASE + 1)
    assert [t.id for t in expired] == [tid] and expired[0].state == "QUEUED"
    a2 = store.claim("d2", frozenset(), TYPES, 20_000, LEASE)
    assert a2 is not None and a2.attempt == 2 and a2.lease_token != a1.lease_token
    late = store.complete("d1", (tid, 1, a1.lease_token), "SUCCEEDED", b"{}", "", 21_000)
    assert not late.accepted and late.state == "LEASED"
    ok = store.complete("d2", (tid, 2, a2.lease_token), "FAILED", b'{"x":1}', "boom", 21_000)
    assert ok.accepted and ok.state == "FAILED"
    again = store.complete("d2", (tid, 2, a2.lease_token), "FAILED", b'{"x":1}', "boom", 22_000)
    assert again.accepted  # idempotent repeat
    task = store.get_task(tid)
    assert task is not None and task.error == "boom" and json.loads(task.result) == {"x": 1}


def test_lease_runs_out_of_attempts(store: Store) -> None:
    tid = _enqueue(store, max_attempts=1)
    assert store.claim("d1", frozenset(), TYPES, 1_000, LEASE) is not None
    [t] = store.expire(1_000 + LEASE + 1)
    assert t.id == tid and t.state == "FAILED" and "lease lost" in t.error


def test_heartbeat_renews_and_reports_cancel_and_loss(store: Store) -> None:
    tid = _enqueue(store)
    t = store.claim("d1", frozenset(), TYPES, 1_000, LEASE)
    assert t is not None
    [check] = store.heartbeat("d1", [(tid, 1, t.lease_token)], 9_000, LEASE)
    assert check.status == "RENEWED" and check.lease_expires_at == 19_000
    assert store.expire(12_000) == []  # renewed lease did not expire
    store.request_cancel(tid, 13_000)
    [check] = store.heartbeat("d1", [(tid, 1, t.lease_token)], 14_000, LEASE)
    assert check.status == "CANCEL_REQUESTED"
    [lost] = store.heartbeat("d2", [(tid, 1, t.lease_token)], 14_000, LEASE)
    assert lost.status == "LOST"


def test_cancel_queued_task_is_immediate(store: Store) -> None:
    tid = _enqueue(store)
    assert store.request_cancel(tid, 2_000).state == "CANCELLED"
    assert store.claim("d1", frozenset(), TYPES, 3_000, LEASE) is None


def test_attempt_timeout_fails_task(store: Store) -> None:
    tid = _enqueue(store, timeout_ms=5_000)
    t = store.claim("d1", frozenset(), TYPES, 1_000, LEASE)
    assert t is not None
    store.heartbeat("d1", [(tid, 1, t.lease_token)], 5_000, LEASE)
    [timed_out] = store.expire(6_001)
    assert timed_out.state == "FAILED" and "timed out" in timed_out.error


def test_logs_stored_once_and_acked_contiguously(store: Store) -> None:
    tid = _enqueue(store)
    t = store.claim("d1", frozenset(), TYPES, 1_000, LEASE)
    assert t is not None
    lease = (tid, 1, t.lease_token)
    assert store.append_logs("d1", lease, [(1, '["a"]'), (3, '["c"]')], 2_000) == 1
    assert store.append_logs("d1", lease, [(2, '["b"]'), (1, '["dup"]')], 2_000) == 3
    batches = store.read_logs(tid)
    assert [(b.seq, b.lines) for b in batches] == [(1, '["a"]'), (2, '["b"]'), (3, '["c"]')]
    assert [b.seq for b in store.read_logs(tid, after=(1, 2))] == [3]


def test_logs_refused_for_other_delegate(store: Store) -> None:
    tid = _enqueue(store)
    t = store.claim("d1", frozenset(), TYPES, 1_000, LEASE)
    assert t is not None
    with pytest.raises(NotFound, match="not leased to this delegate"):
        store.append_logs("d2", (tid, 1, t.lease_token), [(1, "[]")], 2_000)


def test_tasks_survive_reopen(db_url: str) -> None:
    from control_plane.store import open_store

    s1 = open_store(db_url)
    s1.migrate()
    ids = [_enqueue(s1) for _ in range(5)]
    s1.close()
    s2 = open_store(db_url)
    s2.migrate()
    try:
        claimed = [s2.claim("d", frozenset(), TYPES, 2_000, LEASE) for _ in range(5)]
        assert [c.id for c in claimed if c] == ids
    finally:
        s2.close()


def test_extend_leases_after_restart(store: Store) -> None:
    tid = _enqueue(store)
    assert store.claim("d1", frozenset(), TYPES, 1_000, LEASE) is not None
    assert store.extend_leases(50_000) == 1
    assert store.expire(40_000) == []
    [t] = store.expire(50_001)
    assert t.id == tid and t.state == "QUEUED"


def test_checkpoint_first_write_wins_and_travels_to_the_next_attempt(store: Store) -> None:
    tid = _enqueue(store, max_attempts=3)
    a1 = store.claim("d1", frozenset(), TYPES, 1_000, LEASE)
    assert a1 is not None and a1.checkpoint == b""
    assert store.save_checkpoint("d1", (tid, 1, a1.lease_token), b'{"v": 1}', 1_500)
    with pytest.raises(NotFound):
        store.save_checkpoint("d2", (tid, 1, a1.lease_token), b'{"v": 9}', 1_500)  # not its lease
    store.expire(1_000 + LEASE + 1)
    a2 = store.claim("d2", frozenset(), TYPES, 20_000, LEASE)
    assert a2 is not None and a2.attempt == 2 and a2.checkpoint == b'{"v": 1}'
    assert not store.save_checkpoint("d2", (tid, 2, a2.lease_token), b'{"v": 2}', 20_500)
    assert store.get_task(tid).checkpoint == b'{"v": 1}'  # type: ignore[union-attr]


def test_claim_looks_past_a_page_of_tasks_it_cannot_run(store: Store) -> None:
    for _ in range(40):
        _enqueue(store, selectors=("gpu",))
    plain = _enqueue(store)
    got = store.claim("d1", frozenset(), TYPES, 2_000, LEASE)
    assert got is not None and got.id == plain


def test_retention_purges_only_old_tasks_outside_executions(store: Store) -> None:
    old_free = _enqueue(store)
    old_exec = _enqueue(store, execution_id="ex-1")
    for _ in range(2):
        t = store.claim("d1", frozenset(), TYPES, 1_000, LEASE)
        assert t is not None
        store.append_logs("d1", (t.id, 1, t.lease_token), [(1, '["x"]')], 1_000)
        store.complete("d1", (t.id, 1, t.lease_token), "SUCCEEDED", b"{}", "", 1_000)
    queued = _enqueue(store, now=500)
    assert store.purge_tasks(ended_before=2_000) == 1
    assert store.get_task(old_free) is None and store.read_logs(old_free) == []
    assert store.get_task(old_exec) is not None and store.get_task(queued) is not None


def test_locks_go_with_the_final_status_and_leftovers_are_taken_over(store: Store) -> None:
    from control_plane.store.models import ExecutionRow

    def execution(eid: str) -> ExecutionRow:
        row = ExecutionRow(eid, "app", "wf", "deploy", "RUNNING", "{}", (), 1, 1, 0)
        store.create_execution(row)
        return row

    first, second = execution("ex-1"), execution("ex-2")
    assert store.acquire_locks("ex-1", ["r/fn"], 1)
    assert not store.acquire_locks("ex-2", ["r/fn"], 2)
    from dataclasses import replace

    store.update_execution(replace(first, status="SUCCEEDED"))  # releases in the same transaction
    assert store.acquire_locks("ex-2", ["r/fn"], 3)
    # A lock left behind by an execution that ended without releasing it is taken over.
    with store._tx() as cur:  # type: ignore[attr-defined]
        store._exec(cur, "UPDATE executions SET status = 'FAILED' WHERE id = 'ex-2'")  # type: ignore[attr-defined]
    execution("ex-3")
    assert store.acquire_locks("ex-3", ["r/fn"], 4)
    del second
