"""The Nexus 3 source against a fake Nexus speaking the search/assets REST API over loopback."""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime, timedelta

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
from shared.payloads import ArtifactServerRef, NexusSource

from .fakes._server import Blob
from .fakes.nexus import FakeNexus
from .testkit import POLICY, SECRETS, Sleeps, assert_no_secret_in, read_all, secret

T0 = datetime(2024, 3, 1, 10, 0, tzinfo=UTC)


def server_ref(url: str) -> ArtifactServerRef:
    return ArtifactServerRef(name="nexus", type="nexus", url=url, username="deploy", password_secret="nexus-password")


def raw_source(nexus: FakeNexus, sleeps: Sleeps, path: str = "orders/*.zip") -> ArtifactSourceClient:
    spec = NexusSource(server=server_ref(nexus.url), repository="raw-hosted", format="raw", path=path)
    return make_source(spec, secrets=secret, s3_factory=None, retry=POLICY, sleep=sleeps)


def maven_source(nexus: FakeNexus, sleeps: Sleeps, repository: str = "maven-releases") -> ArtifactSourceClient:
    spec = NexusSource(
        server=server_ref(nexus.url),
        repository=repository,
        format="maven2",
        group_id="com.example.shop",
        artifact_id="orders",
        extension="zip",
    )
    return make_source(spec, secrets=secret, s3_factory=None, retry=POLICY, sleep=sleeps)


@pytest.fixture
def raw(nexus: FakeNexus) -> dict[str, Blob]:
    """Seven matching raw zips (uploaded in a different order than their names) plus noise."""
    nexus.page_size = 2  # 8 assets in raw-hosted: 4 pages
    blobs = {}
    for hour, number in enumerate([3, 1, 2, 7, 5, 4, 6]):
        path = f"orders/orders-{number}.zip"
        blobs[path] = nexus.put_raw("raw-hosted", path, os.urandom(30_000), last_modified=T0 + timedelta(hours=hour))
    nexus.put_raw("raw-hosted", "orders/readme.txt", b"hi", last_modified=T0 + timedelta(days=1))
    nexus.put_raw("raw-other", "orders/orders-99.zip", b"zip", last_modified=T0 + timedelta(days=1))
    return blobs


@pytest.fixture
def maven(nexus: FakeNexus) -> dict[str, Blob]:
    group, name = "com.example.shop", "orders"
    blobs = {
        "1.0.0": nexus.put_maven("maven-releases", group, name, "1.0.0", os.urandom(20_000), last_modified=T0),
        "1.1.0": nexus.put_maven(
            "maven-releases", group, name, "1.1.0", os.urandom(20_000), last_modified=T0 + timedelta(days=2)
        ),
        "1.0.1": nexus.put_maven(
            "maven-releases", group, name, "1.0.1", os.urandom(20_000), last_modified=T0 + timedelta(days=1)
        ),
    }
    # Noise the source must skip: a classifier, another extension, another artifact.
    nexus.put_maven(
        "maven-releases", group, name, "1.1.0", b"src", classifier="sources", last_modified=T0 + timedelta(days=3)
    )
    nexus.put_maven(
        "maven-releases", group, name, "1.1.0", b"<pom/>", extension="pom", last_modified=T0 + timedelta(days=3)
    )
    nexus.put_maven("maven-releases", group, "payments", "9.0.0", b"zip", last_modified=T0 + timedelta(days=3))
    return blobs


def test_raw_versions_page_through_every_continuation_token(
    nexus: FakeNexus, raw: dict[str, Blob], sleeps: Sleeps
) -> None:
    versions = raw_source(nexus, sleeps).list_versions()
    assert [v.version for v in versions] == [f"orders/orders-{n}.zip" for n in (3, 1, 2, 7, 5, 4, 6)]
    searches = nexus.server.requests
    assert len(searches) == 4
    assert searches[0].param("continuationToken") is None
    assert all(r.param("continuationToken") for r in searches[1:])
    assert {r.param("repository") for r in searches} == {"raw-hosted"}
    newest = versions[-1]
    assert newest.sha256 == raw["orders/orders-6.zip"].sha256
    assert newest.size == 30_000
    assert newest.created_at == "2024-03-01T16:00:00Z"
    assert [v.version for v in raw_source(nexus, sleeps).list_versions(limit=2)] == [
        "orders/orders-4.zip",
        "orders/orders-6.zip",
    ]


def test_raw_latest_and_download(nexus: FakeNexus, raw: dict[str, Blob], sleeps: Sleeps) -> None:
    client = raw_source(nexus, sleeps)
    latest = client.resolve(None)
    assert latest.version == "orders/orders-6.zip"
    with client.open(latest) as stream:
        assert read_all(stream) == raw["orders/orders-6.zip"].data


def test_newer_nexus_paths_with_a_leading_slash(nexus: FakeNexus, raw: dict[str, Blob], sleeps: Sleeps) -> None:
    nexus.leading_slash = True
    assert raw_source(nexus, sleeps).resolve("/orders/orders-2.zip").version == "orders/orders-2.zip"


def test_maven_versions_skip_classifiers_and_other_files(
    nexus: FakeNexus, maven: dict[str, Blob], sleeps: Sleeps
) -> None:
    versions = maven_source(nexus, sleeps).list_versions()
    assert [v.version for v in versions] == ["1.0.0", "1.0.1", "1.1.0"]
    (search,) = nexus.server.requests
    assert search.param("maven.groupId") == "com.example.shop"
    assert search.param("maven.artifactId") == "orders"
    assert search.param("maven.extension") == "zip"
    assert search.param("format") == "maven2"
    client = maven_source(nexus, sleeps)
    artifact = client.resolve("1.0.1")
    assert artifact.sha256 == maven["1.0.1"].sha256
    with client.open(artifact) as stream:
        assert read_all(stream) == maven["1.0.1"].data


@pytest.mark.parametrize("empty_block", [False, True], ids=["maven2-block", "empty-maven2-block"])
def test_snapshots_resolve_by_base_version_to_the_newest_build(
    nexus: FakeNexus, sleeps: Sleeps, empty_block: bool
) -> None:
    nexus.empty_maven2 = empty_block  # Nexus 3.76 sends "maven2": {}; the path still tells
    for n, stamp in enumerate(["20240301.101500-1", "20240302.090000-2"]):
        nexus.put_maven(
            "maven-snapshots",
            "com.example.shop",
            "orders",
            f"2.0.0-{stamp}",
            f"snapshot {n}".encode(),
            base_version="2.0.0-SNAPSHOT",
            last_modified=T0 + timedelta(days=n),
        )
    nexus.put_maven(
        "maven-snapshots",
        "com.example.shop",
        "orders",
        "2.0.0-20240302.090000-2",
        b"docs",
        classifier="javadoc",
        base_version="2.0.0-SNAPSHOT",
        last_modified=T0 + timedelta(days=5),
    )
    client = maven_source(nexus, sleeps, repository="maven-snapshots")
    assert [v.version for v in client.list_versions()] == ["2.0.0-20240301.101500-1", "2.0.0-20240302.090000-2"]
    assert client.resolve("2.0.0-SNAPSHOT").version == "2.0.0-20240302.090000-2"
    assert client.resolve("2.0.0-20240301.101500-1").version == "2.0.0-20240301.101500-1"


def test_download_url_on_another_origin_is_rewritten_to_the_configured_server(
    nexus: FakeNexus, raw: dict[str, Blob], sleeps: Sleeps
) -> None:
    nexus.download_origin = "http://nexus.internal.invalid:8081"  # Nexus' base URL, unknown here
    client = raw_source(nexus, sleeps)
    latest = client.resolve(None)
    assert latest.url == f"{nexus.url}/repository/raw-hosted/orders/orders-6.zip"
    with client.open(latest) as stream:
        assert read_all(stream) == raw["orders/orders-6.zip"].data
    assert nexus.server.requests[-1].basic_auth() == ("deploy", SECRETS["nexus-password"])


def test_checksum_mismatch_is_refused(nexus: FakeNexus, raw: dict[str, Blob], sleeps: Sleeps) -> None:
    client = raw_source(nexus, sleeps)
    artifact = client.resolve("orders/orders-1.zip").model_copy(update={"sha256": "cd" * 32})
    with client.open(artifact) as stream, pytest.raises(ArtifactInvalid, match="sha256 mismatch"):
        read_all(stream)


def test_unknown_version_is_not_found(nexus: FakeNexus, maven: dict[str, Blob], sleeps: Sleeps) -> None:
    with pytest.raises(ArtifactNotFound, match=re.escape("no version '3.0.0' of com.example.shop:orders (zip)")):
        maven_source(nexus, sleeps).resolve("3.0.0")


def test_deleted_asset_is_not_found_on_download(nexus: FakeNexus, raw: dict[str, Blob], sleeps: Sleeps) -> None:
    client = raw_source(nexus, sleeps)
    artifact = client.resolve(None)
    nexus.assets.clear()
    with pytest.raises(ArtifactNotFound, match="HTTP 404"), client.open(artifact):
        pass


def test_wrong_password_is_an_auth_error(nexus: FakeNexus, raw: dict[str, Blob], sleeps: Sleeps) -> None:
    nexus.users["deploy"] = "other"
    with pytest.raises(ArtifactAuthError, match="HTTP 401") as caught:
        raw_source(nexus, sleeps).list_versions()
    assert_no_secret_in(str(caught.value))


def test_a_failing_page_is_retried_and_paging_continues(nexus: FakeNexus, raw: dict[str, Blob], sleeps: Sleeps) -> None:
    client = raw_source(nexus, sleeps)
    nexus.server.faults.fail_next(1, 500)
    first = client.list_versions()
    assert len(first) == 7
    assert len(sleeps) == 1


def test_a_repeated_continuation_token_stops_the_loop(nexus: FakeNexus, raw: dict[str, Blob], sleeps: Sleeps) -> None:
    nexus.stuck_token = "again"  # a broken proxy cache answering the same page forever
    with pytest.raises(ArtifactError, match="repeated a continuationToken"):
        raw_source(nexus, sleeps).list_versions()
    assert len(nexus.server.requests) == 2


def test_server_down_is_unavailable(sleeps: Sleeps, closed_port: int) -> None:
    spec = NexusSource(
        server=server_ref(f"http://127.0.0.1:{closed_port}"), repository="raw-hosted", format="raw", path="*.zip"
    )
    client = make_source(spec, secrets=secret, s3_factory=None, retry=POLICY, sleep=sleeps)
    with pytest.raises(ArtifactUnavailable, match=r"nexus 'nexus': GET .*/service/rest/v1/search/assets failed"):
        client.resolve(None)


def test_a_maven_source_needs_coordinates(nexus: FakeNexus, sleeps: Sleeps) -> None:
    spec = NexusSource(server=server_ref(nexus.url), repository="maven-releases", format="maven2")
    with pytest.raises(ArtifactError, match="needs groupId and artifactId"):
        make_source(spec, secrets=secret, s3_factory=None)
