"""Fixtures for the artifact source tests: started fake servers, a sleep that records, secrets.

Every fake listens on 127.0.0.1 port 0, so tests run in parallel (pytest-xdist) without clashing.
Retries sleep through `Sleeps`, which records the requested delays and returns at once.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from .fakes.artifactory import FakeArtifactory
from .fakes.files import FakeFileServer
from .fakes.jenkins import FakeJenkins
from .fakes.nexus import FakeNexus
from .testkit import SECRETS, Sleeps


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def jenkins() -> Iterator[FakeJenkins]:
    with FakeJenkins(users={"deploy": SECRETS["jenkins-token"]}) as fake:
        yield fake


@pytest.fixture
def artifactory() -> Iterator[FakeArtifactory]:
    with FakeArtifactory(
        users={"deploy": SECRETS["artifactory-password"]}, api_keys=[SECRETS["artifactory-api-key"]]
    ) as fake:
        yield fake


@pytest.fixture
def nexus() -> Iterator[FakeNexus]:
    with FakeNexus(users={"deploy": SECRETS["nexus-password"]}) as fake:
        yield fake


@pytest.fixture
def files() -> Iterator[FakeFileServer]:
    with FakeFileServer() as fake:
        yield fake


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port nothing listens on: bound (so no other test takes it) but never listening."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]
