"""A moto server on loopback per test session (per xdist worker), and wrappers pointed at it.

Every test uses unique role, function and bucket names and creates what it needs, so tests share the
server without interfering, and survive other suites resetting moto's (per-process) state.
"""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from moto.server import ThreadedMotoServer

from delegate.aws import AwsFactory, CredentialProvider, RetryPolicy, StaticKeys
from tests.integration.lambda_.lambda_kit import REGION, World, unique


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def exec_role(moto_endpoint: str) -> str:
    # moto's Lambda refuses roles its IAM does not know. moto keeps state per process and other
    # suites reset it between their tests, so each test creates its own (uniquely named) role.
    iam = boto3.client(
        "iam",
        region_name=REGION,
        endpoint_url=moto_endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    role = iam.create_role(RoleName=unique("lambda-exec"), AssumeRolePolicyDocument="{}")
    return str(role["Role"]["Arn"])


def _no_sleep(_seconds: float) -> None:
    # moto answers every update as Successful at once and never throttles: nothing should wait.
    raise AssertionError("unexpected sleep against moto")


@pytest.fixture(scope="session")
def aws(moto_endpoint: str) -> AwsFactory:
    provider = CredentialProvider(endpoint_url=moto_endpoint, base_keys=StaticKeys("testing", "testing"))
    return AwsFactory(provider, endpoint_url=moto_endpoint, sleep=_no_sleep, retry=RetryPolicy(max_attempts=2))


@pytest.fixture
def world(moto_endpoint: str, aws: AwsFactory, exec_role: str) -> World:
    return World(endpoint=moto_endpoint, aws=aws, role=exec_role)
