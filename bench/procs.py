"""Child processes the benchmarks measure: the control plane (stock or RPC-counting) and its probes.

I/O: starts and stops processes, reads /proc/<pid>/status, scrapes the server's /metrics over
loopback HTTP. Delegate processes come from tests.harness.DelegateProcess.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from tests.harness import BIN, admin_init

STOCK_SERVER = (str(BIN / "outrider"),)
COUNTING_SERVER = (sys.executable, "-m", "bench.rpc_counter")


def wait_for_port_file(path: Path, proc: subprocess.Popen[bytes], what: str, timeout: float = 60.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode} before listening")
        if path.exists():
            return int(path.read_text().strip())
        time.sleep(0.02)
    raise RuntimeError(f"{what} did not listen within {timeout:.0f}s")


def free_port() -> int:
    """A port that was free a moment ago (for --http-listen, which has no port-0 report)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def proc_status_kib(pid: int, field_name: str) -> int:
    """A `kB` field of /proc/<pid>/status, e.g. VmRSS or VmHWM."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1])
    raise KeyError(field_name)


@dataclass
class ControlPlane:
    """`outrider server --insecure` on loopback port 0, with /metrics on a free port."""

    db_url: str
    workdir: Path
    name: str = "cp"
    extra: Sequence[str] = ()
    launcher: Sequence[str] = STOCK_SERVER
    env: dict[str, str] = field(default_factory=dict)
    port: int = 0
    http_port: int = 0
    api_key: str = ""
    proc: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    @property
    def log_path(self) -> Path:
        return self.workdir / f"{self.name}.log"

    def start(self) -> ControlPlane:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.api_key = admin_init(self.db_url)
        port_file = self.workdir / f"{self.name}.port"
        self.http_port = free_port()
        log = open(self.log_path, "ab")  # noqa: SIM115 - owned by the child
        self.proc = subprocess.Popen(
            [
                *self.launcher,
                "server",
                "--listen",
                "127.0.0.1:0",
                "--db",
                self.db_url,
                "--insecure",
                "--port-file",
                str(port_file),
                "--http-listen",
                f"127.0.0.1:{self.http_port}",
                "--signing-key",
                str(self.workdir / f"{self.name}.signing-key.pem"),
                *self.extra,
            ],
            stdout=log,
            stderr=log,
            env={**os.environ, **self.env},
        )
        log.close()
        self.port = wait_for_port_file(port_file, self.proc, "control plane")
        return self

    def metrics(self) -> dict[str, float]:
        """Prometheus samples by name (labels folded into the name as name{k=v,...})."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}/metrics", timeout=10) as resp:
            text = resp.read().decode()
        samples: dict[str, float] = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
                samples[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
        return samples

    def polls_waiting(self) -> int:
        return int(self.metrics().get("outrider_polls_waiting", 0))

    def rss_kib(self) -> int:
        return proc_status_kib(self.pid, "VmRSS")

    def peak_rss_kib(self) -> int:
        return proc_status_kib(self.pid, "VmHWM")

    def signal(self, sig: signal.Signals) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (/proc/<pid>/stat fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
