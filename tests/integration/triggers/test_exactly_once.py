"""Exactly-once starts on both stores: replicas racing, and a process dying at each point of a start.

Real databases (SQLite and PostgreSQL through the `db_url` fixture), the real trigger code, and a
hand-written orchestrator that creates real execution rows (the look-up after a crash reads them)
and can "die" at a chosen point: `ProcessDied` is a BaseException, so nothing in the trigger code
catches it, just as nothing runs after a SIGKILL. Each replica has its own store connection, its
own instance name and a shared, hand-driven clock.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import pytest
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from control_plane.executions.model import Cause, ExecutionDoc
from control_plane.executions.orchestrator import ExecutionNotFound
from control_plane.server.context import ServerContext
from control_plane.server.metrics import Metrics
from control_plane.server.settings import ServerSettings
from control_plane.store import Store, open_store
from control_plane.store.models import ExecutionRow
from control_plane.triggers import TriggerRef, TriggerService
from control_plane.triggers.starter import CLAIM_MS, Starter, new_token
from control_plane.triggers.state import StateStore, TriggerState
from control_plane.triggers.versions import apply_listing
from shared.payloads import ResolvedArtifact

REF = TriggerRef(application="shop", name="on-new", workflow="orders-dev", kind="newArtifact")
FINGERPRINT = "fp-1"


class ProcessDied(BaseException):
    """Stands for SIGKILL: no handler in the code under test runs."""


@dataclass
class Clock:
    now: int = 1_700_000_000_000

    def __call__(self) -> int:
        return self.now


@dataclass
class FakeOrchestrator:
    store: Store
    clock: Clock
    calls: list[str | None] = field(default_factory=list)
    die: str = ""  # "before-create" | "after-create"
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def start_deploy(
        self, application: str, workflow: str, version: str | None, variables: Mapping[str, str], cause: Cause
    ) -> ExecutionDoc:
        with self.lock:
            self.calls.append(version)
        if self.die == "before-create":
            raise ProcessDied
        await asyncio.sleep(0.005)  # widen the window in which another replica could interfere
        now = self.clock()
        doc = ExecutionDoc(
            id="ex-" + uuid.uuid4().hex[:10],
            application=application,
            workflow=workflow,
            status="SUCCEEDED",  # ended at once, so the order rule never holds the next start back
            cause=cause,
            requested_version=version,
            created_at=now,
            updated_at=now,
        )
        row = ExecutionRow(
            doc.id, application, workflow, "deploy", doc.status, doc.model_dump_json(by_alias=True), (), now, now, 0
        )
        await asyncio.to_thread(self.store.create_execution, row)
        if self.die == "after-create":
            raise ProcessDied
        return doc

    async def get(self, execution_id: str) -> ExecutionDoc:
        row = await asyncio.to_thread(self.store.get_execution, execution_id)
        if row is None:
            raise ExecutionNotFound(execution_id)
        return ExecutionDoc.model_validate_json(row.document)


@dataclass
class Replica:
    ctx: ServerContext
    starter: Starter


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def replicas(db_url: str, store: Store, clock: Clock) -> Iterator[list[Replica]]:
    """Two control planes on one database (the `store` fixture has migrated it)."""
    made: list[Replica] = []
    stores: list[Store] = []
    fake = FakeOrchestrator(store, clock)
    for n in range(2):
        own = open_store(db_url)
        stores.append(own)
        ctx = ServerContext(settings=ServerSettings(db_url=db_url), store=own, metrics=Metrics(), clock=clock)
        made.append(Replica(ctx, Starter(ctx, StateStore(own, clock), fake, f"replica-{n}")))
    yield made
    for r in made:
        r.ctx.executor.shutdown(wait=True)
    for s in stores:
        s.close()


def _fake(replicas: list[Replica]) -> FakeOrchestrator:
    orchestrator = replicas[0].starter._orchestrator
    assert isinstance(orchestrator, FakeOrchestrator)
    return orchestrator


def _artifact(n: int) -> ResolvedArtifact:
    return ResolvedArtifact(
        version=f"orders/orders-{n}.zip", s3_bucket="b", s3_key=f"orders/orders-{n}.zip", s3_version_id=f"v{n}"
    )


def _collect(store: Store, clock: Clock, listing: list[ResolvedArtifact]) -> int:
    """Fold one listing into the trigger's state as the collector does; returns starts queued."""

    def change(state: TriggerState) -> int | None:
        outcome = apply_listing(state, FINGERPRINT, listing, paused=False, now=clock(), new_token=new_token)
        return len(outcome.started) if outcome.started or outcome.baseline is not None else None

    return StateStore(store, clock).mutate(REF.key, TriggerState, change) or 0


def _state(store: Store, clock: Clock) -> TriggerState:
    return StateStore(store, clock).read(REF.key, TriggerState)


def test_two_replicas_start_each_version_once_in_order(replicas: list[Replica], store: Store, clock: Clock) -> None:
    _collect(store, clock, [_artifact(0)])  # baseline
    listing = [_artifact(n) for n in range(7)]
    assert _collect(store, clock, listing) == 6

    async def race() -> None:
        for _ in range(20):
            await asyncio.gather(*(r.starter.drain(REF) for r in replicas))
            if not _state(store, clock).pending:
                return

    asyncio.run(race())
    assert _fake(replicas).calls == [f"orders/orders-{n}.zip@v{n}" for n in range(1, 7)]
    state = _state(store, clock)
    assert state.pending == [] and len({h.execution_id for h in state.history}) == 6
    assert [h.version for h in state.history] == _fake(replicas).calls
    assert state.last_execution_id == state.history[-1].execution_id


def test_listing_folded_concurrently_by_replicas_queues_each_version_once(store: Store, clock: Clock) -> None:
    _collect(store, clock, [_artifact(0)])
    listing = [_artifact(n) for n in range(5)]
    with ThreadPoolExecutor(4) as pool:
        queued = list(pool.map(lambda _: _collect(store, clock, listing), range(4)))
    assert sorted(queued) == [0, 0, 0, 4]
    assert [p.version for p in _state(store, clock).pending] == [f"orders/orders-{n}.zip@v{n}" for n in range(1, 5)]


def test_death_after_the_execution_was_created_does_not_start_it_again(
    replicas: list[Replica], store: Store, clock: Clock
) -> None:
    _collect(store, clock, [_artifact(0)])
    _collect(store, clock, [_artifact(0), _artifact(1), _artifact(2)])
    fake = _fake(replicas)
    fake.die = "after-create"
    with pytest.raises(ProcessDied):
        asyncio.run(replicas[0].starter.drain(REF))
    fake.die = ""
    [created] = store.list_executions("shop")

    asyncio.run(replicas[1].starter.drain(REF))  # the claim is still live: nobody may touch it
    assert fake.calls == ["orders/orders-1.zip@v1"]

    clock.now += CLAIM_MS + 1  # the dead replica's claim expires; the other one takes over
    asyncio.run(replicas[1].starter.drain(REF))
    assert fake.calls == ["orders/orders-1.zip@v1", "orders/orders-2.zip@v2"]
    state = _state(store, clock)
    assert state.history[0].execution_id == created.id
    assert state.pending == [] and len(store.list_executions("shop")) == 2


def test_death_before_the_execution_was_created_starts_it_once_later(
    replicas: list[Replica], store: Store, clock: Clock
) -> None:
    _collect(store, clock, [_artifact(0)])
    _collect(store, clock, [_artifact(0), _artifact(1)])
    fake = _fake(replicas)
    fake.die = "before-create"
    with pytest.raises(ProcessDied):
        asyncio.run(replicas[0].starter.drain(REF))
    fake.die = ""
    assert store.list_executions("shop") == []

    clock.now += CLAIM_MS + 1
    asyncio.run(replicas[1].starter.drain(REF))
    asyncio.run(replicas[0].starter.drain(REF))  # nothing left for the first one
    [execution] = store.list_executions("shop")
    assert fake.calls == ["orders/orders-1.zip@v1", "orders/orders-1.zip@v1"]  # the dead try, then one start
    state = _state(store, clock)
    assert state.pending == [] and [h.execution_id for h in state.history] == [execution.id]


def test_cron_minute_fires_once_across_replicas(replicas: list[Replica], store: Store, clock: Clock) -> None:
    ref = TriggerRef(application="shop", name="nightly", workflow="orders-dev", kind="cron", cron="0 3 * * *")
    fake = _fake(replicas)

    async def fire_everywhere(slot: int) -> None:
        services = [TriggerService(r.ctx, fake, AsyncIOScheduler(timezone="UTC")) for r in replicas]
        await asyncio.gather(*(s.cron_fire(ref, slot) for s in services))
        await replicas[0].starter.drain(ref)

    slot = 1_700_002_800_000
    asyncio.run(fire_everywhere(slot))
    asyncio.run(fire_everywhere(slot))  # a late duplicate of the same minute
    assert fake.calls == [None]  # the latest version, once
    asyncio.run(fire_everywhere(slot + 86_400_000))
    assert fake.calls == [None, None]
    [first, second] = store.list_executions("shop")[::-1]
    assert first.id != second.id
    assert "cron 0 3 * * *" in (ExecutionDoc.model_validate_json(first.document).cause.detail or "")
