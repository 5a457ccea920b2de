"""TLS and mTLS on the real `outrider server`, with certificates from `outrider certs dev`.

A client the server's TLS refuses sees UNAVAILABLE (the handshake fails before any RPC), and so
never reaches authentication: a plaintext client, a client that does not trust the server's CA,
and under mTLS a client with no certificate or one from another CA. Positive controls show the same
calls succeed with the right credentials, so every refusal is about the transport.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest

from shared.auth_metadata import bearer
from shared.pb.outrider.v1 import common_pb2, operator_pb2, operator_pb2_grpc
from shared.tls import DevCerts, channel_credentials, generate_dev_certs
from tests.harness import DelegateProcess, ServerProcess, admin_init, run_cli, wait_until
from tests.integration.security.kit import FAST, GUARD, RawDelegate, code_of, unique

UNAVAILABLE = grpc.StatusCode.UNAVAILABLE


@dataclass
class TlsPlane:
    server: ServerProcess
    api_key: str
    certs: DevCerts
    token: str

    @property
    def address(self) -> str:
        return self.server.address


def _certs_via_cli(out: Path) -> DevCerts:
    run_cli("certs", "dev", "--out", str(out), check=True)
    return DevCerts(
        ca_cert=out / "ca.pem",
        ca_key=out / "ca-key.pem",
        server_cert=out / "server.pem",
        server_key=out / "server-key.pem",
        client_cert=out / "client.pem",
        client_key=out / "client-key.pem",
    )


def _operator(address: str, api_key: str, credentials: grpc.ChannelCredentials | None) -> Any:
    channel = grpc.insecure_channel(address) if credentials is None else grpc.secure_channel(address, credentials)
    stub = operator_pb2_grpc.OperatorServiceStub(channel)  # type: ignore[no-untyped-call]
    return lambda: stub.ListTokens(operator_pb2.ListTokensRequest(), metadata=bearer(api_key), timeout=GUARD)


def _start(workdir: Path, certs: DevCerts, mtls: bool) -> TlsPlane:
    db_url = f"sqlite:///{workdir / 'cp.db'}"
    api_key = admin_init(db_url)
    tls = ["--tls-cert", str(certs.server_cert), "--tls-key", str(certs.server_key)]
    if mtls:
        tls += ["--client-ca", str(certs.ca_cert)]
    server = ServerProcess(db_url, workdir, extra=[*FAST, *tls], insecure=False).start()
    client = ["--ca-cert", str(certs.ca_cert)]
    if mtls:
        client += ["--client-cert", str(certs.client_cert), "--client-key", str(certs.client_key)]
    made = run_cli(
        "token", "create", unique("vpc"), "-o", "json", "--server", server.address, "--api-key", api_key, *client
    )
    assert made.returncode == 0, made.stderr
    return TlsPlane(server, api_key, certs, json.loads(made.stdout)["token"])


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> DevCerts:
    return _certs_via_cli(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="module")
def other_ca(tmp_path_factory: pytest.TempPathFactory) -> DevCerts:
    return generate_dev_certs(tmp_path_factory.mktemp("other-ca"))


@pytest.fixture(scope="module")
def tls_plane(tmp_path_factory: pytest.TempPathFactory, certs: DevCerts) -> Iterator[TlsPlane]:
    plane = _start(tmp_path_factory.mktemp("tls"), certs, mtls=False)
    yield plane
    plane.server.stop()


@pytest.fixture(scope="module")
def mtls_plane(tmp_path_factory: pytest.TempPathFactory, certs: DevCerts) -> Iterator[TlsPlane]:
    plane = _start(tmp_path_factory.mktemp("mtls"), certs, mtls=True)
    yield plane
    plane.server.stop()


def _client_flags(ca: Path, cert: Path, key: Path) -> list[str]:
    return ["--ca-cert", str(ca), "--client-cert", str(cert), "--client-key", str(key)]


def _register(plane: TlsPlane, credentials: grpc.ChannelCredentials | None) -> grpc.StatusCode:
    raw = RawDelegate(plane.address, plane.token, credentials)
    try:
        return code_of(lambda: raw.register(unique("d")))
    finally:
        raw.close()


def test_tls_server_refuses_plaintext_and_untrusted_clients(tls_plane: TlsPlane, other_ca: DevCerts) -> None:
    right = channel_credentials(tls_plane.certs.ca_cert)
    wrong_ca = channel_credentials(other_ca.ca_cert)
    assert _register(tls_plane, right) == grpc.StatusCode.OK
    assert code_of(_operator(tls_plane.address, tls_plane.api_key, right)) == grpc.StatusCode.OK
    assert _register(tls_plane, None) == UNAVAILABLE
    assert code_of(_operator(tls_plane.address, tls_plane.api_key, None)) == UNAVAILABLE
    assert _register(tls_plane, wrong_ca) == UNAVAILABLE
    assert code_of(_operator(tls_plane.address, tls_plane.api_key, wrong_ca)) == UNAVAILABLE
    # The CLI in plaintext against it: one line, exit code 3 (cannot reach the control plane).
    proc = run_cli("token", "list", "--server", tls_plane.address, "--api-key", tls_plane.api_key, "--insecure")
    assert proc.returncode == 3 and proc.stderr.strip().count("\n") == 0, proc.stderr


def test_mtls_server_refuses_clients_without_a_certificate_of_its_ca(mtls_plane: TlsPlane, other_ca: DevCerts) -> None:
    certs = mtls_plane.certs
    right = channel_credentials(certs.ca_cert, certs.client_cert, certs.client_key)
    no_cert = channel_credentials(certs.ca_cert)
    foreign_cert = channel_credentials(certs.ca_cert, other_ca.client_cert, other_ca.client_key)
    assert _register(mtls_plane, right) == grpc.StatusCode.OK
    assert code_of(_operator(mtls_plane.address, mtls_plane.api_key, right)) == grpc.StatusCode.OK
    for label, credentials in {"plaintext": None, "no client cert": no_cert, "other CA": foreign_cert}.items():
        assert _register(mtls_plane, credentials) == UNAVAILABLE, label
        assert code_of(_operator(mtls_plane.address, mtls_plane.api_key, credentials)) == UNAVAILABLE, label


@pytest.mark.slow
def test_delegates_over_mtls_run_tasks_and_one_with_a_foreign_cert_never_registers(
    mtls_plane: TlsPlane, other_ca: DevCerts, tmp_path: Path
) -> None:
    certs = mtls_plane.certs
    good = DelegateProcess(
        mtls_plane.address,
        mtls_plane.token,
        unique("good"),
        tmp_path,
        insecure=False,
        extra=_client_flags(certs.ca_cert, certs.client_cert, certs.client_key),
    ).start()
    foreign = DelegateProcess(
        mtls_plane.address,
        mtls_plane.token,
        unique("foreign"),
        tmp_path,
        insecure=False,
        extra=_client_flags(certs.ca_cert, other_ca.client_cert, other_ca.client_key),
    ).start()
    try:
        client = ["--server", mtls_plane.address, "--api-key", mtls_plane.api_key]
        client += _client_flags(certs.ca_cert, certs.client_cert, certs.client_key)
        submitted = run_cli("tasks", "submit", "diagnostic.noop", "-o", "json", *client)
        assert submitted.returncode == 0, submitted.stderr
        task_id = json.loads(submitted.stdout)["id"]
        channel = grpc.secure_channel(
            mtls_plane.address, channel_credentials(certs.ca_cert, certs.client_cert, certs.client_key)
        )
        stub = operator_pb2_grpc.OperatorServiceStub(channel)  # type: ignore[no-untyped-call]

        def state() -> int:
            request = operator_pb2.GetTaskRequest(task_id=task_id)
            return int(stub.GetTask(request, metadata=bearer(mtls_plane.api_key), timeout=GUARD).state)

        wait_until(lambda: state() == common_pb2.TASK_STATE_SUCCEEDED, 30, message="task over mTLS")
        # The foreign delegate keeps failing its handshake (UNAVAILABLE is retried) and never registers.
        wait_until(lambda: "retrying" in foreign.log_text(), 30, message="foreign delegate to be refused")
        listed = stub.ListDelegates(
            operator_pb2.ListDelegatesRequest(), metadata=bearer(mtls_plane.api_key), timeout=GUARD
        )
        names = {d.name for d in listed.delegates}
        assert good.name in names and foreign.name not in names
        assert "registered" not in foreign.log_text()
        channel.close()
    finally:
        good.kill()
        foreign.kill()
