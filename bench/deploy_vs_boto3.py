"""`python -m bench.deploy_vs_boto3`: one Outrider deployment end to end against a plain boto3 script.

Issue 3's benchmark. Everything runs on loopback in one run: moto (`moto_server`, its own process),
a control plane on SQLite, one delegate. Each repetition uploads new artifacts to S3 and measures,
in a rotating order so drift on a shared machine hits every side alike:

- outrider (gRPC): `Deploy` RPC -> `WatchExecution` until its `done` event (what `outrider deploy`
  does, without the CLI's process start), from the bench process;
- outrider (CLI): `outrider deploy WORKFLOW --app APP --artifact KEY -o json` as a child process,
  which adds Python start-up and imports (information only);
- boto3: the calls a plain script makes to do the same on its own function, from a client created
  beforehand: get_function, update_function_code (S3 reference), wait (function_updated_v2),
  update_function_configuration, wait, publish_version, update_alias, tag_resource (8 calls);
- boto3-same (information only): a script making exactly the calls the delegate makes (13: the
  artifact lookup, the snapshot reads, the reuse check before publishing), which splits Outrider's
  overhead into "more AWS calls" and "orchestration".

Every artifact is new, and BUILD/`build` are rendered from `${artifact.version}`, so each Outrider
deployment also updates code, configuration and tags, as the script does. The judged figure is the
median of gRPC deployments / median of boto3 runs (target <= 1.5).

Afterwards the control plane's store gives a per-phase timeline of each gRPC deployment (task
queued/leased/ended, first log line of every section), CPU per deployment of each process, an
fsync probe and the CLI's start-up cost; one more deployment per side goes through a recording HTTP
proxy to count the AWS calls each makes. All are printed as evidence of where the time goes.

I/O: child processes, gRPC/HTTP on loopback, files under .bench/deploy_vs_boto3-work (replaced each
run), the result in .bench/deploy_vs_boto3.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.config import Config

from bench._stack import MotoProcess, Stack, cpu_seconds, handler_zip, lambda_app_yaml, s3_artifact, session
from bench._table import Row, judged, render, say, write_json
from control_plane.store import open_store
from tests.harness import BIN, DelegateProcess
from tests.support.aws_fault_proxy import AwsFaultProxy, Rule
from tests.support.lambda_stack import EXEC_ROLE

NAME = "deploy_vs_boto3"
APP, SERVICE, WORKFLOW = "bench", "api", "api-dev"
FUNCTION = f"{APP}-{SERVICE}-dev"
BASELINE_FUNCTION = "bench-api-boto3"
BUCKET = "bench-artifacts"
ALIAS = "dev"
TARGET_RATIO = 1.5
# Short intervals, as `make demo` and the tests use; none of them is on the deployment's path when
# the long-poll wakes on new work (lease/heartbeat only matter when something dies).
SERVER_FLAGS = ("--lease-seconds", "15", "--heartbeat-seconds", "2", "--poll-timeout-seconds", "5")
SIDES = ("grpc", "cli", "boto3", "boto3-same")
WAKE_PHASE = "execution stored -> client saw `done`"


@dataclass
class Sample:
    side: str
    rep: int
    seconds: float
    execution_id: str = ""
    started_ms: int = 0
    done_ms: int = 0


@dataclass
class Run:
    samples: list[Sample] = field(default_factory=list)
    phases: dict[str, list[float]] = field(default_factory=dict)
    calls: dict[str, dict[str, int]] = field(default_factory=dict)
    cpu_ms: dict[str, float] = field(default_factory=dict)
    """CPU per deployment: control plane and delegate (per Outrider deployment), the boto3 script."""
    probes: dict[str, float] = field(default_factory=dict)
    """Same-run costs that explain the overhead: fsync, CLI start + one RPC, spool writes per deploy."""

    def seconds(self, side: str) -> list[float]:
        return [s.seconds for s in self.samples if s.side == side]


class _Recorder(Rule):
    """A proxy rule that never injects anything: it only records each request line."""

    def __init__(self) -> None:
        super().__init__(path=".")
        self.seen: list[str] = []

    def matches(self, line: str, rng: random.Random) -> bool:
        self.seen.append(line)
        return False


# --- the two sides -------------------------------------------------------------------------------
def boto3_deploy(lam: Any, key: str) -> str:
    """What a plain script does to ship `key` to the baseline function; returns the new version."""
    waiter = lam.get_waiter("function_updated_v2")
    wait = {"Delay": 1, "MaxAttempts": 120}
    arn = lam.get_function(FunctionName=BASELINE_FUNCTION)["Configuration"]["FunctionArn"]
    lam.update_function_code(FunctionName=BASELINE_FUNCTION, S3Bucket=BUCKET, S3Key=key)
    waiter.wait(FunctionName=BASELINE_FUNCTION, WaiterConfig=wait)
    lam.update_function_configuration(FunctionName=BASELINE_FUNCTION, Environment={"Variables": {"BUILD": key}})
    waiter.wait(FunctionName=BASELINE_FUNCTION, WaiterConfig=wait)
    version = str(lam.publish_version(FunctionName=BASELINE_FUNCTION, Description=f"bench {key}")["Version"])
    lam.update_alias(FunctionName=BASELINE_FUNCTION, Name=ALIAS, FunctionVersion=version)
    lam.tag_resource(Resource=arn, Tags={"team": "bench", "build": key})
    return version


def boto3_same_calls(lam: Any, s3: Any, key: str) -> str:
    """The thirteen calls the delegate makes for one deployment (counted through the proxy below), from a
    script: artifact lookup, snapshot reads, the reuse check before publishing. Information only: it
    separates the cost of Outrider's extra AWS calls from the cost of its orchestration."""
    s3.get_bucket_location(Bucket=BUCKET)
    s3.head_object(Bucket=BUCKET, Key=key, ChecksumMode="ENABLED")
    arn = lam.get_function(FunctionName=BASELINE_FUNCTION)["Configuration"]["FunctionArn"]
    lam.list_aliases(FunctionName=BASELINE_FUNCTION)
    lam.list_versions_by_function(FunctionName=BASELINE_FUNCTION)
    lam.update_function_code(FunctionName=BASELINE_FUNCTION, S3Bucket=BUCKET, S3Key=key)
    _wait_ready(lam)
    lam.update_function_configuration(FunctionName=BASELINE_FUNCTION, Environment={"Variables": {"BUILD": key}})
    latest = _wait_ready(lam)
    lam.list_versions_by_function(FunctionName=BASELINE_FUNCTION)
    preconditions = {"CodeSha256": latest["CodeSha256"]}
    if latest.get("RevisionId"):  # moto leaves it out
        preconditions["RevisionId"] = latest["RevisionId"]
    version = str(
        lam.publish_version(FunctionName=BASELINE_FUNCTION, Description=f"bench {key}", **preconditions)["Version"]
    )
    lam.update_alias(FunctionName=BASELINE_FUNCTION, Name=ALIAS, FunctionVersion=version)
    lam.tag_resource(Resource=arn, Tags={"team": "bench", "build": key})
    return version


def _wait_ready(lam: Any) -> dict[str, Any]:
    for _ in range(600):
        cfg: dict[str, Any] = lam.get_function_configuration(FunctionName=BASELINE_FUNCTION)
        if cfg.get("LastUpdateStatus", "Successful") == "Successful" and cfg.get("State", "Active") == "Active":
            return cfg
        time.sleep(0.1)
    raise RuntimeError(f"{BASELINE_FUNCTION} never became ready")


def boto3_create(lam: Any, key: str) -> None:
    lam.create_function(
        FunctionName=BASELINE_FUNCTION,
        Runtime="python3.12",
        Role=EXEC_ROLE,
        Handler="app.handler",
        Code={"S3Bucket": BUCKET, "S3Key": key},
        Environment={"Variables": {"BUILD": key}},
        Tags={"team": "bench", "build": key},
    )
    lam.get_waiter("function_active_v2").wait(FunctionName=BASELINE_FUNCTION)
    version = lam.publish_version(FunctionName=BASELINE_FUNCTION)["Version"]
    lam.create_alias(FunctionName=BASELINE_FUNCTION, Name=ALIAS, FunctionVersion=version)


def grpc_deploy(stack: Stack, key: str) -> tuple[str, str]:
    execution_id = stack.deploy(APP, WORKFLOW, key)
    return execution_id, stack.watch_until_done(execution_id)


def cli_deploy(stack: Stack, key: str) -> tuple[str, str]:
    assert stack.server is not None
    env = {
        **os.environ,
        "OUTRIDER_SERVER": stack.server.address,
        "OUTRIDER_API_KEY": stack.api_key,
        "OUTRIDER_INSECURE": "1",
    }
    proc = subprocess.run(
        [str(BIN / "outrider"), "deploy", WORKFLOW, "--app", APP, "--artifact", key, "-o", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if not proc.stdout.strip():
        raise RuntimeError(f"outrider deploy printed nothing (exit {proc.returncode}): {proc.stderr[-500:]}")
    doc = json.loads(proc.stdout)
    return str(doc["id"]), str(doc["status"])


# --- the run -------------------------------------------------------------------------------------
def measure(work: Path, reps: int) -> Run:
    run = Run()
    moto = MotoProcess(work).start()
    stack: Stack | None = None
    proxy: AwsFaultProxy | None = None
    try:
        s3, lam = moto.client("s3"), moto.client("lambda")
        s3.create_bucket(Bucket=BUCKET)
        stack = Stack(work, f"sqlite:///{(work / 'outrider.db').resolve()}", moto.url, SERVER_FLAGS).start()
        stack.add_delegate("d1")
        stack.apply(lambda_app_yaml(APP, {SERVICE: s3_artifact(BUCKET, f"{SERVICE}/{SERVICE}-*.zip")}))

        def upload(tag: str) -> str:
            key = f"{SERVICE}/{SERVICE}-{tag}.zip"
            s3.put_object(Bucket=BUCKET, Key=key, Body=handler_zip(tag), ChecksumAlgorithm="SHA256")
            return key

        say(NAME, "warm-up: first deployment creates both functions (not timed)")
        first = upload("0")
        _, status = grpc_deploy(stack, first)
        if status != "SUCCEEDED":
            raise RuntimeError(f"warm-up deployment ended {status}")
        boto3_create(lam, first)
        boto3_deploy(lam, upload("0b"))  # every code path of the scripts once before timing them
        boto3_same_calls(lam, s3, upload("0c"))

        assert stack.server is not None
        assert stack.server.proc is not None
        pids = {"control plane": stack.server.proc.pid, "delegate": _pid(stack.delegates[0])}
        cpu_before = {k: cpu_seconds(pid) for k, pid in pids.items()}
        boto3_cpu = 0.0
        for rep in range(1, reps + 1):
            order = SIDES[rep % len(SIDES) :] + SIDES[: rep % len(SIDES)]
            for side in order:
                key = upload(f"{rep}-{side}")
                started_ms = int(time.time() * 1000)
                t0 = time.perf_counter()
                cpu0 = time.process_time()
                if side == "boto3":
                    boto3_deploy(lam, key)
                    execution_id, status = "", "SUCCEEDED"
                elif side == "boto3-same":
                    boto3_same_calls(lam, s3, key)
                    execution_id, status = "", "SUCCEEDED"
                elif side == "grpc":
                    execution_id, status = grpc_deploy(stack, key)
                else:
                    execution_id, status = cli_deploy(stack, key)
                elapsed = time.perf_counter() - t0
                if side.startswith("boto3"):
                    boto3_cpu += time.process_time() - cpu0
                if status != "SUCCEEDED":
                    raise RuntimeError(f"{side} deployment of {key} ended {status}")
                run.samples.append(Sample(side, rep, elapsed, execution_id, started_ms, int(time.time() * 1000)))
            last = run.samples[-len(SIDES) :]
            say(NAME, f"rep {rep}/{reps}: " + ", ".join(f"{s.side} {s.seconds * 1000:.0f} ms" for s in last))
        for k, pid in pids.items():
            run.cpu_ms[k] = (cpu_seconds(pid) - cpu_before[k]) * 1000 / (2 * reps)
        run.cpu_ms["boto3 scripts (both)"] = boto3_cpu * 1000 / (2 * reps)
        _check_final_state(lam, stack, run)
        run.probes = _probes(work, stack, run)
        run.phases = _timeline(stack.db_url, [s for s in run.samples if s.side == "grpc"])

        say(NAME, "counting AWS calls per deployment through a recording proxy (not timed)")
        recorder = _Recorder()
        proxy = AwsFaultProxy(moto.url, rules=[recorder]).start()
        for d in stack.delegates:
            d.terminate(30)
        stack.delegates.clear()
        stack.add_delegate("d-count", env={"AWS_ENDPOINT_URL": proxy.url})
        key = upload("count-o")
        recorder.seen.clear()
        _, status = grpc_deploy(stack, key)
        if status != "SUCCEEDED":
            raise RuntimeError(f"the counted deployment ended {status}")
        run.calls["outrider"] = dict(Counter(_operation(line) for line in recorder.seen))
        recorder.seen.clear()
        boto3_deploy(_client_via(proxy.url), upload("count-b"))
        run.calls["boto3"] = dict(Counter(_operation(line) for line in recorder.seen))
        recorder.seen.clear()
        boto3_same_calls(_client_via(proxy.url), _client_via(proxy.url, "s3"), upload("count-s"))
        run.calls["boto3-same"] = dict(Counter(_operation(line) for line in recorder.seen))
    finally:
        if stack is not None:
            stack.stop()
        if proxy is not None:
            proxy.stop()
        moto.stop()
    return run


def _pid(d: DelegateProcess) -> int:
    assert d.proc is not None
    return d.proc.pid


def _probes(work: Path, stack: Stack, run: Run) -> dict[str, float]:
    """Costs measured now, on this machine, that the timeline is made of."""
    fsyncs = []
    probe = work / "fsync-probe"
    for _ in range(30):  # what the delegate's spool does per batch/result/section: write, fsync, rename
        t0 = time.perf_counter()
        with open(probe.with_suffix(".tmp"), "w") as f:
            f.write("x" * 300)
            f.flush()
            os.fsync(f.fileno())
        os.replace(probe.with_suffix(".tmp"), probe)
        fsyncs.append(time.perf_counter() - t0)
    assert stack.server is not None
    env = {**os.environ, "OUTRIDER_SERVER": stack.server.address, "OUTRIDER_API_KEY": stack.api_key}
    last = next(s for s in reversed(run.samples) if s.side == "grpc")
    cli = []
    for _ in range(3):
        t0 = time.perf_counter()
        subprocess.run(
            [str(BIN / "outrider"), "executions", "get", last.execution_id, "-o", "json", "--insecure"],
            env=env,
            capture_output=True,
            check=True,
            timeout=60,
        )
        cli.append(time.perf_counter() - t0)
    store = open_store(stack.db_url)
    try:
        tasks = store.list_tasks(10, last.execution_id)
        batches = sum(len({(b.attempt, b.seq) for b in store.read_logs(t.id, (0, 0), 10_000)}) for t in tasks)
        sections = sum(
            len({line["section"] for b in store.read_logs(t.id, (0, 0), 10_000) for line in json.loads(b.lines)})
            for t in tasks
        )
    finally:
        store.close()
    return {
        "fsync_ms_median": statistics.median(fsyncs) * 1000,
        "fsync_ms_max": max(fsyncs) * 1000,
        "cli_executions_get_ms_median": statistics.median(cli) * 1000,
        "tasks_per_deployment": len(tasks),
        "log_batches_per_deployment": batches,
        "sections_per_deployment": sections,
    }


def _client_via(url: str, service: str = "lambda") -> Any:
    if service == "s3":  # a proxy has no per-bucket DNS names
        return session().client("s3", endpoint_url=url, config=Config(s3={"addressing_style": "path"}))
    return session().client(service, endpoint_url=url)


def _check_final_state(lam: Any, stack: Stack, run: Run) -> None:
    """The last gRPC/CLI deployment is what the alias serves: the measurement measured real deploys."""
    last = [s for s in run.samples if s.side != "boto3"][-1]
    doc = stack.execution(last.execution_id)
    alias = lam.get_alias(FunctionName=FUNCTION, Name=ALIAS)
    if doc["status"] != "SUCCEEDED" or alias["FunctionVersion"] != doc["functions"][0]["version"]:
        raise RuntimeError(f"alias {ALIAS} -> {alias['FunctionVersion']}, last execution {doc}")


def _operation(line: str) -> str:
    """A request line folded to its operation: Lambda by path (names as *), S3 by bucket/object and query."""
    method, _, target = line.partition(" ")
    path, _, query = target.partition("?")
    parts = [p for p in path.split("/") if p]
    if parts and re.fullmatch(r"20\d\d-\d\d-\d\d", parts[0]):
        known = {"functions", "aliases", "versions", "code", "configuration", "tags"}
        return f"lambda {method} /" + "/".join(p if p in known else "*" for p in parts[1:])
    what = "bucket" if len(parts) <= 1 else "object"
    sub = query.split("&")[0].split("=")[0]
    return f"s3 {method} {what}" + (f"?{sub}" if sub else "")


def _timeline(db_url: str, samples: list[Sample]) -> dict[str, list[float]]:
    """Seconds spent in each phase of each gRPC deployment, from the store's timestamps (ms)."""
    store = open_store(db_url)
    phases: dict[str, list[float]] = {}

    def add(name: str, start: float, end: float) -> None:
        phases.setdefault(name, []).append(max(end - start, 0) / 1000)

    try:
        for sample in samples:
            row = store.get_execution(sample.execution_id)
            assert row is not None
            tasks = {t.step or t.type: t for t in store.list_tasks(10, sample.execution_id)}
            resolve = next(t for t in tasks.values() if t.type == "artifact.resolve")
            deploy = next(t for t in tasks.values() if t.type == "lambda.deploy")
            r_att, d_att = store.list_attempts(resolve.id)[-1], store.list_attempts(deploy.id)[-1]
            r_lines, d_lines = _lines(store, resolve.id), _lines(store, deploy.id)
            add("Deploy RPC sent -> resolve task queued", sample.started_ms, resolve.created_at)
            add("resolve: queued -> leased by the delegate", resolve.created_at, r_att.started_at)
            add("resolve: leased -> last log line", r_att.started_at, r_lines[-1]["ts"])
            add("resolve: last log line -> completed", r_lines[-1]["ts"], r_att.ended_at)
            add("resolve completed -> deploy task queued", r_att.ended_at, deploy.created_at)
            add("deploy: queued -> leased by the delegate", deploy.created_at, d_att.started_at)
            add("deploy: leased -> first log line", d_att.started_at, d_lines[0]["ts"])
            sections: list[tuple[str, int]] = []
            for line in d_lines:
                if not sections or sections[-1][0] != line["section"]:
                    sections.append((line["section"], line["ts"]))
            for (section, start), (_, end) in zip(sections, [*sections[1:], ("", d_lines[-1]["ts"])], strict=True):
                add(f"deploy: first line in '{section}' -> first line of the next section", start, end)
            add("deploy: last log line -> completed", d_lines[-1]["ts"], d_att.ended_at)
            add("deploy completed -> execution SUCCEEDED stored", d_att.ended_at, row.updated_at)
            add(WAKE_PHASE, row.updated_at, sample.done_ms)
    finally:
        store.close()
    return phases


def _lines(store: Any, task_id: str) -> list[dict[str, Any]]:
    batches = store.read_logs(task_id, (0, 0), 10_000)
    last = max(b.attempt for b in batches)
    return [line for b in batches if b.attempt == last for line in json.loads(b.lines)]


# --- report --------------------------------------------------------------------------------------
def rows_of(run: Run) -> list[Row]:
    base = statistics.median(run.seconds("boto3"))
    grpc = statistics.median(run.seconds("grpc"))
    cli = statistics.median(run.seconds("cli"))
    same = statistics.median(run.seconds("boto3-same"))
    same_calls = sum(run.calls.get("boto3-same", {}).values()) or "same"
    n = len(run.seconds("grpc"))
    ratio = grpc / base
    return [
        Row(
            f"outrider deploy (gRPC Deploy + WatchExecution), median of {n}",
            f"{grpc * 1000:.0f} ms",
            f"boto3 script {base * 1000:.0f} ms",
            f"{ratio:.2f}x",
            f"<= {TARGET_RATIO}x",
            judged(ratio <= TARGET_RATIO),
        ),
        Row(
            f"outrider deploy (CLI `outrider deploy -o json`, incl. process start), median of {n}",
            f"{cli * 1000:.0f} ms",
            f"boto3 script {base * 1000:.0f} ms",
            f"{cli / base:.2f}x",
        ),
        Row(f"boto3 script (same AWS work, client made beforehand), median of {n}", f"{base * 1000:.0f} ms"),
        Row(
            f"outrider deploy (gRPC) vs a boto3 script making the delegate's exact {same_calls} calls, median of {n}",
            f"{grpc * 1000:.0f} ms",
            f"boto3, same calls {same * 1000:.0f} ms",
            f"{grpc / same:.2f}x",
        ),
        Row(
            "outrider gRPC min / max",
            f"{min(run.seconds('grpc')) * 1000:.0f} / {max(run.seconds('grpc')) * 1000:.0f} ms",
        ),
        Row("boto3 min / max", f"{min(run.seconds('boto3')) * 1000:.0f} / {max(run.seconds('boto3')) * 1000:.0f} ms"),
        Row(
            "gRPC deployments whose client saw `done` > 0.5 s after the execution was stored",
            f"{sum(1 for v in run.phases.get(WAKE_PHASE, []) if v > 0.5)} of {n}",
            "-",
            "-",
        ),
        Row(
            "AWS HTTP calls per deployment: outrider / boto3",
            f"{sum(run.calls.get('outrider', {}).values())}",
            f"{sum(run.calls.get('boto3', {}).values())}",
        ),
    ]


def timeline_text(run: Run) -> str:
    lines = ["where a gRPC deployment's time goes (median over the repetitions, from the store's timestamps):"]
    total = statistics.median(run.seconds("grpc"))
    for name, values in run.phases.items():
        med = statistics.median(values)
        lines.append(f"  {name:<72} {med * 1000:7.0f} ms  ({med / total:5.1%})  max {max(values) * 1000:.0f}")
    for side, ms in run.cpu_ms.items():
        lines.append(f"  CPU per deployment, {side}: {ms:.0f} ms")
    p = run.probes
    if p:
        fsyncs = p["sections_per_deployment"] + p["log_batches_per_deployment"] + p["tasks_per_deployment"]
        lines.append(
            f"  spool: {p['tasks_per_deployment']:.0f} tasks, {p['sections_per_deployment']:.0f} sections, "
            f"{p['log_batches_per_deployment']:.0f} log batches per deployment -> about {fsyncs:.0f} fsyncs "
            f"x {p['fsync_ms_median']:.1f} ms (median here, max {p['fsync_ms_max']:.1f}) = "
            f"~{fsyncs * p['fsync_ms_median']:.0f} ms"
        )
        lines.append(
            f"  CLI start-up + one RPC (`outrider executions get`): {p['cli_executions_get_ms_median']:.0f} ms"
        )
    for side, calls in run.calls.items():
        listed = ", ".join(f"{op} x{n}" for op, n in sorted(calls.items()))
        lines.append(f"  AWS calls, {side}: {sum(calls.values())}: {listed}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.deploy_vs_boto3", description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=7, help="repetitions of each side (default 7)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (process logs, database)")
    args = parser.parse_args(argv)
    work = Path(".bench") / f"{NAME}-work"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    started = time.monotonic()
    load_before = os.getloadavg()[0]
    try:
        run = measure(work, args.reps)
    except Exception as exc:
        say(NAME, f"failed: {type(exc).__name__}: {exc} (logs in {work})")
        raise
    rows = rows_of(run)
    print(render(rows))
    print()
    print(timeline_text(run))
    print(
        f"\nload average (1 min) {load_before:.2f} at start, {os.getloadavg()[0]:.2f} at end; "
        f"{time.monotonic() - started:.0f} s in all"
    )
    details = {
        "samples": [s.__dict__ for s in run.samples],
        "phases_s": run.phases,
        "aws_calls": run.calls,
        "cpu_ms_per_deployment": run.cpu_ms,
        "probes": run.probes,
        "measured": "gRPC: DeployRequest sent -> WatchExecution done event, in the bench process; "
        "CLI: `outrider deploy --artifact KEY -o json` child process wall time; "
        "boto3: the script's calls with a client created beforehand; "
        "boto3-same: a script making the delegate's exact calls (counted through the proxy)",
    }
    path = write_json(NAME, rows, details)
    say(NAME, f"wrote {path}")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
