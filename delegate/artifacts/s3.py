"""Artifacts stored in Amazon S3: every key matching a glob, and every object version of each key.

Versions:
- A key matching `spec.key` (fnmatch on the whole key, case-sensitive; `*` also crosses `/`) is one
  version whose string is the key itself, e.g. `orders/orders-42.zip`; it means the key's current
  object version. Resolving it pins the current S3 VersionId into the ResolvedArtifact, so a deploy
  uses exactly the bytes that were resolved even if the key is overwritten meanwhile.
- In a versioned bucket, each older object version of a matching key is a version too, written
  `KEY@VERSIONID`, e.g. `orders/orders-42.zip@3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrH`.
- Ordering is by LastModified (oldest first); the newest is what `resolve(None)` returns. S3 has one-
  second resolution, so ties are broken by S3's own newest-first order within a key and by natural
  key order across keys (`orders-9` before `orders-10`).

Listing uses ListObjectVersions on the longest literal prefix of the glob (it also works on buckets
without versioning); when the role may not list versions (s3:ListBucketVersions) it falls back to
ListObjectsV2 and offers current objects only.

Checksums: `resolve` returns the SHA-256 S3 stores for the whole object when the uploader asked for
one (`--checksum-algorithm SHA256`); otherwise it downloads the object once and hashes it, which costs
one full read of the artifact per resolve (the result travels with the ResolvedArtifact, so a deploy
does not pay it again). `list_versions` never downloads: its entries carry size but no checksum.

Network I/O: every public method (through the S3 wrapper). The ordering helpers are pure.
"""

from __future__ import annotations

import fnmatch
import hashlib
import re
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO

from delegate.artifacts.base import (
    ArtifactAuthError,
    ArtifactError,
    ArtifactInvalid,
    ArtifactNotFound,
    ArtifactUnavailable,
)
from delegate.aws.errors import (
    AwsAccessDenied,
    AwsError,
    AwsInvalidRequest,
    AwsNotFound,
    AwsUnavailable,
)
from delegate.aws.factory import AwsFactory
from delegate.aws.s3_client import S3Client, S3ObjectVersion
from shared.payloads import ResolvedArtifact, S3Source

VERSION_SEPARATOR = "@"
_HASH_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class Candidate:
    """One deployable object version found by listing."""

    key: str
    version_id: str | None
    is_latest: bool
    last_modified: datetime
    size: int
    rank: int  # position among the versions of the same key in S3's newest-first order

    @property
    def version(self) -> str:
        if self.is_latest or self.version_id is None:
            return self.key
        return f"{self.key}{VERSION_SEPARATOR}{self.version_id}"


def literal_prefix(glob: str) -> str:
    """The longest prefix of `glob` without wildcards: what S3 can filter on server-side."""
    match = re.search(r"[*?\[]", glob)
    return glob if match is None else glob[: match.start()]


def _natural(key: str) -> tuple[tuple[int, int | str], ...]:
    return tuple((0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"(\d+)", key))


def order_candidates(objects: list[S3ObjectVersion], glob: str) -> list[Candidate]:
    """Matching object versions, oldest first. Pure: the heart of "latest = newest"."""
    ranks: dict[str, int] = {}
    found: list[Candidate] = []
    for obj in objects:
        if not fnmatch.fnmatchcase(obj.key, glob):
            continue
        rank = ranks.get(obj.key, 0)
        ranks[obj.key] = rank + 1
        found.append(Candidate(obj.key, obj.version_id, obj.is_latest, obj.last_modified, obj.size, rank))
    return sorted(found, key=lambda c: (c.last_modified, _natural(c.key), -c.rank))


def s3_source_factory(
    aws: AwsFactory, *, on_retry: Callable[[str], None] | None = None
) -> Callable[[S3Source], S3ArtifactSource]:
    """What `delegate.artifacts.factory.make_source` takes as `s3_factory`: a source per S3 spec,
    reaching the bucket with the spec's own credentials and region."""

    def make(spec: S3Source) -> S3ArtifactSource:
        return S3ArtifactSource(spec, aws.s3(spec.credentials, spec.region, on_retry=on_retry))

    return make


class S3ArtifactSource:
    """`ArtifactSourceClient` over one bucket and key glob, using the given S3 wrapper."""

    def __init__(self, spec: S3Source, s3: S3Client) -> None:
        self._spec = spec
        self._s3 = s3
        self._region: str | None = None

    @property
    def spec(self) -> S3Source:
        return self._spec

    @property
    def _where(self) -> str:
        return f"s3://{self._spec.bucket}/{self._spec.key}"

    def list_versions(self, limit: int = 100) -> list[ResolvedArtifact]:
        candidates = self._candidates()
        chosen = candidates[-limit:] if limit > 0 else []
        region = self._bucket_region() if chosen else self._spec.region
        return [self._artifact(c.version, c.key, c.version_id, c.size, c.last_modified, None, region) for c in chosen]

    def resolve(self, version: str | None) -> ResolvedArtifact:
        if version is None:
            candidates = self._candidates()
            if not candidates:
                raise ArtifactNotFound(f"no object in s3://{self._spec.bucket} matches key glob '{self._spec.key}'")
            newest = candidates[-1]
            return self._resolve_object(newest.version, newest.key, newest.version_id)
        if fnmatch.fnmatchcase(version, self._spec.key):
            try:
                return self._resolve_object(version, version, None)
            except ArtifactNotFound:
                if VERSION_SEPARATOR not in version:
                    raise
        key, sep, version_id = version.rpartition(VERSION_SEPARATOR)
        if not sep or not key or not version_id:
            raise ArtifactNotFound(
                f"version '{version}' is not a key matching '{self._spec.key}' in s3://{self._spec.bucket} "
                f"nor KEY{VERSION_SEPARATOR}VERSIONID"
            )
        if not fnmatch.fnmatchcase(key, self._spec.key):
            raise ArtifactNotFound(f"key '{key}' does not match the service's key glob '{self._spec.key}'")
        return self._resolve_object(version, key, version_id)

    def open(self, artifact: ResolvedArtifact) -> AbstractContextManager[BinaryIO]:
        return self._open(artifact)

    @contextmanager
    def _open(self, artifact: ResolvedArtifact) -> Iterator[BinaryIO]:
        if not artifact.s3_bucket or not artifact.s3_key:
            raise ArtifactInvalid(f"artifact version '{artifact.version}' has no S3 location")
        with _translated(f"s3://{artifact.s3_bucket}/{artifact.s3_key}", artifact.version):
            stream = self._s3.open_object(artifact.s3_bucket, artifact.s3_key, artifact.s3_version_id)
        with stream:
            yield stream

    # --- internals -----------------------------------------------------------------------------

    def _candidates(self) -> list[Candidate]:
        prefix = literal_prefix(self._spec.key)
        with _translated(self._where):
            try:
                objects = self._s3.list_object_versions(self._spec.bucket, prefix)
            except AwsAccessDenied:
                # Least-privilege roles often lack s3:ListBucketVersions: offer current objects only.
                objects = self._s3.list_objects(self._spec.bucket, prefix)
        return order_candidates(objects, self._spec.key)

    def _resolve_object(self, version: str, key: str, version_id: str | None) -> ResolvedArtifact:
        where = f"s3://{self._spec.bucket}/{key}" + (f" version {version_id}" if version_id else "")
        with _translated(where, version):
            try:
                head = self._s3.head_object(self._spec.bucket, key, version_id)
            except AwsInvalidRequest as exc:
                # S3 answers a malformed version id with 400 InvalidArgument: for us it does not exist.
                raise ArtifactNotFound(f"artifact version '{version}' not found at {where}: {exc}") from exc
            sha256 = head.sha256_hex or self._hash(key, head.version_id)
        region = self._bucket_region()
        return self._artifact(version, key, head.version_id, head.size, head.last_modified, sha256, region)

    def _hash(self, key: str, version_id: str | None) -> str:
        digest = hashlib.sha256()
        with self._s3.open_object(self._spec.bucket, key, version_id) as stream:
            while chunk := stream.read(_HASH_CHUNK):
                digest.update(chunk)
        return digest.hexdigest()

    def _bucket_region(self) -> str:
        if self._region is None:
            try:
                self._region = self._s3.bucket_region(self._spec.bucket)
            except AwsAccessDenied:
                # Without s3:GetBucketLocation, trust the region the provider was configured with.
                self._region = self._spec.region
            except AwsError as exc:
                raise _convert(exc, f"s3://{self._spec.bucket}", None) from exc
        return self._region

    def _artifact(
        self,
        version: str,
        key: str,
        version_id: str | None,
        size: int,
        last_modified: datetime | None,
        sha256: str | None,
        region: str,
    ) -> ResolvedArtifact:
        return ResolvedArtifact(
            version=version,
            sha256=sha256,
            size=size,
            s3_bucket=self._spec.bucket,
            s3_key=key,
            s3_version_id=version_id,
            s3_region=region,
            created_at=last_modified.isoformat() if last_modified else None,
        )


@contextmanager
def _translated(where: str, version: str | None = None) -> Iterator[None]:
    try:
        yield
    except AwsError as exc:
        raise _convert(exc, where, version) from exc


def _convert(exc: AwsError, where: str, version: str | None) -> ArtifactError:
    if isinstance(exc, AwsNotFound):
        what = f"artifact version '{version}'" if version else "artifact bucket or key"
        return ArtifactNotFound(f"{what} not found at {where}")
    if isinstance(exc, AwsAccessDenied):
        return ArtifactAuthError(f"access denied to {where}: {exc}")
    if isinstance(exc, AwsUnavailable):
        return ArtifactUnavailable(f"S3 unavailable for {where}: {exc}")
    return ArtifactError(f"S3 error for {where}: {exc}")
