"""Real processes and real sockets for integration and fault tests.

`ServerProcess` runs `outrider server` and `DelegateProcess` runs `outrider-delegate run` as child
processes (so tests can SIGKILL them); `wait_until` polls a condition with a deadline instead of
sleeping and hoping.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import grpc

from shared.auth_metadata import bearer
from shared.pb.outrider.v1 import operator_pb2, operator_pb2_grpc

T = TypeVar("T")
BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parent.parent


def wait_until(
    predicate: Callable[[], T], timeout: float = 15.0, interval: float = 0.05, message: str = "condition"
) -> T:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except Exception as exc:  # the thing may not be up yet
            last = exc
            value = None  # type: ignore[assignment]
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(
        f"timed out after {timeout}s waiting for {message}" + (f" (last error: {last})" if last else "")
    )


def run_cli(
    *args: str, env: dict[str, str] | None = None, check: bool = False, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **(env or {})}
    proc = subprocess.run(
        [str(BIN / "outrider"), *args], capture_output=True, text=True, env=full_env, timeout=timeout, check=False
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"outrider {' '.join(args)} exited {proc.returncode}: {proc.stderr}")
    return proc


def admin_init(db_url: str) -> str:
    proc = run_cli("admin", "init", "--db", db_url, "-o", "json", check=True)
    return str(json.loads(proc.stdout)["apiKey"])


@dataclass
class ServerProcess:
    db_url: str
    workdir: Path
    extra: list[str] = field(default_factory=list)
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    env: dict[str, str] = field(default_factory=dict)
    insecure: bool = True  # False: `extra` carries --tls-cert/--tls-key (and --client-ca)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> ServerProcess:
        port_file = self.workdir / "server.port"
        port_file.unlink(missing_ok=True)
        listen = f"127.0.0.1:{self.port}"  # reuse the port across restarts so delegates reconnect
        log = open(self.workdir / "server.log", "ab")  # noqa: SIM115 - owned by the child
        self.proc = subprocess.Popen(
            [
                str(BIN / "outrider"),
                "server",
                "--listen",
                listen,
                "--db",
                self.db_url,
                *(["--insecure"] if self.insecure else []),
                "--port-file",
                str(port_file),
                "--log-level",
                "debug",
                *self.extra,
            ],
            stdout=log,
            stderr=log,
            env={**os.environ, **self.env},
        )
        wait_until(lambda: port_file.exists() or self._died(), timeout, message="control plane to listen")
        if self._died():
            raise AssertionError("control plane exited at start:\n" + self.log_text()[-3000:])
        self.port = int(port_file.read_text())
        return self

    def _died(self) -> bool:
        return self.proc is not None and self.proc.poll() is not None

    def log_text(self) -> str:
        return (self.workdir / "server.log").read_text(errors="replace")

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


@dataclass
class DelegateProcess:
    address: str
    token: str
    name: str
    workdir: Path
    selectors: tuple[str, ...] = ()
    max_tasks: int = 4
    extra: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None
    insecure: bool = True  # False: `extra` carries --ca-cert (and --client-cert/--client-key)

    @property
    def spool_dir(self) -> Path:
        return self.workdir / f"spool-{self.name}"

    @property
    def log_path(self) -> Path:
        return self.workdir / f"delegate-{self.name}.log"

    def start(self) -> DelegateProcess:
        token_file = self.workdir / f"{self.name}.token"
        token_file.write_text(self.token)
        args = [
            str(BIN / "outrider-delegate"),
            "run",
            "--control-plane",
            self.address,
            "--token-file",
            str(token_file),
            "--name",
            self.name,
            *(["--insecure"] if self.insecure else []),
            "--spool-dir",
            str(self.spool_dir),
            "--max-tasks",
            str(self.max_tasks),
            "--install-kind",
            "dev",
            "--log-level",
            "debug",
            *self.extra,
        ]
        for s in self.selectors:
            args += ["--selector", s]
        log = open(self.log_path, "ab")  # noqa: SIM115 - owned by the child
        self.proc = subprocess.Popen(args, stdout=log, stderr=log, env={**os.environ, **self.env})
        return self

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def terminate(self, timeout: float = 30) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)


class Operator:
    """A thin operator client over real gRPC, for assertions."""

    def __init__(self, address: str, api_key: str) -> None:
        self.channel = grpc.insecure_channel(address)
        self.stub: Any = operator_pb2_grpc.OperatorServiceStub(self.channel)  # type: ignore[no-untyped-call]
        self.metadata = bearer(api_key)

    def __getattr__(self, method: str) -> Callable[[Any], Any]:
        fn = getattr(self.stub, method)
        return lambda request, **kw: fn(request, metadata=self.metadata, timeout=kw.get("timeout", 30))

    def create_token(self, name: str, selectors: tuple[str, ...] = ()) -> str:
        token: str = self.CreateToken(operator_pb2.CreateTokenRequest(name=name, selectors=list(selectors))).token
        return token

    def submit(self, task_type: str = "diagnostic.noop", payload: dict[str, Any] | None = None, **kw: Any) -> str:
        info = self.SubmitTask(
            operator_pb2.SubmitTaskRequest(type=task_type, payload=json.dumps(payload or {}).encode(), **kw)
        )
        return str(info.task_id)

    def task(self, task_id: str) -> Any:
        return self.GetTask(operator_pb2.GetTaskRequest(task_id=task_id))

    def close(self) -> None:
        self.channel.close()
