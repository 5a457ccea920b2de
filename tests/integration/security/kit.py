"""Helpers for the security tests: a raw delegate client, database snapshots, secret scanners.

`RawDelegate` speaks DelegateService directly (no agent), so a test can play a hostile or
confused delegate: guess ids, reuse another delegate's lease, send what the real agent never would.
Everything talks to real processes over loopback; nothing is patched.
"""

from __future__ import annotations

import base64
import json
import re
import sqlite3
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import grpc

from shared.auth_metadata import bearer
from shared.pb.outrider.v1 import common_pb2, delegate_pb2, delegate_pb2_grpc, operator_pb2

# A one-second long poll keeps refusal tests fast; leases outlast a slow, loaded test machine.
FAST = ["--lease-seconds", "10", "--heartbeat-seconds", "0.5", "--poll-timeout-seconds", "1"]
TASK_TYPES = ("diagnostic.noop", "diagnostic.sleep")
GUARD = 10.0  # seconds; only a guard against a hang
EXEC_ROLE = "arn:aws:iam::123456789012:role/lambda-exec"


def unique(prefix: str) -> str:
    """A name no other test on the shared control plane uses."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def code_of(call: Any) -> grpc.StatusCode:
    """The status a call ends with (OK when it returns)."""
    try:
        call()
    except grpc.RpcError as exc:
        return exc.code()
    return grpc.StatusCode.OK


def refusal(call: Any) -> grpc.RpcError:
    """Run `call`, which must be refused; return the error for assertions."""
    try:
        call()
    except grpc.RpcError as exc:
        return exc
    raise AssertionError("the call was expected to be refused but succeeded")


@dataclass
class RawDelegate:
    """A delegate played by the test: one channel, one token, one session."""

    address: str
    token: str
    credentials: grpc.ChannelCredentials | None = None
    session_id: str = ""
    delegate_id: str = ""
    public_key: bytes = b""
    channel: grpc.Channel = field(init=False)

    def __post_init__(self) -> None:
        self.channel = (
            grpc.insecure_channel(self.address)
            if self.credentials is None
            else grpc.secure_channel(self.address, self.credentials)
        )
        self.stub: Any = delegate_pb2_grpc.DelegateServiceStub(self.channel)  # type: ignore[no-untyped-call]

    @property
    def metadata(self) -> tuple[tuple[str, str], ...]:
        return bearer(self.token)

    def register(
        self, name: str, selectors: Iterable[str] = (), task_types: Iterable[str] = TASK_TYPES, max_tasks: int = 4
    ) -> delegate_pb2.RegisterResponse:
        response: delegate_pb2.RegisterResponse = self.stub.Register(
            delegate_pb2.RegisterRequest(
                name=name,
                hostname="test-host",
                version="0.0.0-test",
                install_kind="dev",
                selectors=list(selectors),
                max_tasks=max_tasks,
                task_types=list(task_types),
            ),
            metadata=self.metadata,
            timeout=GUARD,
        )
        self.session_id, self.delegate_id = response.session_id, response.delegate_id
        self.public_key = response.task_signing_public_key
        return response

    def poll(self, wait_ms: int = 1_000, free_slots: int = 1) -> delegate_pb2.Task | None:
        response = self.stub.PollTask(
            delegate_pb2.PollTaskRequest(session_id=self.session_id, free_slots=free_slots, wait_ms=wait_ms),
            metadata=self.metadata,
            timeout=GUARD,
        )
        return response.task if response.HasField("task") else None

    def heartbeat(self, *leases: common_pb2.LeaseRef) -> list[delegate_pb2.LeaseState]:
        response = self.stub.Heartbeat(
            delegate_pb2.HeartbeatRequest(session_id=self.session_id, leases=list(leases)),
            metadata=self.metadata,
            timeout=GUARD,
        )
        return list(response.leases)

    def append(self, lease: common_pb2.LeaseRef, seq: int, *texts: str) -> int:
        response = self.stub.AppendLogs(
            delegate_pb2.AppendLogsRequest(
                session_id=self.session_id,
                lease=lease,
                batches=[
                    common_pb2.LogBatch(
                        seq=seq, lines=[common_pb2.LogLine(ts_ms=1, level="INFO", text=t) for t in texts]
                    )
                ],
            ),
            metadata=self.metadata,
            timeout=GUARD,
        )
        return int(response.acked_seq)

    def complete(
        self, lease: common_pb2.LeaseRef, state: int = common_pb2.TASK_STATE_SUCCEEDED, result: bytes = b"{}"
    ) -> delegate_pb2.CompleteTaskResponse:
        response: delegate_pb2.CompleteTaskResponse = self.stub.CompleteTask(
            delegate_pb2.CompleteTaskRequest(session_id=self.session_id, lease=lease, state=state, result=result),
            metadata=self.metadata,
            timeout=GUARD,
        )
        return response

    def close(self) -> None:
        self.channel.close()


def lease_of(task: delegate_pb2.Task) -> common_pb2.LeaseRef:
    return common_pb2.LeaseRef(task_id=task.task_id, attempt=task.attempt, lease_token=task.lease_token)


def app_config(app: str, provider: str) -> str:
    """A complete application (service, environment, workflow) deployed through `provider`."""
    return f"""
kind: Application
name: {app}
---
kind: Service
application: {app}
name: orders
spec:
  deploymentType: AWS_LAMBDA
  artifact: {{source: s3, cloudProvider: {provider}, bucket: artifacts, key: "orders/*.zip"}}
  functions: [{{runtime: python3.12, handler: app.handler}}]
---
kind: Environment
application: {app}
name: dev
spec:
  type: NON_PROD
  infrastructure:
    - {{name: default, cloudProvider: {provider}, region: us-east-1, executionRole: "{EXEC_ROLE}"}}
---
kind: Workflow
application: {app}
name: orders-dev
spec: {{strategy: basic, service: orders, environment: dev, infrastructure: default}}
"""


def apply_request(text: str) -> operator_pb2.ApplyRequest:
    return operator_pb2.ApplyRequest(files=[operator_pb2.ConfigDocument(source="config.yaml", text=text)])


def sqlite_path(db_url: str) -> Path:
    assert db_url.startswith("sqlite:///"), db_url
    return Path(db_url[len("sqlite:///") :])


def query(db_url: str, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Read the control plane's SQLite database directly, as an attacker with the file would."""
    conn = sqlite3.connect(str(sqlite_path(db_url)), timeout=30)
    try:
        return list(conn.execute(sql, params).fetchall())
    finally:
        conn.close()


def write(db_url: str, sql: str, params: tuple[Any, ...] = ()) -> int:
    """Change a row behind the control plane's back (the tampering attacker); returns rows changed."""
    conn = sqlite3.connect(str(sqlite_path(db_url)), timeout=30, isolation_level=None)
    try:
        return int(conn.execute(sql, params).rowcount)
    finally:
        conn.close()


# --- secret scanning -------------------------------------------------------------------------

# Shapes of AWS credentials: long-term and temporary access key ids, and moto's session tokens
# (real STS tokens are opaque base64; moto's share a fixed prefix).
AWS_SHAPES = {
    "long-term access key id": re.compile(rb"AKIA[0-9A-Z]{16}"),
    "temporary access key id": re.compile(rb"ASIA[0-9A-Z]{16}"),
    "moto session token": re.compile(rb"FQoGZXIvYXdzEBYaD"),
}


def leak_forms(value: str) -> dict[str, bytes]:
    """A value and the encodings it could be stored in: raw, JSON-escaped, base64, URL-encoded."""
    raw = value.encode()
    forms = {
        "raw": raw,
        "json": json.dumps(value)[1:-1].encode(),
        "base64": base64.b64encode(raw).rstrip(b"="),
        "base64url": base64.urlsafe_b64encode(raw).rstrip(b"="),
        "url": quote(value, safe="").encode(),
        "url+": quote_plus(value).encode(),
    }
    for index, line in enumerate(value.splitlines()):
        if len(line.strip()) >= 8:
            forms[f"line {index + 1}"] = line.strip().encode()
    return forms


def find_leaks(blobs: dict[str, bytes], secrets: dict[str, str], shapes: bool = True) -> list[str]:
    """Every (where, which secret, which form) found; empty when nothing leaked."""
    found = []
    for where, blob in blobs.items():
        for label, value in secrets.items():
            for form, needle in leak_forms(value).items():
                if needle and needle in blob:
                    found.append(f"{where}: {label} ({form})")
        if shapes:
            for label, pattern in AWS_SHAPES.items():
                match = pattern.search(blob)
                if match:
                    found.append(f"{where}: {label} shape {match.group(0)[:24]!r}")
    return found
