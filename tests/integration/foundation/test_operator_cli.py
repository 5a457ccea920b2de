"""The operator CLI against a real control plane: JSON output, exit codes, one-line errors."""

from __future__ import annotations

import json
import socket
import urllib.request
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.harness import ServerProcess, run_cli, wait_until


def _cli(server: ServerProcess, *args: str, key: str | None = None):  # type: ignore[no-untyped-def]
    return run_cli(*args, "--server", server.address, "--insecure", "--api-key", key or server.api_key)  # type: ignore[attr-defined]


def test_tokens_and_api_keys_round_trip(server: ServerProcess) -> None:
    created = _cli(server, "token", "create", "ci", "--selector", "dev", "-o", "json")
    assert created.returncode == 0, created.stderr
    doc = json.loads(created.stdout)
    assert doc["token"].startswith("ordt_") and set(doc["install"]) == {"shell", "docker", "ecs"}
    listed = json.loads(_cli(server, "token", "list", "-o", "json").stdout)
    assert [(t["name"], t["selectors"], t["revoked"]) for t in listed] == [("ci", ["dev"], False)]
    assert "ordt_" not in _cli(server, "token", "list", "-o", "json").stdout  # secrets are never listed
    dup = _cli(server, "token", "create", "ci")
    assert dup.returncode == 2 and "exists already" in dup.stderr and "Traceback" not in dup.stderr
    assert _cli(server, "token", "revoke", "ci").returncode == 0
    viewer = json.loads(_cli(server, "apikey", "create", "v1", "--role", "viewer", "-o", "json").stdout)
    assert viewer["apiKey"].startswith("orak_") and viewer["role"] == "viewer"
    denied = _cli(server, "token", "create", "x", key=viewer["apiKey"])
    assert denied.returncode == 3 and "may not token.create" in denied.stderr
    assert _cli(server, "delegates", "list", "-o", "json", key=viewer["apiKey"]).returncode == 0
    audit = json.loads(_cli(server, "audit", "-o", "json").stdout)
    actions = [(a["action"], a["target"], a["result"].split(":")[0]) for a in audit]
    assert ("token.create", "ci", "ok") in actions and ("token.revoke", "ci", "ok") in actions
    assert ("token.create", "ci", "error") in actions  # the refused duplicate is audited too


def test_exit_code_3_when_unreachable_or_unauthenticated(server: ServerProcess) -> None:
    bad = _cli(server, "delegates", "list", key="orak_wrong")
    assert bad.returncode == 3 and bad.stderr.count("\n") == 1 and "API key" in bad.stderr
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        free = s.getsockname()[1]
    down = run_cli("delegates", "list", "--server", f"127.0.0.1:{free}", "--insecure", "--api-key", "k")
    assert down.returncode == 3 and "cannot reach the control plane" in down.stderr


def test_admin_init_twice_is_refused(db_url: str, server: ServerProcess) -> None:
    again = run_cli("admin", "init", "--db", db_url)
    assert again.returncode == 2 and "already initialised" in again.stderr


def test_server_refuses_plaintext_without_insecure(tmp_path: Path, db_url: str) -> None:
    proc = run_cli("server", "--listen", "127.0.0.1:0", "--db", db_url)
    assert proc.returncode == 2 and "TLS is on by default" in proc.stderr


def test_health_reflection_metrics(db_url: str, tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        http_port = s.getsockname()[1]
    srv = ServerProcess(db_url, tmp_path, extra=["--http-listen", f"127.0.0.1:{http_port}"])
    srv.start()
    try:
        channel = grpc.insecure_channel(srv.address)
        health = health_pb2_grpc.HealthStub(channel)
        reply = health.Check(health_pb2.HealthCheckRequest(service="outrider.v1.DelegateService"))
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
        channel.close()
        base = f"http://127.0.0.1:{http_port}"
        assert wait_until(lambda: urllib.request.urlopen(base + "/readyz").status == 200, 10, message="readyz")
        assert urllib.request.urlopen(base + "/healthz").read() == b"ok\n"
        metrics = urllib.request.urlopen(base + "/metrics").read().decode()
        assert "outrider_tasks_queued" in metrics and "outrider_polls_waiting" in metrics
        assert 'outrider_rpc_seconds_count{method="Check"}' in metrics  # the health check above was timed
    finally:
        srv.stop()
