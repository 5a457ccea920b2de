"""Runs every benchmark once, in a fixed order, and collects the results.

Order: the full raw gRPC baseline; per store (SQLite, then PostgreSQL) dispatch latency and
throughput, each against a fresh database and a fresh control plane, each preceded by a brief
baseline; the RPC-count calibration run; the idle-session memory test, the heaviest, last.

A benchmark that fails (a process that does not start, a deadline that passes) is recorded with its
error and the run goes on; only a failing baseline stops it, since every ratio needs one. Working files
(databases, process logs, delegate spools) go under the given work directory.
"""

from __future__ import annotations

import dataclasses
import sys
import traceback
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

from bench.dispatch import DispatchResult, measure_dispatch
from bench.idle_sessions import IdleResult, measure_idle_sessions
from bench.procs import COUNTING_SERVER, STOCK_SERVER, ControlPlane
from bench.raw_grpc import RawProbe, RawResult, raw_server
from bench.rpc_counter import COUNT_FILE_ENV
from bench.throughput import ThroughputResult, measure_throughput
from tests import pg

STORES = (("sqlite", "SQLite"), ("postgres", "PostgreSQL"))
START = "start"
CALIBRATION = "calibration"
IDLE = "idle sessions"


@dataclasses.dataclass(frozen=True, kw_only=True)
class Plan:
    """What one run measures; the defaults keep a run within about five minutes on two cores."""

    raw_latency_calls: int = 2000
    """Sequential round trips for the full baseline's latency."""
    raw_seconds: float = 3.0
    """How long the full baseline's RPCs/s is measured."""
    near_latency_calls: int = 1000
    """Sequential round trips for the brief baseline taken right before each benchmark."""
    near_seconds: float = 1.5
    raw_channels: int = 4
    raw_concurrency: int = 16
    """Concurrent callers for RPCs/s, about as many calls as the throughput run has in flight."""
    dispatch_samples: int = 200
    tasks: int = 1000
    """No-op tasks per throughput run."""
    calibration_tasks: int = 300
    delegates: int = 4
    max_tasks: int = 4
    submitters: int = 8
    """Concurrent SubmitTask callers in the throughput runs."""
    sessions: int = 5000
    session_channels: int = 50
    session_poll_s: int = 120
    """Server --poll-timeout-seconds and the sessions' wait: long enough that parked polls stay parked."""
    postgres: bool = True


@dataclasses.dataclass
class Results:
    baselines: dict[str, RawResult] = dataclasses.field(default_factory=dict)
    """START: the full baseline; "<benchmark> <store>": the brief one taken right before that benchmark."""
    dispatch: dict[str, DispatchResult] = dataclasses.field(default_factory=dict)
    throughput: dict[str, ThroughputResult] = dataclasses.field(default_factory=dict)
    calibration: ThroughputResult | None = None
    idle: IdleResult | None = None
    errors: dict[str, str] = dataclasses.field(default_factory=dict)
    """Benchmark -> why it has no result."""


def say(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


async def run(plan: Plan, work: Path) -> Results:
    results = Results()
    with raw_server(work) as address:
        probe = RawProbe(address, plan.raw_channels)
        try:
            await _benchmarks(plan, work, probe, results)
        finally:
            await probe.close()
    return results


async def _benchmarks(plan: Plan, work: Path, probe: RawProbe, results: Results) -> None:
    async def baseline(key: str, full: bool = False) -> None:
        results.baselines[key] = await probe.measure(
            latency_calls=plan.raw_latency_calls if full else plan.near_latency_calls,
            seconds=plan.raw_seconds if full else plan.near_seconds,
            concurrency=plan.raw_concurrency,
        )

    say("raw grpc.aio baseline")
    await baseline(START, full=True)
    for kind, store in STORES:
        if kind == "postgres" and not plan.postgres:
            continue
        name = f"dispatch {store}"
        say(f"{name} ({plan.dispatch_samples} tasks)")
        async with _recorded(results, name), _control_plane(kind, work / f"dispatch-{kind}") as cp:
            await baseline(name)
            results.dispatch[store] = await measure_dispatch(cp, store, plan.dispatch_samples)
        name = f"throughput {store}"
        say(f"{name} ({plan.tasks} tasks, {plan.delegates} delegates)")
        async with _recorded(results, name), _control_plane(kind, work / f"throughput-{kind}") as cp:
            await baseline(name)
            results.throughput[store] = await measure_throughput(
                cp,
                store,
                tasks=plan.tasks,
                delegates=plan.delegates,
                max_tasks=plan.max_tasks,
                submitters=plan.submitters,
            )
    say(f"gRPC calls per task, counted by the server ({plan.calibration_tasks} tasks on SQLite)")
    async with _recorded(results, CALIBRATION), _control_plane("sqlite", work / "calibration", counting=True) as cp:
        results.calibration = await measure_throughput(
            cp,
            "SQLite",
            tasks=plan.calibration_tasks,
            delegates=plan.delegates,
            max_tasks=plan.max_tasks,
            submitters=plan.submitters,
            rpc_count_file=cp.workdir / "rpc-counts.json",
        )
    say(f"{plan.sessions} idle sessions on SQLite")
    poll_flag = ("--poll-timeout-seconds", str(plan.session_poll_s))
    async with _recorded(results, IDLE), _control_plane("sqlite", work / "idle", extra=poll_flag) as cp:
        results.idle = await measure_idle_sessions(
            cp, sessions=plan.sessions, channels=plan.session_channels, wait_ms=plan.session_poll_s * 1000
        )


@asynccontextmanager
async def _recorded(results: Results, name: str) -> AsyncIterator[None]:
    """Record a failing benchmark and go on with the next; the traceback goes to stderr."""
    try:
        yield
    except Exception as exc:
        traceback.print_exc()
        results.errors[name] = f"{type(exc).__name__}: {exc}".splitlines()[0]
        say(f"{name} failed: {results.errors[name]}")


@contextmanager
def _database(kind: str, workdir: Path) -> Iterator[str]:
    if kind == "sqlite":
        workdir.mkdir(parents=True, exist_ok=True)
        yield f"sqlite:///{workdir.resolve() / 'outrider.db'}"
        return
    with pg.fresh_schema() as dsn:
        yield dsn


@asynccontextmanager
async def _control_plane(
    kind: str, workdir: Path, extra: tuple[str, ...] = (), counting: bool = False
) -> AsyncIterator[ControlPlane]:
    with _database(kind, workdir) as db_url:
        cp = ControlPlane(
            db_url,
            workdir,
            extra=extra,
            launcher=COUNTING_SERVER if counting else STOCK_SERVER,
            env={COUNT_FILE_ENV: str(workdir / "rpc-counts.json")} if counting else {},
        )
        try:
            yield cp.start()
        finally:
            cp.stop()
