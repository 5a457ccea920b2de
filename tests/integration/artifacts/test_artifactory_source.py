"""The Artifactory source against a fake Artifactory speaking the storage REST API over loopback."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import pytest

from delegate.artifacts.base import (
    ArtifactAuthError,
    ArtifactInvalid,
    ArtifactNotFound,
    ArtifactSourceClient,
    ArtifactUnavailable,
)
from delegate.artifacts.factory import make_source
from shared.payloads import ArtifactorySource, ArtifactServerRef

from .fakes._server import Blob
from .fakes.artifactory import FakeArtifactory
from .testkit import POLICY, SECRETS, Sleeps, assert_no_secret_in, read_all, secret

T0 = datetime(2024, 3, 1, 10, 0, tzinfo=UTC)


def source(
    artifactory: FakeArtifactory,
    sleeps: Sleeps,
    *,
    path: str = "orders/orders-*.zip",
    api_key: bool = False,
    url: str | None = None,
) -> ArtifactSourceClient:
    server = ArtifactServerRef(
        name="artifactory-main",
        type="artifactory",
        url=url or artifactory.url,
        username=None if api_key else "deploy",
        password_secret=None if api_key else "artifactory-password",
        token_secret="artifactory-api-key" if api_key else None,
    )
    spec = ArtifactorySource(server=server, repository="libs-release-local", path=path)
    return make_source(spec, secrets=secret, s3_factory=None, retry=POLICY, sleep=sleeps)


@pytest.fixture
def stored(artifactory: FakeArtifactory) -> dict[str, Blob]:
    """Three matching zips uploaded out of name order, plus files the glob must skip."""
    blobs = {
        "orders/orders-10.zip": artifactory.put(
            "libs-release-local", "orders/orders-10.zip", os.urandom(40_000), last_modified=T0 + timedelta(hours=2)
        ),
        "orders/orders-9.zip": artifactory.put(
            "libs-release-local", "orders/orders-9.zip", os.urandom(40_000), last_modified=T0 + timedelta(hours=1)
        ),
        "orders/orders-8.zip": artifactory.put(
            "libs-release-local", "orders/orders-8.zip", os.urandom(40_000), last_modified=T0
        ),
    }
    artifactory.put("libs-release-local", "orders/orders-10.pom", b"<project/>", last_modified=T0 + timedelta(hours=3))
    artifactory.put("libs-release-local", "payments/payments-1.zip", b"zip", last_modified=T0 + timedelta(hours=4))
    return blobs


def test_versions_are_matching_paths_ordered_by_last_modified(
    artifactory: FakeArtifactory, stored: dict[str, Blob], sleeps: Sleeps
) -> None:
    versions = source(artifactory, sleeps).list_versions()
    assert [v.version for v in versions] == ["orders/orders-8.zip", "orders/orders-9.zip", "orders/orders-10.zip"]
    newest = versions[-1]
    assert newest.sha256 == stored["orders/orders-10.zip"].sha256  # `sha2` of the file list
    assert newest.size == 40_000
    assert newest.created_at == "2024-03-01T12:00:00Z"
    assert newest.url == f"{artifactory.url}/libs-release-local/orders/orders-10.zip"
    # One File List request on the glob's fixed folder, deep.
    (request,) = artifactory.server.requests
    assert request.path == "/api/storage/libs-release-local/orders"
    assert request.raw_query == "list&deep=1&listFolders=0"


def test_latest_takes_checksums_from_file_info(
    artifactory: FakeArtifactory, stored: dict[str, Blob], sleeps: Sleeps
) -> None:
    artifactory.sha2_in_listing = False  # older Artifactory: sha1 only in listings
    latest = source(artifactory, sleeps).resolve(None)
    assert latest.version == "orders/orders-10.zip"
    assert latest.sha256 == stored["orders/orders-10.zip"].sha256
    assert latest.size == 40_000
    assert artifactory.server.requests[-1].path == "/api/storage/libs-release-local/orders/orders-10.zip"


def test_download_with_api_key_is_verified(
    artifactory: FakeArtifactory, stored: dict[str, Blob], sleeps: Sleeps
) -> None:
    client = source(artifactory, sleeps, api_key=True)
    artifact = client.resolve("orders/orders-9.zip")
    with client.open(artifact) as stream:
        assert read_all(stream) == stored["orders/orders-9.zip"].data
    assert {r.headers.get("x-jfrog-art-api") for r in artifactory.server.requests} == {SECRETS["artifactory-api-key"]}
    assert all("authorization" not in r.headers for r in artifactory.server.requests)


def test_corrupted_bytes_are_refused(artifactory: FakeArtifactory, stored: dict[str, Blob], sleeps: Sleeps) -> None:
    client = source(artifactory, sleeps)
    artifact = client.resolve("orders/orders-9.zip")
    artifactory.corrupt("libs-release-local", "orders/orders-9.zip", os.urandom(40_000))
    with client.open(artifact) as stream, pytest.raises(ArtifactInvalid, match="sha256 mismatch"):
        read_all(stream)


def test_checksum_headers_guard_a_download_without_known_checksum(
    artifactory: FakeArtifactory, stored: dict[str, Blob], sleeps: Sleeps
) -> None:
    client = source(artifactory, sleeps)
    artifact = client.resolve("orders/orders-9.zip").model_copy(update={"sha256": None, "size": None})
    artifactory.corrupt("libs-release-local", "orders/orders-9.zip", os.urandom(40_000))
    with client.open(artifact) as stream, pytest.raises(ArtifactInvalid, match="mismatch"):
        read_all(stream)


@pytest.mark.parametrize(
    ("version", "reason"),
    [
        (
            "orders/orders-11.zip",
            "not found: GET .*/api/storage/libs-release-local/orders/orders-11.zip answered HTTP 404",
        ),
        ("payments/payments-1.zip", "does not match the source's path 'orders/orders-\\*.zip'"),
    ],
)
def test_unknown_or_foreign_version_is_not_found(
    artifactory: FakeArtifactory, stored: dict[str, Blob], sleeps: Sleeps, version: str, reason: str
) -> None:
    with pytest.raises(ArtifactNotFound, match=reason):
        source(artifactory, sleeps).resolve(version)


def test_missing_folder_is_not_found(artifactory: FakeArtifactory, stored: dict[str, Blob], sleeps: Sleeps) -> None:
    with pytest.raises(ArtifactNotFound, match="folder 'invoices' of repository 'libs-release-local' not found"):
        source(artifactory, sleeps, path="invoices/*.zip").list_versions()


def test_glob_at_the_root_lists_the_whole_repository(
    artifactory: FakeArtifactory, stored: dict[str, Blob], sleeps: Sleeps
) -> None:
    versions = source(artifactory, sleeps, path="*/*-1*.zip").list_versions()
    assert [v.version for v in versions] == ["orders/orders-10.zip", "payments/payments-1.zip"]
    assert artifactory.server.requests[0].path == "/api/storage/libs-release-local"


def test_bad_password_is_an_auth_error(artifactory: FakeArtifactory, stored: dict[str, Blob], sleeps: Sleeps) -> None:
    artifactory.users["deploy"] = "changed"
    with pytest.raises(ArtifactAuthError, match="Bad credentials") as caught:
        source(artifactory, sleeps).list_versions()
    assert "user 'deploy' with secret 'artifactory-password'" in str(caught.value)
    assert_no_secret_in(str(caught.value))


def test_transient_listing_failures_are_retried(
    artifactory: FakeArtifactory, stored: dict[str, Blob], sleeps: Sleeps
) -> None:
    artifactory.server.faults.fail_next(2, 503)
    assert len(source(artifactory, sleeps).list_versions()) == 3
    assert len(sleeps) == 2


def test_server_down_is_unavailable(sleeps: Sleeps, closed_port: int, artifactory: FakeArtifactory) -> None:
    client = source(artifactory, sleeps, url=f"http://127.0.0.1:{closed_port}/artifactory")
    with pytest.raises(ArtifactUnavailable, match="failed after 4 attempts"):
        client.list_versions()
    assert len(sleeps) == 3


def test_resume_after_a_dropped_connection(
    artifactory: FakeArtifactory, stored: dict[str, Blob], sleeps: Sleeps
) -> None:
    client = source(artifactory, sleeps)
    artifact = client.resolve(None)
    artifactory.server.faults.drop_next_bodies(after_bytes=12_345)
    with client.open(artifact) as stream:
        assert read_all(stream) == stored["orders/orders-10.zip"].data
    assert artifactory.server.requests[-1].headers.get("range") == "bytes=12345-"
