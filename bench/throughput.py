"""Benchmark (c): end-to-end no-op task throughput with real delegate processes.

Real `outrider-delegate run` processes (log level info, as installed) register and long-poll. Once
every one of them has a poll parked, the bench submits N `diagnostic.noop` tasks from a few
concurrent operator callers and watches the database until all N are SUCCEEDED. The clock runs from
the first SubmitTask to the latest completion the server recorded (`updated_at`), so the watching
interval adds nothing.

With the RPC-counting server (bench.rpc_counter) the same run also yields the gRPC calls served
during that window, per method: the honest "RPCs per task", heartbeats and empty polls included.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.clients import AsyncOperator, channel
from bench.procs import ControlPlane, cpu_seconds
from bench.task_counts import Progress, TaskCounts
from bench.waits import poll_until
from tests.harness import DelegateProcess

READY_TIMEOUT_S = 90.0
DRAIN_TIMEOUT_S = 180.0
WATCH_INTERVAL_S = 0.02
SUBMIT_CHANNELS = 2


@dataclass(frozen=True)
class ThroughputResult:
    store: str
    tasks: int
    delegates: int
    max_tasks: int
    seconds: float
    submit_seconds: float
    rpcs: dict[str, int] = field(default_factory=dict)
    """Calls served per method during the window (counting server only)."""
    cpu_seconds: dict[str, float] = field(default_factory=dict)
    """CPU time used during the window by the control plane, the delegates (together) and the bench."""

    @property
    def tasks_per_s(self) -> float:
        return self.tasks / self.seconds

    @property
    def rpcs_per_task(self) -> float | None:
        """None unless the server counted its calls."""
        return sum(self.rpcs.values()) / self.tasks if self.rpcs else None


async def measure_throughput(
    cp: ControlPlane,
    store: str,
    *,
    tasks: int,
    delegates: int,
    max_tasks: int,
    submitters: int,
    rpc_count_file: Path | None = None,
) -> ThroughputResult:
    chans = [channel(cp.address) for _ in range(SUBMIT_CHANNELS)]
    operators = [AsyncOperator(c, cp.api_key) for c in chans]
    procs: list[DelegateProcess] = []
    counts: TaskCounts | None = None
    try:
        token = await operators[0].create_token("bench-throughput")
        for i in range(delegates):
            procs.append(
                DelegateProcess(
                    cp.address,
                    token,
                    f"bench-{i + 1}",
                    cp.workdir,
                    max_tasks=max_tasks,
                    extra=["--log-level", "info", "--grace-seconds", "5"],
                ).start()
            )
        counts = TaskCounts(cp.db_url)
        await poll_until(lambda: cp.polls_waiting() >= delegates, READY_TIMEOUT_S, "delegates to park their polls")
        before = await _rpc_counts(cp, rpc_count_file) if rpc_count_file else {}
        cpu_before = _cpu(cp, procs)
        started_wall = time.time()
        started = time.perf_counter()
        next_index = 0

        async def submitter(operator: AsyncOperator) -> None:
            nonlocal next_index
            while next_index < tasks:
                next_index += 1
                await operator.submit_noop()

        await asyncio.gather(*(submitter(operators[i % len(operators)]) for i in range(submitters)))
        submit_seconds = time.perf_counter() - started
        watched = counts
        progress = await poll_until(
            lambda: _drained(watched, tasks), DRAIN_TIMEOUT_S, f"{tasks} tasks to succeed", WATCH_INTERVAL_S
        )
        cpu = {k: v - cpu_before[k] for k, v in _cpu(cp, procs).items()}
        after = await _rpc_counts(cp, rpc_count_file) if rpc_count_file else {}
        seconds = progress.last_update_ms / 1000 - started_wall
        rpcs = {m: n - before.get(m, 0) for m, n in after.items() if n - before.get(m, 0)}
        return ThroughputResult(store, tasks, delegates, max_tasks, seconds, submit_seconds, rpcs, cpu)
    finally:
        if counts is not None:
            counts.close()
        _stop_all(procs)
        for c in chans:
            await c.close()


def _stop_all(procs: list[DelegateProcess], grace_s: float = 30.0) -> None:
    """SIGTERM every delegate at once (they drain in parallel), then wait; SIGKILL what lingers."""
    running = [p.proc for p in procs if p.proc is not None and p.proc.poll() is None]
    for proc in running:
        proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    for proc in running:
        try:
            proc.wait(max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def _cpu(cp: ControlPlane, procs: list[DelegateProcess]) -> dict[str, float]:
    return {
        "control_plane": cpu_seconds(cp.pid),
        "delegates": sum(cpu_seconds(p.proc.pid) for p in procs if p.proc is not None),
        "bench": time.process_time(),
    }


def _drained(counts: TaskCounts, tasks: int) -> Progress | None:
    progress = counts.read()
    failed = progress.count("FAILED") + progress.count("CANCELLED")
    if failed:
        raise RuntimeError(f"{failed} no-op tasks did not succeed: {progress.by_state}")
    return progress if progress.count("SUCCEEDED") >= tasks else None


async def _rpc_counts(cp: ControlPlane, path: Path) -> dict[str, int]:
    """Asks the counting server for its per-method call counts (bench.rpc_counter)."""
    await asyncio.to_thread(path.unlink, missing_ok=True)
    cp.signal(signal.SIGUSR1)
    text = await poll_until(lambda: path.read_text() if path.exists() else None, 10.0, "the RPC counts", 0.01)
    counts: dict[str, int] = json.loads(text)
    return counts
