"""The Jenkins source against a fake Jenkins speaking the JSON remote API over loopback."""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime

import pytest

from delegate.artifacts.base import (
    ArtifactAuthError,
    ArtifactError,
    ArtifactInvalid,
    ArtifactNotFound,
    ArtifactSourceClient,
    ArtifactUnavailable,
)
from delegate.artifacts.factory import make_source
from shared.payloads import ArtifactServerRef, JenkinsSource

from .fakes.jenkins import FakeJenkins
from .testkit import POLICY, Sleeps, assert_no_secret_in, read_all, secret

JOB = "shop/orders/main"


def source(jenkins: FakeJenkins, sleeps: Sleeps, *, path: str = "dist/*.zip", job: str = JOB) -> ArtifactSourceClient:
    spec = JenkinsSource(
        server=ArtifactServerRef(
            name="ci", type="jenkins", url=jenkins.url, username="deploy", token_secret="jenkins-token"
        ),
        job=job,
        path=path,
    )
    return make_source(spec, secrets=secret, s3_factory=None, retry=POLICY, sleep=sleeps)


@pytest.fixture
def builds(jenkins: FakeJenkins) -> dict[int, bytes]:
    """Builds 1..6 of JOB: 3 failed, 5 archived no zip, 6 is still running."""
    zips = {n: os.urandom(50_000 + n) for n in (1, 2, 4)}
    for number, data in zips.items():
        jenkins.add_build(JOB, number, artifacts={f"dist/orders-{number}.zip": data, "reports/junit.xml": b"<x/>"})
    jenkins.add_build(JOB, 3, result="FAILURE", artifacts={"dist/orders-3.zip": b"broken"})
    jenkins.add_build(JOB, 5, artifacts={"reports/junit.xml": b"<x/>"})
    jenkins.add_build(JOB, 6, result=None)
    return zips


def test_versions_are_successful_builds_with_a_matching_artifact_oldest_first(
    jenkins: FakeJenkins, builds: dict[int, bytes], sleeps: Sleeps
) -> None:
    versions = source(jenkins, sleeps).list_versions()
    assert [v.version for v in versions] == ["1", "2", "4"]
    assert versions[-1].url == f"{jenkins.url}/job/shop/job/orders/job/main/4/artifact/dist/orders-4.zip"
    assert versions[0].created_at is not None
    assert versions[0].created_at.startswith("2024-01-01T00:00:00")
    assert [v.version for v in source(jenkins, sleeps).list_versions(limit=2)] == ["2", "4"]
    # One request per listing, asking for exactly the fields the source needs.
    assert len(jenkins.server.requests) == 2
    request = jenkins.server.requests[0]
    assert request.path == "/job/shop/job/orders/job/main/api/json"
    assert request.param("tree") == "builds[number,result,timestamp,artifacts[relativePath,fileName]]"


def test_latest_is_the_highest_successful_build_with_size(
    jenkins: FakeJenkins, builds: dict[int, bytes], sleeps: Sleeps
) -> None:
    latest = source(jenkins, sleeps).resolve(None)
    assert latest.version == "4"
    assert latest.size == len(builds[4])
    assert latest.sha256 is None  # Jenkins knows no checksum unless a .sha256 file was archived


def test_a_sha256_sidecar_is_used_and_verified(jenkins: FakeJenkins, sleeps: Sleeps) -> None:
    data = os.urandom(80_000)
    digest = hashlib.sha256(data).hexdigest()
    jenkins.add_build(
        JOB, 7, artifacts={"dist/app.zip": data, "dist/app.zip.sha256": f"{digest}  dist/app.zip\n".encode()}
    )
    client = source(jenkins, sleeps)
    artifact = client.resolve("7")
    assert artifact.sha256 == digest
    with client.open(artifact) as stream:
        assert read_all(stream) == data


def test_checksum_mismatch_is_refused(jenkins: FakeJenkins, sleeps: Sleeps) -> None:
    data = os.urandom(80_000)
    jenkins.add_build(JOB, 8, artifacts={"dist/app.zip": data, "dist/app.zip.sha256": b"ab" * 32 + b"\n"})
    client = source(jenkins, sleeps)
    artifact = client.resolve("8")
    with client.open(artifact) as stream, pytest.raises(ArtifactInvalid, match="sha256 mismatch"):
        read_all(stream)


def test_download_of_an_older_build_by_number(jenkins: FakeJenkins, builds: dict[int, bytes], sleeps: Sleeps) -> None:
    client = source(jenkins, sleeps)
    artifact = client.resolve("2")
    assert artifact.version == "2"
    with client.open(artifact) as stream:
        assert read_all(stream) == builds[2]
    paths = [r.path for r in jenkins.server.requests]
    assert "/job/shop/job/orders/job/main/2/api/json" in paths


@pytest.mark.parametrize(
    ("version", "reason"),
    [
        ("99", "build #99 of job 'shop/orders/main' not found"),
        ("3", "is FAILURE, not SUCCESS"),
        ("6", "is still running, not SUCCESS"),
        ("5", "archived no artifact matching 'dist/\\*.zip'"),
        ("latest", "is not a build number"),
    ],
)
def test_unusable_versions_are_not_found(
    jenkins: FakeJenkins, builds: dict[int, bytes], sleeps: Sleeps, version: str, reason: str
) -> None:
    with pytest.raises(ArtifactNotFound, match=reason):
        source(jenkins, sleeps).resolve(version)


def test_unknown_job_is_not_found(jenkins: FakeJenkins, builds: dict[int, bytes], sleeps: Sleeps) -> None:
    with pytest.raises(ArtifactNotFound, match="job 'shop/orders/nope' not found"):
        source(jenkins, sleeps, job="shop/orders/nope").list_versions()


def test_a_folder_is_not_a_job(jenkins: FakeJenkins, builds: dict[int, bytes], sleeps: Sleeps) -> None:
    with pytest.raises(ArtifactError, match="'shop/orders' is not a job with builds"):
        source(jenkins, sleeps, job="shop/orders").list_versions()


def test_no_matching_build_means_nothing_to_resolve(
    jenkins: FakeJenkins, builds: dict[int, bytes], sleeps: Sleeps
) -> None:
    with pytest.raises(ArtifactNotFound, match=r"no successful build with an artifact matching 'build/\*\.jar'"):
        source(jenkins, sleeps, path="build/*.jar").resolve(None)


def test_wrong_token_is_an_auth_error_without_the_token(
    jenkins: FakeJenkins, builds: dict[int, bytes], sleeps: Sleeps
) -> None:
    jenkins.users["deploy"] = "rotated-token"
    with pytest.raises(ArtifactAuthError) as caught:
        source(jenkins, sleeps).list_versions()
    assert "HTTP 401" in str(caught.value)
    assert "user 'deploy' with secret 'jenkins-token'" in str(caught.value)
    assert_no_secret_in(str(caught.value))
    assert sleeps == []


def test_anonymous_access_denied_says_so(jenkins: FakeJenkins, builds: dict[int, bytes], sleeps: Sleeps) -> None:
    spec = JenkinsSource(
        server=ArtifactServerRef(name="ci", type="jenkins", url=jenkins.url), job=JOB, path="dist/*.zip"
    )
    client = make_source(spec, secrets=secret, s3_factory=None, retry=POLICY, sleep=sleeps)
    with pytest.raises(ArtifactAuthError, match=r"access denied \(anonymous, no credentials configured\)"):
        client.list_versions()


def test_job_names_are_encoded_segment_by_segment(jenkins: FakeJenkins, sleeps: Sleeps) -> None:
    job = "shop/orders service/feature%2Fpay"  # a space, and a multibranch job named after a branch
    jenkins.add_build(job, 1, artifacts={"dist/app.zip": b"zip"}, timestamp=datetime(2024, 5, 1, tzinfo=UTC))
    (version,) = source(jenkins, sleeps, job=job).list_versions()
    assert "/job/orders%20service/job/feature%252Fpay/1/artifact/dist/app.zip" in (version.url or "")
    assert version.created_at is not None
    assert version.created_at.startswith("2024-05-01")


def test_download_survives_a_dropped_connection_and_a_restart(
    jenkins: FakeJenkins, builds: dict[int, bytes], sleeps: Sleeps
) -> None:
    client = source(jenkins, sleeps)
    artifact = client.resolve(None)
    jenkins.server.faults.fail_next(1, 503, path_contains="/artifact/")
    jenkins.server.faults.drop_next_bodies(after_bytes=10_000)
    with client.open(artifact) as stream:
        assert read_all(stream) == builds[4]
    assert [r.headers.get("range") for r in jenkins.server.requests if "/artifact/" in r.path][-2:] == [
        None,
        "bytes=10000-",
    ]


def test_server_down_is_unavailable(sleeps: Sleeps, closed_port: int) -> None:
    spec = JenkinsSource(
        server=ArtifactServerRef(name="ci", type="jenkins", url=f"http://127.0.0.1:{closed_port}/jenkins"),
        job=JOB,
        path="*.zip",
    )
    client = make_source(spec, secrets=secret, s3_factory=None, retry=POLICY, sleep=sleeps)
    with pytest.raises(ArtifactUnavailable, match=r"jenkins 'ci': GET .* failed after 4 attempts"):
        client.resolve(None)
    assert len(sleeps) == 3
