"""S3ArtifactSource against moto over HTTP: globs, object versions, checksums, regions, errors."""

from __future__ import annotations

import hashlib
import re

import pytest

from delegate.artifacts.base import ArtifactNotFound
from tests.integration.lambda_.lambda_kit import OTHER_REGION, World, unique


def test_lists_keys_matching_the_glob_and_resolves_by_key(world: World) -> None:
    bucket = world.create_bucket(unique("art"))
    for key in ("orders/orders-1.zip", "orders/orders-2.zip", "orders/readme.txt", "other/orders-3.zip"):
        world.put(bucket, key, key.encode())
    source = world.source(bucket, "orders/orders-*.zip")

    listed = source.list_versions()

    assert sorted(a.version for a in listed) == ["orders/orders-1.zip", "orders/orders-2.zip"]
    assert all(a.size == len(a.version) and a.s3_bucket == bucket and a.sha256 is None for a in listed)
    resolved = source.resolve("orders/orders-2.zip")
    assert resolved.sha256 == hashlib.sha256(b"orders/orders-2.zip").hexdigest()
    assert (resolved.s3_key, resolved.s3_region, resolved.size) == ("orders/orders-2.zip", "us-east-1", 19)


def test_every_object_version_is_a_version_and_the_newest_is_latest(world: World) -> None:
    bucket = world.create_bucket(unique("art"), versioned=True)
    old_id = world.put(bucket, "orders/app.zip", b"old bytes")
    new_id = world.put(bucket, "orders/app.zip", b"new bytes")
    source = world.source(bucket, "orders/*.zip")

    listed = source.list_versions()

    assert [a.version for a in listed] == [f"orders/app.zip@{old_id}", "orders/app.zip"]
    assert [a.s3_version_id for a in listed] == [old_id, new_id]
    latest = source.resolve(None)
    assert (latest.version, latest.s3_version_id) == ("orders/app.zip", new_id)
    assert latest.sha256 == hashlib.sha256(b"new bytes").hexdigest()
    older = source.resolve(f"orders/app.zip@{old_id}")
    assert older.sha256 == hashlib.sha256(b"old bytes").hexdigest()
    with source.open(older) as stream:
        assert stream.read() == b"old bytes"
    # Resolving the key pins the current version id, so the deploy uses exactly these bytes.
    assert source.resolve("orders/app.zip").s3_version_id == new_id
    assert len(source.list_versions(limit=1)) == 1
    assert source.list_versions(limit=1)[0].version == "orders/app.zip"


def test_a_deleted_key_keeps_its_older_versions_but_not_the_key(world: World) -> None:
    bucket = world.create_bucket(unique("art"), versioned=True)
    old_id = world.put(bucket, "orders/gone.zip", b"bytes")
    world.boto("s3").delete_object(Bucket=bucket, Key="orders/gone.zip")
    source = world.source(bucket, "orders/*.zip")

    assert [a.version for a in source.list_versions()] == [f"orders/gone.zip@{old_id}"]
    with pytest.raises(ArtifactNotFound):
        source.resolve("orders/gone.zip")
    assert source.resolve(None).version == f"orders/gone.zip@{old_id}"


def test_checksum_comes_from_s3_when_stored_else_from_the_bytes(world: World) -> None:
    bucket = world.create_bucket(unique("art"))
    world.put(bucket, "a/with.zip", b"checksummed", ChecksumAlgorithm="SHA256")
    world.put(bucket, "a/without.zip", b"plain")
    source = world.source(bucket, "a/*.zip")

    assert source.resolve("a/with.zip").sha256 == hashlib.sha256(b"checksummed").hexdigest()
    assert source.resolve("a/without.zip").sha256 == hashlib.sha256(b"plain").hexdigest()


def test_bucket_region_is_reported(world: World) -> None:
    bucket = world.create_bucket(unique("art"), OTHER_REGION)
    world.put(bucket, "k/x.zip", b"x")

    assert world.source(bucket, "k/*.zip", OTHER_REGION).resolve(None).s3_region == OTHER_REGION


@pytest.mark.parametrize(
    ("version", "message"),
    [
        ("orders/missing.zip", "artifact version 'orders/missing.zip' not found"),
        ("orders/present.zip@3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrH", "not found"),
        ("elsewhere/present.zip", "is not a key matching 'orders/*.zip'"),
        ("elsewhere/present.zip@abc", "does not match the service's key glob"),
    ],
)
def test_unknown_versions_are_not_found_with_a_readable_message(world: World, version: str, message: str) -> None:
    bucket = world.create_bucket(unique("art"), versioned=True)
    world.put(bucket, "orders/present.zip", b"x")
    source = world.source(bucket, "orders/*.zip")

    with pytest.raises(ArtifactNotFound, match=re.escape(message)):
        source.resolve(version)


def test_empty_or_missing_bucket_is_not_found(world: World) -> None:
    empty = world.create_bucket(unique("art"))
    with pytest.raises(ArtifactNotFound, match=r"no object in s3://.* matches key glob 'x/\*\.zip'"):
        world.source(empty, "x/*.zip").resolve(None)
    with pytest.raises(ArtifactNotFound):
        world.source(unique("no-such-bucket"), "x/*.zip").list_versions()
