"""Real processes for the Lambda benchmarks: moto in its own process, a control plane, delegates.

`MotoProcess` runs `moto_server` as a child process so that AWS work is not charged to the bench
process (which also runs the boto3 baseline, fake artifact servers and the chaos loop). `Stack`
wraps tests.harness's ServerProcess/DelegateProcess with what a benchmark wants: info-level logs
(debug logging would be part of what is timed), a signing key in the work directory, an operator
gRPC client, and helpers to apply configuration, start a deployment and wait for it.

I/O: child processes, gRPC and HTTP on loopback, files under the given work directory.
"""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import grpc

from shared.auth_metadata import bearer
from shared.pb.outrider.v1 import operator_pb2, operator_pb2_grpc
from tests.harness import BIN, DelegateProcess, Operator, ServerProcess, admin_init
from tests.support.lambda_stack import AWS_ENV, EXEC_ROLE, REGION

ENDED = frozenset({"SUCCEEDED", "FAILED", "CANCELLED", "ROLLED_BACK"})
SELECTOR = "aws"


def free_port() -> int:
    """A loopback port that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def proc_kib(pid: int, name: str) -> int:
    """A `kB` field of /proc/<pid>/status (VmRSS, VmHWM, ...)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1])
    raise KeyError(name)


def cpu_seconds(pid: int) -> float:
    """User + system CPU a live process has used (/proc/<pid>/stat fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def handler_zip(tag: str, *, extra: bytes = b"") -> bytes:
    """A Python handler zip whose bytes (and so CodeSha256) differ for every `tag`."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        info = zipfile.ZipInfo("app.py", (2024, 1, 1, 0, 0, 0))
        zf.writestr(info, f"BUILD = {tag!r}\n\n\ndef handler(event, context):\n    return BUILD\n")
        if extra:
            zf.writestr(zipfile.ZipInfo("data.bin", (2024, 1, 1, 0, 0, 0)), extra)
    return buf.getvalue()


def session() -> boto3.session.Session:
    return boto3.session.Session(
        region_name=REGION,
        aws_access_key_id=AWS_ENV["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=AWS_ENV["AWS_SECRET_ACCESS_KEY"],
    )


class FastOperator(Operator):
    """tests.harness.Operator on a channel that reconnects within a second of a control plane restart
    (gRPC's default backoff grows to minutes), as the delegate's own channel does."""

    def __init__(self, address: str, api_key: str) -> None:
        self.channel = grpc.insecure_channel(
            address, options=[("grpc.initial_reconnect_backoff_ms", 100), ("grpc.max_reconnect_backoff_ms", 1000)]
        )
        self.stub: Any = operator_pb2_grpc.OperatorServiceStub(self.channel)  # type: ignore[no-untyped-call]
        self.metadata = bearer(api_key)


class MotoProcess:
    """`moto_server` on a free loopback port, in its own process, with an empty AWS."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> MotoProcess:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        log = open(self.workdir / "moto.log", "ab")  # noqa: SIM115 - owned by the child
        self.proc = subprocess.Popen(
            [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(self.port)], stdout=log, stderr=log
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"moto_server exited with {self.proc.returncode}; see {self.workdir / 'moto.log'}")
            try:
                urllib.request.urlopen(f"{self.url}/moto-api/data.json", timeout=2).close()
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise RuntimeError(f"moto_server did not answer within {timeout:.0f}s")
        iam = self.client("iam")
        iam.create_role(
            RoleName=EXEC_ROLE.rpartition("/")[2],
            AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
        )
        return self

    def client(self, service: str) -> Any:
        return session().client(service, endpoint_url=self.url)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


@dataclass
class Stack:
    """A control plane (`outrider server`) and delegates (`outrider-delegate run`) as child processes."""

    workdir: Path
    db_url: str
    aws_url: str
    server_flags: Sequence[str] = ("--lease-seconds", "10", "--heartbeat-seconds", "1", "--poll-timeout-seconds", "5")
    server: ServerProcess | None = None
    delegates: list[DelegateProcess] = field(default_factory=list)
    api_key: str = ""
    token: str = ""
    op: Operator | None = None

    def start(self) -> Stack:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.api_key = admin_init(self.db_url)
        extra = [*self.server_flags, "--log-level", "info", "--signing-key", str(self.workdir / "signing-key.pem")]
        self.server = ServerProcess(self.db_url, self.workdir, extra=extra).start()
        self.op = FastOperator(self.server.address, self.api_key)
        self.token = self.op.create_token("bench")
        return self

    @property
    def operator(self) -> Operator:
        assert self.op is not None
        return self.op

    def add_delegate(
        self,
        name: str,
        *,
        max_tasks: int = 4,
        wait: bool = True,
        extra: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
    ) -> DelegateProcess:
        assert self.server is not None
        d = DelegateProcess(
            self.server.address,
            self.token,
            name,
            self.workdir,
            selectors=(SELECTOR,),
            max_tasks=max_tasks,
            extra=["--log-level", "info", "--grace-seconds", "5", *extra],
            env={**AWS_ENV, "AWS_ENDPOINT_URL": self.aws_url, **(env or {})},
        ).start()
        self.delegates.append(d)
        if wait:
            deadline = time.monotonic() + 60
            while "registered" not in d.log_text():
                if d.proc is not None and d.proc.poll() is not None:
                    raise RuntimeError(f"delegate {name} exited at start:\n{d.log_text()[-2000:]}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"delegate {name} did not register within 60s")
                time.sleep(0.05)
        return d

    def apply(self, text: str) -> None:
        self.operator.Apply(
            operator_pb2.ApplyRequest(files=[operator_pb2.ConfigDocument(source="bench.yaml", text=text)])
        )

    def deploy(self, app: str, workflow: str, version: str = "", variables: Mapping[str, str] | None = None) -> str:
        response = self.operator.Deploy(
            operator_pb2.DeployRequest(
                workflow=workflow, application=app, artifact_version=version, variables=dict(variables or {})
            )
        )
        return str(json.loads(response.json)["id"])

    def execution(self, execution_id: str) -> dict[str, Any]:
        response = self.operator.GetExecution(operator_pb2.GetExecutionRequest(execution_id=execution_id))
        doc: dict[str, Any] = json.loads(response.json)
        return doc

    def watch_until_done(self, execution_id: str, timeout: float = 300.0) -> str:
        """Follow WatchExecution (event-driven, as `outrider deploy` waits) until it says done."""
        stub = self.operator.stub
        events = stub.WatchExecution(
            operator_pb2.WatchExecutionRequest(execution_id=execution_id),
            metadata=self.operator.metadata,
            timeout=timeout,
        )
        status = ""
        for event in events:
            status = event.status or status
            if event.done:
                return status
        raise RuntimeError(f"WatchExecution for {execution_id} ended without done (last status {status!r})")

    def stop(self) -> None:
        for d in self.delegates:
            if d.proc is not None and d.proc.poll() is None:
                d.proc.send_signal(signal.SIGTERM)
        for d in self.delegates:
            if d.proc is not None:
                try:
                    d.proc.wait(15)
                except subprocess.TimeoutExpired:
                    d.kill()
        if self.op is not None:
            self.op.close()
        if self.server is not None:
            self.server.stop()


def lambda_app_yaml(
    app: str,
    services: Mapping[str, str],
    *,
    staging_bucket: str | None = None,
    prelude: str = "",
) -> str:
    """Configuration for `app`: one single-function Service and one Workflow `<service>-dev` per entry
    of `services` (service name -> its `artifact:` block, indented by four spaces). Every deploy of a
    new artifact changes code, the BUILD environment variable and the `build` tag, so each one runs
    the full path: update code, wait, update configuration, wait, publish, move the alias, tag."""
    staging = f"\n      stagingBucket: {staging_bucket}" if staging_bucket else ""
    docs = [
        prelude.strip(),
        f"""
kind: CloudProvider
name: aws-bench
spec:
  type: aws
  delegateSelectors: [{SELECTOR}]
---
kind: Application
name: {app}
---
kind: Environment
application: {app}
name: dev
spec:
  type: NON_PROD
  infrastructure:
    - name: default
      cloudProvider: aws-bench
      region: {REGION}
      executionRole: "{EXEC_ROLE}"{staging}
""".strip(),
    ]
    for service, artifact in services.items():
        docs.append(
            f"""
kind: Service
application: {app}
name: {service}
spec:
  deploymentType: AWS_LAMBDA
  artifact:
{artifact.rstrip()}
  functions:
    - runtime: python3.12
      handler: app.handler
      memorySize: 128
      environment: {{BUILD: "${{artifact.version}}"}}
      tags: {{team: bench, build: "${{artifact.version}}"}}
---
kind: Workflow
application: {app}
name: {service}-dev
spec:
  strategy: basic
  service: {service}
  environment: dev
  infrastructure: default
  rollbackOnFailure: true
""".strip()
        )
    return "\n---\n".join(d for d in docs if d) + "\n"


def s3_artifact(bucket: str, key_glob: str) -> str:
    return f'    source: s3\n    cloudProvider: aws-bench\n    bucket: {bucket}\n    key: "{key_glob}"\n'


def retrying(fn: Any, *args: Any, deadline_s: float = 120.0, **kwargs: Any) -> Any:
    """Call an operator RPC, retrying while the control plane is down or restarting (soak)."""
    deadline = time.monotonic() + deadline_s
    delay = 0.1
    while True:
        try:
            return fn(*args, **kwargs)
        except grpc.RpcError as exc:
            code = exc.code()  # type: ignore[attr-defined]
            if code not in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.UNKNOWN):
                raise
            if time.monotonic() + delay > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 1.0)
