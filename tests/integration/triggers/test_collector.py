"""Collection rounds on both stores with a hand-driven clock: one round at a time across replicas,
backoff after failures, a visible error when no delegate takes the task, recovery.

The delegate's side is played through the store itself (claim, complete), as the delegate service
would; the scheduler is never started, so only the calls made here run.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from control_plane.server.context import ServerContext
from control_plane.server.metrics import Metrics
from control_plane.server.settings import ServerSettings
from control_plane.store import Store, open_store
from control_plane.store.models import TaskRow
from control_plane.triggers import TriggerRef
from control_plane.triggers.collector import MIN_QUEUE_WAIT_MS, Collector, SourceRef, next_delay_ms
from control_plane.triggers.state import SourceState, StateStore, TriggerState
from control_plane.triggers.versions import content_fingerprint, describe, job_key
from shared.config import RenderedSource
from shared.payloads import TASK_ARTIFACT_LIST, ResolvedArtifact, S3Source

INTERVAL_S = 60.0
REF = TriggerRef(application="shop", name="on-new", workflow="orders-dev", kind="newArtifact")
SOURCE = RenderedSource(S3Source(bucket="b", key="orders/*.zip", region="us-east-1"), ["aws"])
KEY = job_key(SOURCE)


@dataclass
class Clock:
    now: int = 1_700_000_000_000

    def __call__(self) -> int:
        return self.now


@dataclass
class Replica:
    ctx: ServerContext
    collector: Collector
    started: list[TriggerRef]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def replicas(db_url: str, store: Store, clock: Clock) -> Iterator[list[Replica]]:
    made: list[Replica] = []
    for n in range(2):
        own = open_store(db_url)
        settings = ServerSettings(db_url=db_url, artifact_poll_interval_s=INTERVAL_S)
        ctx = ServerContext(settings=settings, store=own, metrics=Metrics(), clock=clock)
        started: list[TriggerRef] = []

        async def on_started(ref: TriggerRef, started: list[TriggerRef] = started) -> None:
            started.append(ref)

        scheduler = AsyncIOScheduler(timezone="UTC")
        collector = Collector(ctx, StateStore(own, clock), scheduler, on_started, rng=random.Random(n))
        ref = SourceRef(KEY, SOURCE, content_fingerprint(SOURCE.source), describe(SOURCE.source), (REF,))
        collector.sync({KEY: ref})
        made.append(Replica(ctx, collector, started))
    yield made
    for r in made:
        r.ctx.executor.shutdown(wait=True)
        r.ctx.store.close()


def _source(store: Store, clock: Clock) -> SourceState:
    return StateStore(store, clock).read(f"source:{KEY}", SourceState)


def _list_tasks(store: Store) -> list[TaskRow]:
    return [t for t in store.list_tasks(100) if t.type == TASK_ARTIFACT_LIST]


def _delegate_runs(store: Store, clock: Clock, *, versions: list[str] | None = None, error: str = "") -> TaskRow:
    """Play the delegate: lease the queued listing and complete it."""
    task = store.claim("d-1", frozenset({"aws"}), frozenset({TASK_ARTIFACT_LIST}), clock(), 30_000)
    assert task is not None
    if versions is None:
        outcome = store.complete("d-1", (task.id, task.attempt, task.lease_token), "FAILED", b"", error, clock())
    else:
        listing = {"versions": [ResolvedArtifact(version=v).model_dump(mode="json") for v in versions]}
        result = json.dumps(listing).encode()
        outcome = store.complete("d-1", (task.id, task.attempt, task.lease_token), "SUCCEEDED", result, "", clock())
    assert outcome.task is not None
    return outcome.task


def test_one_round_at_a_time_across_replicas_then_backoff_and_recovery(
    replicas: list[Replica], store: Store, clock: Clock
) -> None:
    first, second = replicas

    async def both_fire() -> None:
        await asyncio.gather(first.collector.run_round(KEY), second.collector.run_round(KEY))

    asyncio.run(both_fire())
    assert len(_list_tasks(store)) == 1  # one replica won the round

    clock.now += 1_000
    _delegate_runs(store, clock, error="artifact bucket or key not found at s3://b/orders/*.zip")
    asyncio.run(second.collector.check(KEY))  # the replica that did not queue it may finish it
    state = _source(store, clock)
    assert state.in_flight is None and state.consecutive_failures == 1
    assert state.last_error == "artifact bucket or key not found at s3://b/orders/*.zip"
    assert 0.9 * 60_000 <= state.next_run - clock.now <= 1.1 * 60_000

    asyncio.run(both_fire())  # not due yet: nothing is queued
    assert len(_list_tasks(store)) == 1

    clock.now = state.next_run
    asyncio.run(both_fire())
    clock.now += 1_000
    _delegate_runs(store, clock, error="still missing")
    asyncio.run(first.collector.check(KEY))
    state = _source(store, clock)
    assert state.consecutive_failures == 2 and state.last_error == "still missing"
    assert 0.9 * 120_000 <= state.next_run - clock.now <= 1.1 * 120_000  # backed off

    clock.now = state.next_run
    asyncio.run(both_fire())
    clock.now += 1_000
    _delegate_runs(store, clock, versions=["1", "2"])
    asyncio.run(first.collector.check(KEY))
    state = _source(store, clock)
    assert state.consecutive_failures == 0 and state.last_error is None and state.last_success == clock.now
    assert state.versions == 2 and state.latest == "2"
    trigger = StateStore(store, clock).read(REF.key, TriggerState)
    assert trigger.baselined and trigger.seen == ["1", "2"] and trigger.pending == []
    assert len(_list_tasks(store)) == 3


def test_a_listing_no_delegate_takes_fails_visibly(replicas: list[Replica], store: Store, clock: Clock) -> None:
    replica = replicas[0]
    asyncio.run(replica.collector.run_round(KEY))
    [task] = _list_tasks(store)
    queue_wait_ms = max(int(INTERVAL_S * 1000), MIN_QUEUE_WAIT_MS)
    clock.now += queue_wait_ms - 1
    asyncio.run(replica.collector.check(KEY))
    assert _source(store, clock).in_flight == task.id  # still waiting

    clock.now += 2
    asyncio.run(replica.collector.check(KEY))
    state = _source(store, clock)
    assert state.in_flight is None and state.consecutive_failures == 1
    assert state.last_error == (
        "no delegate picked up the artifact listing within 60s (is one connected with selectors [aws]?)"
    )
    refreshed = store.get_task(task.id)
    assert refreshed is not None and refreshed.state == "CANCELLED"


@pytest.mark.parametrize(
    ("interval_s", "failures", "expected_s"),
    [
        (60, 0, 60),
        (60, 1, 60),
        (60, 2, 120),
        (60, 3, 240),
        (60, 4, 300),
        (60, 30, 300),  # capped at 5 minutes, never disabled
        (1, 5, 10),  # short intervals back off to at most 10 intervals
        (3600, 3, 3600),  # a long interval is its own cap
    ],
)
def test_backoff(interval_s: int, failures: int, expected_s: int) -> None:
    delays = [next_delay_ms(interval_s * 1000, failures, random.Random(seed)) for seed in range(50)]
    assert all(0.9 * expected_s * 1000 <= d <= 1.1 * expected_s * 1000 for d in delays)
    assert len(set(delays)) > 1  # jittered
