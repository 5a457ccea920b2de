"""`python -m bench.large_artifact`: a 200 MB artifact through a real delegate, in constant memory.

Issue 6's benchmark. On loopback, in one run: the fake Artifactory of the test suite (in this
process, serving from memory with Range/ETag and basic auth), moto (`moto_server`, its own process),
a control plane on SQLite and one `outrider-delegate run` process. The artifact is a zip holding
`app.py` and ~200 MB of random bytes stored uncompressed (random, so it cannot shrink), built in a
temporary directory that is deleted at the end. The infrastructure has a `stagingBucket` (moto S3),
so the delegate streams the download to a temporary file while hashing it, checks the zip, uploads
it to the staging bucket by multipart upload and points Lambda at it.

Measured, in this order: a small warm-up deployment (loads the code paths and AWS clients once);
then alternately `curl -o /dev/null` of the artifact's download URL and a deployment of a new
200 MB artifact, so the baseline sees the same machine load.

- Peak RSS growth: right before each measured deployment the delegate's VmHWM is reset
  (`echo 5 > /proc/PID/clear_refs`), so VmHWM afterwards minus VmRSS at that moment is what the
  deployment added at its peak. Target < 64 MB. VmRSS is also sampled every 50 ms to show in which
  log section the peak happened.
- Download throughput: bytes / the time between the delegate's log lines "downloading" and
  "... valid zip" (its download phase: HTTP read, SHA-256 while streaming, temp-file write, zip
  central-directory check), against curl's own `time_total` for the same URL. Target >= 0.5.

I/O: child processes, HTTP and gRPC on loopback, a temp dir for the artifact, files under
.bench/large_artifact-work (replaced each run), the result in .bench/large_artifact.json.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any

from bench._stack import MotoProcess, Stack, handler_zip, lambda_app_yaml, proc_kib
from bench._table import Row, judged, render, say, write_json
from control_plane.store import open_store
from tests.integration.artifacts.fakes._server import Blob
from tests.integration.artifacts.fakes.artifactory import FakeArtifactory

NAME = "large_artifact"
APP, SERVICE, WORKFLOW = "bench", "big", "big-dev"
FUNCTION = f"{APP}-{SERVICE}-dev"
REPO = "libs-release-local"
STAGING = "bench-staging"
USER, PASSWORD = "deploy", "bench-password-1"
MB = 1024 * 1024
CURLS_PER_ROUND = 3
RSS_LIMIT_MB = 64
MIN_RATIO = 0.5
SERVER_FLAGS = ("--lease-seconds", "30", "--heartbeat-seconds", "2", "--poll-timeout-seconds", "5")


class _HashedBlob(Blob):
    """A Blob whose checksums are computed once. The fake recomputes SHA-256, SHA-1 and MD5 of the
    whole file for every listing, File Info and download (about 1.5 s for 200 MB): dead time added to
    both sides of the ratio, which would flatter the delegate. A real Artifactory stores them."""

    @cached_property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @cached_property
    def sha1(self) -> str:
        return hashlib.sha1(self.data, usedforsecurity=False).hexdigest()

    @cached_property
    def md5(self) -> str:
        return hashlib.md5(self.data, usedforsecurity=False).hexdigest()


@dataclass
class Deployment:
    artifact: str
    size: int
    seconds: float
    rss_idle_kib: int
    hwm_kib: int
    hwm_reset: bool
    download_s: float
    staging_s: float
    phases_s: dict[str, float] = field(default_factory=dict)
    peak_section: str = ""
    download_peak_kib: int = 0
    """Highest sampled VmRSS up to the delegate's "valid zip" line (the download phase and before)."""

    @property
    def growth_mb(self) -> float:
        return (self.hwm_kib - self.rss_idle_kib) / 1024

    @property
    def download_mbps(self) -> float:
        return self.size / MB / self.download_s


@dataclass
class Curl:
    seconds: float
    size: int

    @property
    def mbps(self) -> float:
        return self.size / MB / self.seconds


@dataclass
class Run:
    size_mb: int
    deployments: list[Deployment] = field(default_factory=list)
    curls: list[Curl] = field(default_factory=list)
    warmup_growth_mb: float = 0.0
    probes: dict[str, float] = field(default_factory=dict)
    """Single-core costs measured here: SHA-256 and temp-file write throughput, in MB/s."""


# --- the artifact --------------------------------------------------------------------------------
def build_artifact(directory: Path, tag: str, size: int) -> Path:
    """A zip of app.py (deflated) and `size` random bytes stored uncompressed, written in 4 MB pieces."""
    path = directory / f"big-{tag}.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(
            zipfile.ZipInfo("app.py", (2024, 1, 1, 0, 0, 0)),
            f"BUILD = {tag!r}\n\n\ndef handler(event, context):\n    return BUILD\n",
            compress_type=zipfile.ZIP_DEFLATED,
        )
        info = zipfile.ZipInfo("data.bin", (2024, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_STORED
        with zf.open(info, "w", force_zip64=True) as out:
            left = size
            while left > 0:
                piece = os.urandom(min(left, 4 * MB))
                out.write(piece)
                left -= len(piece)
    return path


def publish(artifactory: FakeArtifactory, path: Path, version: str, when: datetime) -> None:
    artifactory.put(REPO, version, b"")  # creates the entry; the bytes are set below with cached checksums
    blob = _HashedBlob(path.read_bytes(), when)
    _ = (blob.sha256, blob.sha1, blob.md5)  # computed now, not while a client waits
    artifactory.repos[REPO][version].blob = blob


# --- measuring -----------------------------------------------------------------------------------
class RssSampler:
    """VmRSS of a process every `interval` seconds in a background thread, with wall-clock ms."""

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        self.pid = pid
        self.interval = interval
        self.samples: list[tuple[int, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.samples.append((int(time.time() * 1000), proc_kib(self.pid, "VmRSS")))
            except (OSError, KeyError):
                return
            self._stop.wait(self.interval)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)


def reset_hwm(pid: int) -> bool:
    """Reset the process's peak RSS to its current RSS (Linux >= 4.0); False when not permitted."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def curl_download(url: str) -> Curl:
    proc = subprocess.run(
        [
            "/usr/bin/curl",
            "-s",
            "-S",
            "-f",
            "-u",
            f"{USER}:{PASSWORD}",
            "-o",
            "/dev/null",
            "-w",
            "%{time_total} %{size_download}",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    seconds, size = proc.stdout.split()
    return Curl(float(seconds), int(size))


def deploy_measured(stack: Stack, pid: int, version: str, size: int) -> Deployment:
    time.sleep(1.0)  # let the delegate settle after the previous step
    hwm_reset = reset_hwm(pid)
    idle = proc_kib(pid, "VmRSS")
    with RssSampler(pid) as sampler:
        t0 = time.perf_counter()
        execution_id = stack.deploy(APP, WORKFLOW, version)
        status = stack.watch_until_done(execution_id, timeout=900)
        seconds = time.perf_counter() - t0
    hwm = proc_kib(pid, "VmHWM")
    if status != "SUCCEEDED":
        raise RuntimeError(f"deployment of {version} ended {status}: {stack.execution(execution_id).get('error')}")
    lines = _deploy_lines(stack.db_url, execution_id)
    download_s = _between(lines, "downloading", "valid zip")
    staging_s = _between(lines, "staging to s3://", "staged at s3://")
    phases = _sections(lines)
    top = max((kib for _, kib in sampler.samples), default=0)
    peak_ms = next((ms for ms, kib in sampler.samples if kib >= top - 1024), 0)  # when RSS first neared its peak
    peak_section = next((line["section"] for line in reversed(lines) if line["ts"] <= peak_ms), "before the first line")
    downloaded_ms = next((line["ts"] for line in lines if "valid zip" in line["text"]), 0)
    download_peak = max((kib for ms, kib in sampler.samples if ms <= downloaded_ms), default=idle)
    return Deployment(
        version, size, seconds, idle, hwm, hwm_reset, download_s, staging_s, phases, peak_section, download_peak
    )


def _deploy_lines(db_url: str, execution_id: str) -> list[dict[str, Any]]:
    store = open_store(db_url)
    try:
        task = next(t for t in store.list_tasks(10, execution_id) if t.type == "lambda.deploy")
        batches = store.read_logs(task.id, (0, 0), 10_000)
    finally:
        store.close()
    last = max(b.attempt for b in batches)
    return [line for b in batches if b.attempt == last for line in json.loads(b.lines)]


def _between(lines: list[dict[str, Any]], start: str, end: str) -> float:
    """Seconds between the first line containing `start` and the next containing `end` (0 if absent)."""
    first = next((line["ts"] for line in lines if start in line["text"]), None)
    if first is None:
        return 0.0
    last = next((line["ts"] for line in lines if end in line["text"] and line["ts"] >= first), first)
    return max(last - first, 1) / 1000


def _sections(lines: list[dict[str, Any]]) -> dict[str, float]:
    """Seconds from the first line of each section to the first line of the next."""
    starts: list[tuple[str, int]] = []
    for line in lines:
        if not starts or starts[-1][0] != line["section"]:
            starts.append((line["section"], line["ts"]))
    ends = [*(ts for _, ts in starts[1:]), lines[-1]["ts"]]
    return {section: (end - start) / 1000 for (section, start), end in zip(starts, ends, strict=True)}


def measure(work: Path, artifacts: Path, size_mb: int, deployments: int) -> Run:
    run = Run(size_mb)
    moto = MotoProcess(work).start()
    stack: Stack | None = None
    artifactory = FakeArtifactory(users={USER: PASSWORD})
    try:
        moto.client("s3").create_bucket(Bucket=STAGING)
        artifactory.create_repo(REPO)
        artifactory.server.start()
        stack = Stack(work, f"sqlite:///{(work / 'outrider.db').resolve()}", moto.url, SERVER_FLAGS).start()
        delegate = stack.add_delegate(
            "d1", max_tasks=1, env={"OUTRIDER_SECRET_ARTIFACTORY_PASSWORD": PASSWORD, "TMPDIR": str(artifacts)}
        )
        assert delegate.proc is not None
        pid = delegate.proc.pid
        prelude = f"""
kind: ArtifactServer
name: artifactory-bench
spec:
  type: artifactory
  url: {artifactory.url}
  username: {USER}
  passwordSecret: artifactory-password
"""
        block = "    source: artifactory\n    server: artifactory-bench\n"
        block += f'    repository: {REPO}\n    path: "big/big-*.zip"\n'
        stack.apply(lambda_app_yaml(APP, {SERVICE: block}, staging_bucket=STAGING, prelude=prelude))
        t0 = datetime(2024, 1, 1, tzinfo=UTC)

        say(NAME, "warm-up: a small artifact (creates the function; loads the code paths)")
        small = artifacts / "small.zip"
        small.write_bytes(handler_zip("warm-up"))
        publish(artifactory, small, "big/big-0.zip", t0)
        warm = deploy_measured(stack, pid, "big/big-0.zip", small.stat().st_size)
        run.warmup_growth_mb = warm.growth_mb

        for n in range(1, deployments + 1):
            version = f"big/big-{n}.zip"
            say(NAME, f"building {version}: {size_mb} MB of random bytes, stored")
            path = build_artifact(artifacts, str(n), size_mb * MB)
            size = path.stat().st_size
            publish(artifactory, path, version, t0 + timedelta(hours=n))
            path.unlink()  # the fake serves it from memory; the temp dir holds one artifact at a time
            url = f"{artifactory.url}/{REPO}/{version}"
            round_ = [curl_download(url) for _ in range(CURLS_PER_ROUND)]
            run.curls += round_
            say(NAME, "curl -o /dev/null: " + ", ".join(f"{c.mbps:.0f} MB/s" for c in round_))
            if not run.probes:
                run.probes = _probes(artifactory.repos[REPO][version].blob.data, artifacts)
            d = deploy_measured(stack, pid, version, size)
            run.deployments.append(d)
            say(
                NAME,
                f"deployment {n}: {d.seconds:.1f} s, download {d.download_mbps:.0f} MB/s, "
                f"peak RSS +{d.growth_mb:.1f} MB (in section {d.peak_section!r})",
            )
            artifactory.repos[REPO][f"big/big-{n - 1}.zip"].blob = Blob(b"")  # free the previous artifact
        run.curls += [curl_download(f"{artifactory.url}/{REPO}/big/big-{deployments}.zip") for _ in range(2)]
        _check_lambda(moto, run)
    finally:
        if stack is not None:
            stack.stop()
        artifactory.server.stop()
        moto.stop()
    return run


def _probes(data: bytes, directory: Path) -> dict[str, float]:
    """What the delegate's download phase does besides reading the socket, timed here on the same bytes."""
    view = memoryview(data)
    t0 = time.perf_counter()
    digest = hashlib.sha256()
    for start in range(0, len(view), MB):
        digest.update(view[start : start + MB])
    sha_s = time.perf_counter() - t0
    path = directory / "write-probe.bin"
    t0 = time.perf_counter()
    with open(path, "wb") as out:
        for start in range(0, len(view), MB):
            out.write(view[start : start + MB])
    write_s = time.perf_counter() - t0
    path.unlink()
    return {"sha256_mbps": len(data) / MB / sha_s, "write_mbps": len(data) / MB / write_s}


def _check_lambda(moto: MotoProcess, run: Run) -> None:
    """The function really runs the last big artifact, by reference to the staging bucket."""
    lam = moto.client("lambda")
    fn = lam.get_function(FunctionName=FUNCTION)
    size = fn["Configuration"]["CodeSize"]
    if size != run.deployments[-1].size:
        raise RuntimeError(f"{FUNCTION} has {size} bytes of code, expected {run.deployments[-1].size}")
    staged = moto.client("s3").list_objects_v2(Bucket=STAGING).get("KeyCount", 0)
    if staged < len(run.deployments):
        raise RuntimeError(f"staging bucket holds {staged} objects, expected at least {len(run.deployments)}")


# --- report --------------------------------------------------------------------------------------
def rows_of(run: Run) -> list[Row]:
    growth = max(d.growth_mb for d in run.deployments)
    delegate_mbps = statistics.median(d.download_mbps for d in run.deployments)
    curl_mbps = statistics.median(c.mbps for c in run.curls)
    ratio = delegate_mbps / curl_mbps
    size = run.deployments[0].size / MB
    return [
        Row(
            f"delegate peak RSS growth, {size:.0f} MB artifact via stagingBucket (worst of {len(run.deployments)})",
            f"{growth:.1f} MB",
            f"idle RSS {run.deployments[0].rss_idle_kib / 1024:.0f} MB",
            f"{growth / RSS_LIMIT_MB:.0%} of limit",
            f"< {RSS_LIMIT_MB} MB",
            judged(growth < RSS_LIMIT_MB),
        ),
        Row(
            f"delegate download throughput (median of {len(run.deployments)})",
            f"{delegate_mbps:.0f} MB/s",
            f"curl -o /dev/null {curl_mbps:.0f} MB/s (median of {len(run.curls)})",
            f"{ratio:.2f}",
            f">= {MIN_RATIO}",
            judged(ratio >= MIN_RATIO),
        ),
        Row(
            "staging: multipart upload to the staging bucket (median)",
            f"{statistics.median(size / d.staging_s for d in run.deployments):.0f} MB/s",
            "-",
            "-",
        ),
        Row(
            "deployment end to end (Deploy RPC -> done), median",
            f"{statistics.median(d.seconds for d in run.deployments):.1f} s",
        ),
        Row("peak RSS growth of the small warm-up deployment (cold delegate)", f"{run.warmup_growth_mb:.1f} MB"),
    ]


def notes(run: Run) -> str:
    lines = []
    for i, d in enumerate(run.deployments, 1):
        phases = ", ".join(f"{k} {v:.1f} s" for k, v in d.phases_s.items())
        lines.append(
            f"deployment {i}: RSS idle {d.rss_idle_kib / 1024:.0f} MB, peak {d.hwm_kib / 1024:.0f} MB "
            f"(VmHWM {'reset before' if d.hwm_reset else 'NOT reset: includes earlier peaks'}); sampled RSS by the "
            f"end of the download +{(d.download_peak_kib - d.rss_idle_kib) / 1024:.1f} MB; peak during "
            f"{d.peak_section!r}; download {d.download_s:.2f} s, staging {d.staging_s:.2f} s; sections: {phases}"
        )
    lines.append("curl: " + ", ".join(f"{c.seconds:.2f} s ({c.mbps:.0f} MB/s)" for c in run.curls))
    if run.probes:
        size = run.deployments[0].size / MB
        sha_s, write_s = size / run.probes["sha256_mbps"], size / run.probes["write_mbps"]
        curl_s = size / statistics.median(c.mbps for c in run.curls)
        download_s = statistics.median(d.download_s for d in run.deployments)
        lines.append(
            f"download phase {download_s:.2f} s vs curl {curl_s:.2f} s; on one core here SHA-256 runs at "
            f"{run.probes['sha256_mbps']:.0f} MB/s ({sha_s:.2f} s per pass over {size:.0f} MB) and the temp-file "
            f"write at {run.probes['write_mbps']:.0f} MB/s ({write_s:.2f} s); the delegate hashes every byte twice "
            f"(http.py's verifier and fetch._download), serially with the socket reads: "
            f"curl + 2 x SHA-256 + write = {curl_s + 2 * sha_s + write_s:.2f} s"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.large_artifact", description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=200, help="random bytes in the artifact (default 200)")
    parser.add_argument("--deployments", type=int, default=3, help="measured deployments (default 3)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (process logs, database)")
    args = parser.parse_args(argv)
    if not 50 < args.size_mb <= 245:
        parser.error("--size-mb must be over 50 (to go through the staging bucket) and at most 245 (Lambda's limit)")
    work = Path(".bench") / f"{NAME}-work"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    artifacts = Path(tempfile.mkdtemp(prefix="outrider-bench-artifact-"))
    started = time.monotonic()
    load_before = os.getloadavg()[0]
    try:
        run = measure(work, artifacts, args.size_mb, args.deployments)
    except Exception as exc:
        say(NAME, f"failed: {type(exc).__name__}: {exc} (logs in {work})")
        raise
    finally:
        shutil.rmtree(artifacts, ignore_errors=True)
    rows = rows_of(run)
    print(render(rows))
    print()
    print(notes(run))
    print(
        f"\nload average (1 min) {load_before:.2f} at start, {os.getloadavg()[0]:.2f} at end; "
        f"{time.monotonic() - started:.0f} s in all"
    )
    details = {
        "deployments": [
            {**d.__dict__, "growth_mb": d.growth_mb, "download_mbps": d.download_mbps} for d in run.deployments
        ],
        "curls": [{**c.__dict__, "mbps": c.mbps} for c in run.curls],
        "warmup_growth_mb": run.warmup_growth_mb,
        "probes": run.probes,
        "measured": "RSS: VmHWM after the deployment - VmRSS when idle right before it (VmHWM reset via clear_refs); "
        "download: delegate log lines 'downloading' -> 'valid zip' (HTTP read, SHA-256, temp file, zip check) "
        "vs curl time_total for the same URL",
    }
    path = write_json(NAME, rows, details)
    say(NAME, f"wrote {path}")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
