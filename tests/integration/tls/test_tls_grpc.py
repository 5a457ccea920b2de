"""TLS and mTLS against a real grpc.aio server on 127.0.0.1:0 serving the standard health service.

Every refusal is asserted as the status a client sees when the handshake fails: UNAVAILABLE.
Calls carry a deadline only as a guard against a hang; a failing handshake ends them at once.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from shared.tls import DevCerts, channel_credentials, generate_dev_certs, server_credentials

GUARD_TIMEOUT = 10.0


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> DevCerts:
    return generate_dev_certs(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="module")
def other_ca_certs(tmp_path_factory: pytest.TempPathFactory) -> DevCerts:
    return generate_dev_certs(tmp_path_factory.mktemp("other-ca"))


async def _check(port: int, credentials: grpc.ChannelCredentials | None) -> health_pb2.HealthCheckResponse:
    target = f"127.0.0.1:{port}"
    channel = grpc.aio.insecure_channel(target) if credentials is None else grpc.aio.secure_channel(target, credentials)
    async with channel:
        stub = health_pb2_grpc.HealthStub(channel)
        return await stub.Check(health_pb2.HealthCheckRequest(), timeout=GUARD_TIMEOUT)


def check(server_creds: grpc.ServerCredentials, client_creds: grpc.ChannelCredentials | None) -> int:
    """Start a server, make one health check with `client_creds`; return the status or raise."""

    async def scenario() -> int:
        server = grpc.aio.server()
        health_pb2_grpc.add_HealthServicer_to_server(health.aio.HealthServicer(), server)
        port = server.add_secure_port("127.0.0.1:0", server_creds)
        await server.start()
        try:
            response = await _check(port, client_creds)
            return int(response.status)
        finally:
            await server.stop(grace=None)

    return asyncio.run(scenario())


def assert_refused(server_creds: grpc.ServerCredentials, client_creds: grpc.ChannelCredentials | None) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        check(server_creds, client_creds)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE


def test_tls_client_trusting_the_ca_works(certs: DevCerts) -> None:
    status = check(server_credentials(certs.server_cert, certs.server_key), channel_credentials(certs.ca_cert))
    assert status == health_pb2.HealthCheckResponse.SERVING


def test_plaintext_client_is_refused(certs: DevCerts) -> None:
    assert_refused(server_credentials(certs.server_cert, certs.server_key), None)


def test_client_not_trusting_the_server_ca_is_refused(certs: DevCerts, other_ca_certs: DevCerts) -> None:
    assert_refused(server_credentials(certs.server_cert, certs.server_key), channel_credentials(other_ca_certs.ca_cert))


def mtls_server(certs: DevCerts) -> grpc.ServerCredentials:
    return server_credentials(certs.server_cert, certs.server_key, client_ca_file=certs.ca_cert)


def test_mtls_client_with_the_right_cert_works(certs: DevCerts) -> None:
    client = channel_credentials(certs.ca_cert, certs.client_cert, certs.client_key)
    assert check(mtls_server(certs), client) == health_pb2.HealthCheckResponse.SERVING


def test_mtls_client_without_cert_is_refused(certs: DevCerts) -> None:
    assert_refused(mtls_server(certs), channel_credentials(certs.ca_cert))


def test_mtls_client_with_cert_from_another_ca_is_refused(certs: DevCerts, other_ca_certs: DevCerts) -> None:
    client = channel_credentials(certs.ca_cert, other_ca_certs.client_cert, other_ca_certs.client_key)
    assert_refused(mtls_server(certs), client)


def test_mtls_refuses_plaintext_too(certs: DevCerts) -> None:
    assert_refused(mtls_server(certs), None)


def test_credentials_accept_str_paths(certs: DevCerts, tmp_path: Path) -> None:
    server = server_credentials(str(certs.server_cert), str(certs.server_key), str(certs.ca_cert))
    client = channel_credentials(str(certs.ca_cert), str(certs.client_cert), str(certs.client_key))
    assert check(server, client) == health_pb2.HealthCheckResponse.SERVING
