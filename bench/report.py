"""Turns results into the table (metric, value, baseline, ratio, target, result) and its notes.

Pure functions, no I/O. The targets live here, once. Each ratio uses the brief baseline taken right
before its benchmark (runner.py), so both sides of a ratio saw the same load on a shared machine.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bench.runner import CALIBRATION, IDLE, START, Results

DISPATCH_MAX_RATIO = 3.0
"""Dispatch p50 at most this many raw unary round trips."""
THROUGHPUT_MIN_SHARE = 0.40
"""Tasks/s at least this share of (raw unary RPCs/s / RPCs per task)."""
RSS_LIMIT_KIB = 1024 * 1024
"""Control plane RSS with every idle session parked stays under 1 GiB."""
PROTOCOL_RPCS_PER_TASK = 4
"""SubmitTask + PollTask + AppendLogs + CompleteTask; used only when the calibration run failed."""

PASS, FAIL, INFO, BASELINE, SKIPPED, ERROR = "PASS", "FAIL", "info", "baseline", "skipped", "ERROR"
JUDGED = (PASS, FAIL, ERROR)
HEADER = ("metric", "value", "baseline", "ratio", "target", "result")


@dataclass(frozen=True)
class Row:
    metric: str
    value: str
    baseline: str
    ratio: str
    target: str
    result: str


def duration(seconds: float) -> str:
    if abs(seconds) < 1e-3:
        return f"{seconds * 1e6:.0f} µs"
    return f"{seconds * 1e3:.2f} ms"


def _missing(results: Results, name: str, metric: str, target: str) -> Row:
    return Row(metric, "-", "-", "-", target, ERROR if name in results.errors else SKIPPED)


def table(results: Results, stores: Sequence[str]) -> list[Row]:
    raw = results.baselines[START]
    rows = [
        Row("raw grpc.aio unary round trip, p50", duration(raw.latency.p50), "-", "-", "-", BASELINE),
        Row("raw grpc.aio unary round trip, p99", duration(raw.latency.p99), "-", "-", "-", BASELINE),
        Row(
            f"raw grpc.aio unary RPCs/s ({raw.concurrency} callers, {raw.channels} channels)",
            f"{raw.rps:.0f}/s",
            "-",
            "-",
            "-",
            BASELINE,
        ),
    ]
    for store in stores:
        rows += _dispatch(results, store)
    rpcs_per_task, rpcs_source = _rpcs_per_task(results)
    rows.append(_rpc_count(results))
    for store in stores:
        rows.append(_throughput(results, store, rpcs_per_task, rpcs_source))
    rows += _idle(results)
    return rows


def _dispatch(results: Results, store: str) -> list[Row]:
    name = f"dispatch {store}"
    target = f"<= {DISPATCH_MAX_RATIO:g}x"
    result, raw = results.dispatch.get(store), results.baselines.get(name)
    if result is None or raw is None:
        return [_missing(results, name, f"dispatch latency p50, {store}", target)]
    p50 = result.after_submit.p50 / raw.latency.p50
    p99 = result.after_submit.p99 / raw.latency.p99
    return [
        Row(
            f"dispatch latency p50, {store}",
            duration(result.after_submit.p50),
            f"raw p50 {duration(raw.latency.p50)}",
            f"{p50:.2f}x",
            target,
            PASS if p50 <= DISPATCH_MAX_RATIO else FAIL,
        ),
        Row(
            f"dispatch latency p99, {store}",
            duration(result.after_submit.p99),
            f"raw p99 {duration(raw.latency.p99)}",
            f"{p99:.2f}x",
            "-",
            INFO,
        ),
    ]


def _rpcs_per_task(results: Results) -> tuple[float, str]:
    counted = results.calibration.rpcs_per_task if results.calibration is not None else None
    if counted is None:
        return float(PROTOCOL_RPCS_PER_TASK), "protocol"
    return counted, "counted"


def _rpc_count(results: Results) -> Row:
    calibration = results.calibration
    counted = calibration.rpcs_per_task if calibration is not None else None
    if calibration is None or counted is None:
        return _missing(results, CALIBRATION, "gRPC calls per no-op task (counted by the server)", "-")
    return Row(
        f"gRPC calls per no-op task (counted by the server, {calibration.tasks} tasks)",
        f"{counted:.2f}",
        f"protocol: {PROTOCOL_RPCS_PER_TASK}",
        f"{counted / PROTOCOL_RPCS_PER_TASK:.2f}x",
        "-",
        INFO,
    )


def _throughput(results: Results, store: str, rpcs_per_task: float, rpcs_source: str) -> Row:
    name = f"throughput {store}"
    target = f">= {THROUGHPUT_MIN_SHARE:.0%}"
    result, raw = results.throughput.get(store), results.baselines.get(name)
    if result is None or raw is None:
        return _missing(results, name, f"no-op tasks/s, {store}", target)
    ceiling = raw.rps / rpcs_per_task
    share = result.tasks_per_s / ceiling
    return Row(
        f"no-op tasks/s, {result.delegates} delegates x {result.max_tasks} slots, {result.tasks} tasks, {store}",
        f"{result.tasks_per_s:.0f}/s",
        f"{ceiling:.0f}/s = {raw.rps:.0f} / {rpcs_per_task:.2f} ({rpcs_source})",
        f"{share:.0%}",
        target,
        PASS if share >= THROUGHPUT_MIN_SHARE else FAIL,
    )


def _idle(results: Results) -> list[Row]:
    idle = results.idle
    if idle is None:
        return [_missing(results, IDLE, "control plane RSS with idle sessions parked", "< 1 GiB")]
    ok = idle.parked >= idle.sessions and idle.rss_kib < RSS_LIMIT_KIB
    return [
        Row(
            f"control plane RSS, {idle.parked} of {idle.sessions} idle sessions parked",
            f"{idle.rss_kib / 1024:.0f} MiB",
            f"{RSS_LIMIT_KIB // 1024} MiB",
            f"{idle.rss_kib / RSS_LIMIT_KIB:.0%}",
            "< 1 GiB",
            PASS if ok else FAIL,
        ),
        Row(
            f"Register calls/s, {idle.registered} delegates, {idle.register_concurrency} at a time",
            f"{idle.registered / idle.register_seconds:.0f}/s",
            "-",
            "-",
            "-",
            INFO,
        ),
    ]


def notes(results: Results, load: tuple[float, float], cpus: int) -> list[str]:
    lines = [f"load average (1 min) at start {load[0]:.2f}, at end {load[1]:.2f}, on {cpus} CPUs"]
    near = [
        f"{key}: p50 {duration(b.latency.p50)}, {b.rps:.0f}/s" for key, b in results.baselines.items() if key != START
    ]
    if near:
        lines.append("baselines taken right before each benchmark: " + "; ".join(near))
    for store, d in results.dispatch.items():
        lines.append(
            f"dispatch {store}: from SubmitTask sent p50 {duration(d.from_submit_start.p50)}, "
            f"SubmitTask itself p50 {duration(d.submit.p50)}; "
            f"task arrived before SubmitTask returned in {d.overtook_submit} of {d.after_submit.count}"
        )
    if results.calibration is not None:
        c = results.calibration
        per = ", ".join(f"{m} {n / c.tasks:.2f}" for m, n in sorted(c.rpcs.items()))
        lines.append(f"gRPC calls per task by method: {per}")
    for store, t in results.throughput.items():
        cpu = ", ".join(f"{k} {v / t.tasks * 1000:.2f} ms" for k, v in t.cpu_seconds.items())
        lines.append(
            f"throughput {store}: {t.seconds:.2f} s for {t.tasks} tasks (submitting took {t.submit_seconds:.2f} s); "
            f"CPU per task: {cpu}"
        )
    if results.idle is not None:
        i = results.idle
        lines.append(
            f"idle sessions: RSS {i.rss_idle_kib / 1024:.0f} MiB before, {i.rss_kib / 1024:.0f} MiB with "
            f"{i.parked} parked ({i.per_session_kib:.1f} KiB each), peak {i.peak_rss_kib / 1024:.0f} MiB; "
            f"registering took {i.register_seconds:.1f} s, parking {i.park_seconds:.1f} s; "
            f"polls refused and retried: {i.refused_polls or 'none'}"
        )
    lines += [f"{name} failed: {message}" for name, message in results.errors.items()]
    return lines


def render(rows: Sequence[Row]) -> str:
    cells = [HEADER, *((r.metric, r.value, r.baseline, r.ratio, r.target, r.result) for r in rows)]
    widths = [max(len(c[i]) for c in cells) for i in range(len(HEADER))]
    lines = ["  ".join(c[i].ljust(widths[i]) for i in range(len(HEADER))).rstrip() for c in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
