"""`python -m bench.soak`: many delegates, many tasks and deployments, while a chaos loop kills things.

Issue 4's soak benchmark (a benchmark, not a test). Per store (SQLite, then PostgreSQL when the
server on 127.0.0.1:5432 or OUTRIDER_TEST_POSTGRES_DSN answers), on loopback:

1. moto (`moto_server`, own process), a control plane and 20 `outrider-delegate run` processes
   (`--max-tasks 2`, each with its own durable spool); ten single-function services, one workflow each.
2. Calm baseline: 300 `diagnostic.noop` tasks with nothing being killed -> tasks/s without chaos.
3. Chaos: 2,000 `diagnostic.noop` tasks and 100 `diagnostic.sleep` tasks (20 numbered log lines
   each, so the history check has line order to verify) are submitted at once, while ten drivers
   each upload a new artifact and deploy it to their function, 20 times (200 deployments; deployments
   to one function are serialised by the control plane, so each driver waits for the previous one).
   Meanwhile a chaos loop SIGKILLs a random delegate every 1.5-3.5 s (restarting it 0.3-2 s later
   with the same name and spool) and SIGKILLs the control plane every 12-20 s, restarting it on the
   same port after 0.5-2 s. Operator calls retry while the control plane is down.
4. When every task is terminal the chaos stops and the history check runs
   (tests/support/history.py): every task ended exactly once; log batches stored once; numbered lines
   once and in order; no function has two versions published by one execution. Two more checks here:
   each succeeded no-op's final attempt logged its one line exactly once, each function's alias serves
   the artifact of the workflow's last successful execution (the state of a run without faults), every
   execution ended, and no function lock is still held by an execution that ended.

Reported: tasks/s under chaos (all tasks, and no-ops alone against the calm baseline), the checks,
counts of kills and restarts, retried tasks, executions by status and why they failed, duplicates
created by operator calls retried across a restart, and where the machine's CPU went.

I/O: child processes, gRPC/HTTP on loopback, the control plane's database (read-only, directly),
files under .bench/soak-work (replaced each run), the result in .bench/soak.json. Bounded: every wait
has a deadline and the workload stops at --deadline-s, reporting what did not finish.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import sqlite3
import statistics
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from bench._stack import (
    ENDED,
    MotoProcess,
    Stack,
    cpu_seconds,
    handler_zip,
    lambda_app_yaml,
    retrying,
    s3_artifact,
)
from bench._table import Row, judged, render, say, write_json
from control_plane.store import open_store
from shared.payloads import TASK_NOOP, TASK_SLEEP
from shared.pb.outrider.v1 import operator_pb2
from tests import pg
from tests.harness import DelegateProcess
from tests.support.history import History, check_tasks, check_versions

NAME = "soak"
APP = "soak"
BUCKET = "soak-artifacts"
ALIAS = "dev"
# A lease a few heartbeats long: a killed delegate's task goes to another one within seconds.
SERVER_FLAGS = ("--lease-seconds", "6", "--heartbeat-seconds", "1", "--poll-timeout-seconds", "5")
EXECUTION_WAIT_S = 45.0
"""A deployment that has not ended after this long is stuck (reported); its driver stops."""
NOOP_LINE = re.compile(r"^diagnostic no-op, attempt (\d+)$")


@dataclass(frozen=True, kw_only=True)
class Plan:
    delegates: int = 20
    max_tasks: int = 2
    noops: int = 2000
    sleeps: int = 100
    sleep_lines: int = 20
    deploys: int = 200
    functions: int = 10
    calm_noops: int = 300
    max_attempts: int = 5
    kill_every_s: tuple[float, float] = (1.5, 3.5)
    delegate_down_s: tuple[float, float] = (0.3, 2.0)
    cp_every_s: tuple[float, float] = (12.0, 20.0)
    cp_down_s: tuple[float, float] = (0.5, 2.0)
    deadline_s: float = 150.0
    """The chaos phase stops submitting after this long; what did not finish is reported."""
    seed: int = 4


@dataclass
class ChaosLog:
    delegate_kills: int = 0
    delegate_restarts: int = 0
    unexpected_exits: int = 0
    """Delegates found dead without being killed (restarted like killed ones, and counted here)."""
    cp_restarts: int = 0
    cp_down_s: list[float] = field(default_factory=list)
    cp_ready_ms: list[int] = field(default_factory=list)
    cp_killed_ms: list[int] = field(default_factory=list)
    killed_cpu_s: dict[str, float] = field(default_factory=lambda: {"control plane": 0.0, "delegates": 0.0})
    """CPU the killed process instances had used, read from /proc just before each SIGKILL."""


@dataclass
class DeployRecord:
    function: int
    key: str
    execution_id: str
    status: str
    seconds: float


@dataclass
class StoreResult:
    store: str
    chaos_seconds: float = 0.0
    calm_noops_per_s: float = 0.0
    noops_per_s: float = 0.0
    tasks_per_s: float = 0.0
    tasks: dict[str, dict[str, int]] = field(default_factory=dict)
    retried_tasks: int = 0
    executions: dict[str, int] = field(default_factory=dict)
    deploys_submitted: int = 0
    deploys_planned: int = 0
    deploy_seconds_median: float = 0.0
    chaos: ChaosLog = field(default_factory=ChaosLog)
    recovery_s: list[float] = field(default_factory=list)
    """Per control plane restart: from listening again to the next task ending."""
    history: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    unfinished: int = 0

    @property
    def passed(self) -> bool:
        return not self.problems and self.unfinished == 0


# --- reading the database directly (read-only; costs the control plane nothing) --------------------
class Db:
    def __init__(self, db_url: str) -> None:
        self._conn: Any
        if db_url.startswith("sqlite:///"):
            path = db_url[len("sqlite:///") :]
            self._conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30, check_same_thread=False)
        else:
            self._conn = psycopg.connect(db_url, autocommit=True)
        self._lock = threading.Lock()

    def rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        if not isinstance(self._conn, sqlite3.Connection):
            sql = sql.replace("?", "%s")
        with self._lock:
            return [tuple(r) for r in self._conn.execute(sql, params).fetchall()]

    def counts(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for task_type, state, n in self.rows("SELECT type, state, COUNT(*) FROM tasks GROUP BY type, state"):
            out.setdefault(task_type, {})[state] = int(n)
        return out

    def open_tasks(self) -> int:
        sql = "SELECT COUNT(*) FROM tasks WHERE state NOT IN ('SUCCEEDED', 'FAILED', 'CANCELLED')"
        return int(self.rows(sql)[0][0])

    def close(self) -> None:
        self._conn.close()


# --- the chaos loop ------------------------------------------------------------------------------
class Chaos:
    """Kills and restarts delegates and the control plane on a seeded random schedule, in a thread."""

    def __init__(self, stack: Stack, plan: Plan, log: ChaosLog) -> None:
        self._stack = stack
        self._plan = plan
        self._log = log
        self._rng = random.Random(plan.seed)
        self._stop = threading.Event()
        self._down: dict[str, tuple[float, DelegateProcess]] = {}
        self._thread = threading.Thread(target=self._run, name="chaos", daemon=True)
        self.error: BaseException | None = None

    def __enter__(self) -> Chaos:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(60)

    def _between(self, bounds: tuple[float, float]) -> float:
        return self._rng.uniform(*bounds)

    def _run(self) -> None:
        try:
            now = time.monotonic()
            next_kill = now + self._between(self._plan.kill_every_s)
            next_cp = now + self._between(self._plan.cp_every_s)
            while not self._stop.wait(0.05):
                now = time.monotonic()
                self._restart_due(now)
                if now >= next_kill:
                    self._kill_delegate(now)
                    next_kill = now + self._between(self._plan.kill_every_s)
                if now >= next_cp:
                    self._restart_control_plane()
                    next_cp = time.monotonic() + self._between(self._plan.cp_every_s)
        except BaseException as exc:  # reported by the caller; the workload must not wait forever
            self.error = exc
        finally:
            self._restart_due(float("inf"))

    def _restart_due(self, now: float) -> None:
        for name, (when, d) in list(self._down.items()):
            if when <= now:
                d.start()
                self._log.delegate_restarts += 1
                del self._down[name]
        for d in self._stack.delegates:  # a delegate that died by itself is a finding: count, then restart
            if d.name not in self._down and d.proc is not None and d.proc.poll() is not None:
                self._log.unexpected_exits += 1
                say(NAME, f"delegate {d.name} exited by itself with {d.proc.returncode}; restarting it")
                d.start()

    def _kill_delegate(self, now: float) -> None:
        alive = [d for d in self._stack.delegates if d.name not in self._down]
        if not alive:
            return
        victim = self._rng.choice(alive)
        self._log.killed_cpu_s["delegates"] += _cpu_of(victim.proc)
        victim.kill()
        self._log.delegate_kills += 1
        self._down[victim.name] = (now + self._between(self._plan.delegate_down_s), victim)

    def _restart_control_plane(self) -> None:
        server = self._stack.server
        assert server is not None
        t0 = time.monotonic()
        self._log.killed_cpu_s["control plane"] += _cpu_of(server.proc)
        self._log.cp_killed_ms.append(int(time.time() * 1000))
        server.kill()
        time.sleep(self._between(self._plan.cp_down_s))
        server.start(timeout=60)
        self._log.cp_restarts += 1
        self._log.cp_down_s.append(time.monotonic() - t0)
        self._log.cp_ready_ms.append(int(time.time() * 1000))


def _cpu_of(proc: Any) -> float:
    if proc is None or proc.poll() is not None:
        return 0.0
    try:
        return cpu_seconds(proc.pid)
    except OSError:
        return 0.0


def machine_busy_s() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, from the first line of /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    user, nice, system, idle, iowait, irq, softirq, steal = (values + [0] * 8)[:8]
    tick = os.sysconf("SC_CLK_TCK")
    busy = user + nice + system + irq + softirq + steal
    return busy / tick, (busy + idle + iowait) / tick


# --- the workload --------------------------------------------------------------------------------
def submit_tasks(stack: Stack, plan: Plan, kind: str, count: int, payload: dict[str, Any], ids: list[str]) -> None:
    request = operator_pb2.SubmitTaskRequest(
        type=kind, payload=json.dumps(payload).encode(), max_attempts=plan.max_attempts
    )
    for _ in range(count):
        ids.append(retrying(stack.operator.SubmitTask, request).task_id)


def deploy_driver(
    stack: Stack, moto: MotoProcess, function: int, count: int, stop_at: float, out: list[DeployRecord]
) -> None:
    s3 = moto.client("s3")
    for n in range(count):
        if time.monotonic() > stop_at:
            return
        key = f"s{function}/build-{n:03d}.zip"
        s3.put_object(Bucket=BUCKET, Key=key, Body=handler_zip(f"s{function}-{n}"), ChecksumAlgorithm="SHA256")
        t0 = time.monotonic()
        execution_id = retrying(stack.deploy, APP, f"s{function}-dev", key)
        status = ""
        give_up = time.monotonic() + EXECUTION_WAIT_S
        while time.monotonic() < give_up:
            status = str(retrying(stack.execution, execution_id)["status"])
            if status in ENDED:
                break
            time.sleep(0.2)
        out.append(DeployRecord(function, key, execution_id, status, time.monotonic() - t0))
        if status not in ENDED:
            return  # stuck: later deployments to this function would queue behind it; reported by _check


def wait_for(predicate: Any, timeout: float, interval: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


@contextmanager
def database(kind: str, work: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{(work / 'outrider.db').resolve()}"
        return
    with pg.fresh_schema() as dsn:
        yield dsn


def soak_store(kind: str, plan: Plan, work: Path) -> StoreResult:
    result = StoreResult(store={"sqlite": "SQLite", "postgres": "PostgreSQL"}[kind])
    work.mkdir(parents=True, exist_ok=True)
    machine_before = machine_busy_s()
    bench_before = time.process_time()
    with database(kind, work) as db_url:
        moto = MotoProcess(work).start()
        stack = Stack(work, db_url, moto.url, SERVER_FLAGS)
        db: Db | None = None
        try:
            moto.client("s3").create_bucket(Bucket=BUCKET)
            stack.start()
            db = Db(db_url)
            say(NAME, f"{result.store}: starting {plan.delegates} delegates")
            for i in range(plan.delegates):
                stack.add_delegate(f"d{i:02d}", max_tasks=plan.max_tasks, wait=False)
            if not wait_for(lambda: all("registered" in d.log_text() for d in stack.delegates), 120, 0.5):
                raise RuntimeError("not every delegate registered within 120 s")
            result.extra["delegate_start_cpu_s"] = statistics.median(_cpu_of(d.proc) for d in stack.delegates)
            services = {f"s{k}": s3_artifact(BUCKET, f"s{k}/build-*.zip") for k in range(plan.functions)}
            stack.apply(lambda_app_yaml(APP, services))

            say(NAME, f"{result.store}: calm baseline, {plan.calm_noops} no-ops")
            result.calm_noops_per_s = _calm(stack, plan, db)

            say(NAME, f"{result.store}: chaos with {plan.noops} no-ops, {plan.sleeps} sleeps, {plan.deploys} deploys")
            _chaos_phase(stack, moto, plan, db, result)
            _check(stack, moto, plan, db_url, result)
            assert stack.server is not None
            busy, total = (a - b for a, b in zip(machine_busy_s(), machine_before, strict=True))
            cpu = {
                "control plane": result.chaos.killed_cpu_s["control plane"] + _cpu_of(stack.server.proc),
                "delegates": result.chaos.killed_cpu_s["delegates"] + sum(_cpu_of(d.proc) for d in stack.delegates),
                "moto": _cpu_of(moto.proc),
                "bench": time.process_time() - bench_before,
            }
            cpu["everything else on the machine"] = busy - sum(cpu.values())
            result.extra["cpu_s"] = cpu
            result.extra["machine"] = {"busy_s": busy, "available_s": total}
        finally:
            if db is not None:
                db.close()
            stack.stop()
            moto.stop()
    return result


def _calm(stack: Stack, plan: Plan, db: Db) -> float:
    ids: list[str] = []
    started = time.time()
    submit_tasks(stack, plan, TASK_NOOP, plan.calm_noops, {}, ids)
    if not wait_for(lambda: db.counts().get(TASK_NOOP, {}).get("SUCCEEDED", 0) >= plan.calm_noops, 120, 0.05):
        raise RuntimeError("the calm baseline did not finish within 120 s")
    last = int(db.rows("SELECT MAX(updated_at) FROM tasks WHERE type = ?", (TASK_NOOP,))[0][0])
    return plan.calm_noops / max(last / 1000 - started, 1e-3)


def _chaos_phase(stack: Stack, moto: MotoProcess, plan: Plan, db: Db, result: StoreResult) -> None:
    per_function = plan.deploys // plan.functions
    result.deploys_planned = per_function * plan.functions
    records: list[DeployRecord] = []
    noop_ids: list[str] = []
    sleep_ids: list[str] = []
    started_ms = int(time.time() * 1000)
    stop_at = time.monotonic() + plan.deadline_s
    sleep_payload = {"seconds": 1.0, "lines": plan.sleep_lines}
    workers = [
        threading.Thread(target=submit_tasks, args=(stack, plan, TASK_NOOP, plan.noops // 2, {}, noop_ids)),
        threading.Thread(
            target=submit_tasks, args=(stack, plan, TASK_NOOP, plan.noops - plan.noops // 2, {}, noop_ids)
        ),
        threading.Thread(target=submit_tasks, args=(stack, plan, TASK_SLEEP, plan.sleeps, sleep_payload, sleep_ids)),
        *(
            threading.Thread(target=deploy_driver, args=(stack, moto, k, per_function, stop_at, records))
            for k in range(plan.functions)
        ),
    ]
    with Chaos(stack, plan, result.chaos) as chaos:
        for w in workers:
            w.start()
        while any(w.is_alive() for w in workers) and chaos.error is None:
            time.sleep(0.5)
            if time.monotonic() > stop_at + 180:
                break
        # Let the chaos go on until every submitted task ended (retries after kills included).
        wait_for(lambda: chaos.error is not None or db.open_tasks() == 0, max(stop_at - time.monotonic(), 0) + 30)
    if chaos.error is not None:
        raise RuntimeError(f"chaos loop failed: {chaos.error!r}")
    say(NAME, "chaos stopped; waiting for every task to end")
    wait_for(lambda: db.open_tasks() == 0, 90)
    result.unfinished = db.open_tasks()
    ended_ms = int(db.rows("SELECT MAX(updated_at) FROM tasks")[0][0])
    noop_end = int(db.rows("SELECT MAX(updated_at) FROM tasks WHERE type = ?", (TASK_NOOP,))[0][0])
    result.chaos_seconds = (ended_ms - started_ms) / 1000
    created_after = int(db.rows("SELECT COUNT(*) FROM tasks WHERE created_at >= ?", (started_ms,))[0][0])
    result.tasks_per_s = created_after / max(result.chaos_seconds, 1e-3)
    result.noops_per_s = len(noop_ids) / max((noop_end - started_ms) / 1000, 1e-3)
    result.tasks = db.counts()
    result.retried_tasks = int(db.rows("SELECT COUNT(*) FROM tasks WHERE attempt > 1")[0][0])
    result.executions = dict(
        Counter({str(s): int(n) for s, n in db.rows("SELECT status, COUNT(*) FROM executions GROUP BY status")})
    )
    result.deploys_submitted = len(records)
    result.deploy_seconds_median = statistics.median(r.seconds for r in records) if records else 0.0
    result.extra["acknowledged"] = {"noops": len(noop_ids), "sleeps": len(sleep_ids), "deploys": len(records)}
    result.extra["deploy_status"] = dict(Counter(r.status for r in records))
    noops_stored = result.tasks.get(TASK_NOOP, {})
    result.extra["duplicates"] = {
        "noop_tasks": sum(noops_stored.values()) - plan.calm_noops - len(noop_ids),
        "executions": sum(result.executions.values()) - len(records),
    }
    errors: Counter[str] = Counter()
    for (document,) in db.rows(
        "SELECT document FROM executions WHERE status NOT IN ('SUCCEEDED', 'QUEUED', 'RUNNING')"
    ):
        errors[re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:PORT", str(json.loads(document).get("error")))[:140]] += 1
    result.extra["execution_errors"] = dict(errors)
    result.extra["open_executions"] = [
        f"{eid} {status} since {(int(time.time() * 1000) - int(updated)) / 1000:.0f} s"
        for eid, status, updated in db.rows(
            "SELECT id, status, updated_at FROM executions WHERE status IN ('QUEUED', 'RUNNING')"
        )
    ]
    result.extra["leaked_locks"] = [
        f"{key} held by {eid} ({status} at {updated}; {_next_kill(result.chaos, int(updated))})"
        for key, eid, status, updated in db.rows(
            "SELECT l.lock_key, l.execution_id, e.status, e.updated_at FROM function_locks l JOIN executions e "
            "ON e.id = l.execution_id WHERE e.status NOT IN ('QUEUED', 'RUNNING')"
        )
    ]
    for ready in result.chaos.cp_ready_ms:
        first = db.rows(
            "SELECT MIN(updated_at) FROM tasks WHERE updated_at > ? AND state IN ('SUCCEEDED', 'FAILED', 'CANCELLED')",
            (ready,),
        )
        if first and first[0][0] is not None:
            result.recovery_s.append((int(first[0][0]) - ready) / 1000)


def _next_kill(chaos: ChaosLog, at_ms: int) -> str:
    later = [k - at_ms for k in chaos.cp_killed_ms if k >= at_ms]
    return f"control plane SIGKILLed {min(later)} ms later" if later else "no control plane kill after it"


def _check(stack: Stack, moto: MotoProcess, plan: Plan, db_url: str, result: StoreResult) -> None:
    lam = moto.client("lambda")
    functions = [f"{APP}-s{k}-dev" for k in range(plan.functions)]
    store = open_store(db_url)
    try:
        history: History = check_tasks(store)
        check_versions(lam, functions, history)
        noop_lost = noop_dup = 0
        for task in store.list_tasks(limit=100_000):
            if task.type != TASK_NOOP or task.state != "SUCCEEDED":
                continue
            lines = [
                line["text"]
                for b in store.read_logs(task.id, (task.attempt - 1, 1 << 30), 100)
                if b.attempt == task.attempt
                for line in json.loads(b.lines)
            ]
            mine = [t for t in lines if (m := NOOP_LINE.match(t)) and int(m.group(1)) == task.attempt]
            noop_lost += len(mine) == 0
            noop_dup += max(len(mine) - 1, 0)
        mismatches = _final_state(lam, store, plan)
    finally:
        store.close()
    result.history = {
        "tasks": history.tasks,
        "log_lines": history.log_lines,
        "lost": history.lost,
        "duplicated": history.duplicated,
        "problems": history.problems[:20],
        "problem_count": len(history.problems) + (1 if result.unfinished else 0),
    }
    result.extra.update({"noop_lines_lost": noop_lost, "noop_lines_duplicated": noop_dup, "state_mismatch": mismatches})
    result.problems = [*history.problems]
    if noop_lost or noop_dup:
        result.problems.append(f"no-op log lines: {noop_lost} lost, {noop_dup} duplicated")
    result.problems += mismatches
    result.problems += [f"execution did not end: {e}" for e in result.extra.get("open_executions", [])]
    result.problems += [f"lock left behind by an ended execution: {e}" for e in result.extra.get("leaked_locks", [])]
    if result.unfinished:
        result.problems.append(f"{result.unfinished} tasks had not ended when the soak stopped")


def _final_state(lam: Any, store: Any, plan: Plan) -> list[str]:
    """Each function's alias serves what the workflow's last successful execution deployed."""
    problems = []
    rows = store.list_executions(APP, ["SUCCEEDED"], 100_000)
    latest: dict[str, Any] = {}
    for row in sorted(rows, key=lambda r: r.created_at):
        latest[row.workflow] = row
    for k in range(plan.functions):
        workflow, fn = f"s{k}-dev", f"{APP}-s{k}-dev"
        row = latest.get(workflow)
        if row is None:
            problems.append(f"{workflow}: no successful execution")
            continue
        doc = json.loads(row.document)
        try:
            version = lam.get_alias(FunctionName=fn, Name=ALIAS)["FunctionVersion"]
            cfg = lam.get_function_configuration(FunctionName=fn, Qualifier=version)
        except Exception as exc:  # the function or alias is missing: that is the finding
            problems.append(f"{fn}: {type(exc).__name__}: {exc}")
            continue
        wanted = (doc.get("artifact") or {}).get("version")
        served = cfg.get("Environment", {}).get("Variables", {}).get("BUILD")
        if served != wanted:
            problems.append(f"{fn}: alias {ALIAS} serves BUILD={served}, last successful execution deployed {wanted}")
    return problems


# --- report --------------------------------------------------------------------------------------
def rows_of(results: list[StoreResult]) -> list[Row]:
    rows: list[Row] = []
    for r in results:
        h = r.history
        executions = ", ".join(f"{k} {v}" for k, v in sorted(r.executions.items()))
        history_problems = int(h.get("problem_count", 0))
        extra_problems = len(r.problems) - history_problems
        rows += [
            Row(
                f"history check, {r.store}: every task ended once, lines once and in order, no duplicate versions",
                f"{h.get('tasks', 0)} tasks, {h.get('log_lines', 0)} lines, lost {h.get('lost', 0)}, "
                f"duplicated {h.get('duplicated', 0)}, problems {history_problems}",
                "-",
                "-",
                "0 problems",
                judged(history_problems == 0),
            ),
            Row(
                f"more checks, {r.store}: no-op lines once, every execution ended, no lock left, final Lambda state",
                f"problems {extra_problems}",
                "-",
                "-",
                "0 problems",
                judged(extra_problems == 0),
            ),
            Row(
                f"no-op tasks/s under chaos, {r.store}",
                f"{r.noops_per_s:.0f}/s",
                f"calm {r.calm_noops_per_s:.0f}/s",
                f"{r.noops_per_s / max(r.calm_noops_per_s, 1e-9):.2f}",
            ),
            Row(
                f"all tasks/s under chaos (no-op, sleep, resolve, deploy), {r.store}",
                f"{r.tasks_per_s:.1f}/s",
                f"{sum(sum(s.values()) for s in r.tasks.values())} tasks in {r.chaos_seconds:.0f} s",
            ),
            Row(
                f"deployments, {r.store}",
                f"{r.deploys_submitted} of {r.deploys_planned}: {executions}",
                f"median {r.deploy_seconds_median:.1f} s each",
            ),
            Row(
                f"chaos, {r.store}",
                f"{r.chaos.delegate_kills} delegate kills, {r.chaos.cp_restarts} control plane restarts",
                f"{r.retried_tasks} tasks retried",
                "-",
                "-",
            ),
        ]
    return rows


def notes(results: list[StoreResult]) -> str:
    lines = []
    for r in results:
        down = ", ".join(f"{s:.1f}" for s in r.chaos.cp_down_s)
        recovery = ", ".join(f"{s:.1f}" for s in r.recovery_s)
        lines.append(f"{r.store}: tasks by type and state: {json.dumps(r.tasks, sort_keys=True)}")
        lines.append(
            f"{r.store}: control plane down (kill -> listening) {down} s; first task ended after restart {recovery} s; "
            f"delegate restarts {r.chaos.delegate_restarts}, delegates that exited by themselves "
            f"{r.chaos.unexpected_exits}"
        )
        lines.append(
            f"{r.store}: acknowledged {r.extra.get('acknowledged')}; deploy results {r.extra.get('deploy_status')}"
        )
        lines.append(f"{r.store}: duplicates created by retried operator calls: {r.extra.get('duplicates')}")
        for error, n in r.extra.get("execution_errors", {}).items():
            lines.append(f"{r.store}: {n} execution(s) ended with: {error}")
        lines.append(
            f"{r.store}: no-op lines lost {r.extra.get('noop_lines_lost')}, duplicated "
            f"{r.extra.get('noop_lines_duplicated')}; final state mismatches {len(r.extra.get('state_mismatch', []))}"
        )
        cpu, machine = r.extra.get("cpu_s", {}), r.extra.get("machine", {})
        if cpu and machine:
            restarts_cpu = r.chaos.delegate_restarts * r.extra.get("delegate_start_cpu_s", 0.0)
            lines.append(
                f"{r.store}: CPU over the whole store run: machine busy {machine['busy_s']:.0f} of "
                f"{machine['available_s']:.0f} core-seconds ({machine['busy_s'] / machine['available_s']:.0%}); "
                + ", ".join(f"{k} {v:.0f} s" for k, v in cpu.items())
                + f"; a delegate start costs {r.extra.get('delegate_start_cpu_s', 0):.1f} s CPU, so the "
                f"{r.chaos.delegate_restarts} restarts cost ~{restarts_cpu:.0f} s"
            )
        lines += [f"{r.store}: problem: {p}" for p in r.problems[:15]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.splitlines()[0])
    parser.add_argument("--stores", default="auto", help="sqlite, postgres, both, or auto (both if PostgreSQL answers)")
    parser.add_argument("--delegates", type=int, default=Plan.delegates)
    parser.add_argument("--noops", type=int, default=Plan.noops)
    parser.add_argument("--deploys", type=int, default=Plan.deploys)
    parser.add_argument("--deadline-s", type=float, default=Plan.deadline_s, help="per store; the workload stops then")
    parser.add_argument("--seed", type=int, default=Plan.seed)
    parser.add_argument("--keep", action="store_true", help="keep the work directory (process logs, databases)")
    args = parser.parse_args(argv)
    kinds = {"sqlite": ["sqlite"], "postgres": ["postgres"], "both": ["sqlite", "postgres"]}.get(args.stores)
    if kinds is None:
        kinds = ["sqlite", "postgres"] if pg.available() else ["sqlite"]
        if len(kinds) == 1:
            say(NAME, "PostgreSQL is not reachable; SQLite only")
    plan = Plan(
        delegates=args.delegates, noops=args.noops, deploys=args.deploys, deadline_s=args.deadline_s, seed=args.seed
    )
    work = Path(".bench") / f"{NAME}-work"
    shutil.rmtree(work, ignore_errors=True)
    started = time.monotonic()
    load_before = os.getloadavg()[0]
    results: list[StoreResult] = []
    for kind in kinds:
        try:
            results.append(soak_store(kind, plan, work / kind))
        except Exception as exc:
            say(NAME, f"{kind} failed: {type(exc).__name__}: {exc} (logs in {work / kind})")
            raise
    rows = rows_of(results)
    print(render(rows))
    print()
    print(notes(results))
    print(
        f"\nload average (1 min) {load_before:.2f} at start, {os.getloadavg()[0]:.2f} at end; "
        f"{time.monotonic() - started:.0f} s in all"
    )
    details = {"plan": asdict(plan), "stores": [{**asdict(r), "passed": r.passed} for r in results]}
    path = write_json(NAME, rows, details)
    say(NAME, f"wrote {path}")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0  # a result was produced (a failed check is in the table and the JSON), as `python -m bench`


if __name__ == "__main__":
    sys.exit(main())
