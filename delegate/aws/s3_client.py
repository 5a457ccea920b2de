"""Typed wrapper of Amazon S3: listing artifacts, reading them, and staging large zips for Lambda.

- `list_object_versions` / `list_objects` page through a prefix and return `S3ObjectVersion`s.
- `head_object` returns size, version and, when S3 has one for the whole object, its SHA-256.
- `open_object` returns a readable binary stream (a `BufferedReader` over the HTTP body): callers read
  it in chunks; nothing is held in memory whole.
- `upload_file_multipart` streams a local file into S3 part by part (constant memory: one part) and
  aborts the upload on failure so no orphaned parts keep costing money.
Every method does network I/O.
"""

from __future__ import annotations

import base64
import contextlib
import io
from dataclasses import dataclass
from datetime import datetime
from typing import Any, BinaryIO

from botocore.exceptions import BotoCoreError

from delegate.aws.base import ServiceClient
from delegate.aws.errors import AwsError, translate

MIN_PART_SIZE = 5 * 1024 * 1024
"""S3's minimum size of every part except the last."""


@dataclass(frozen=True)
class S3ObjectVersion:
    key: str
    version_id: str | None  # None for unversioned buckets ("null" in S3's API)
    is_latest: bool
    last_modified: datetime
    size: int


@dataclass(frozen=True)
class S3ObjectHead:
    key: str
    version_id: str | None
    size: int
    last_modified: datetime | None
    sha256_hex: str | None  # only when S3 stores a full-object SHA-256 checksum


class S3Client(ServiceClient):
    SERVICE = "s3"

    def bucket_region(self, bucket: str) -> str:
        response = self._call("s3:GetBucketLocation", f"bucket {bucket}", Bucket=bucket)
        location = response.get("LocationConstraint")
        # S3 reports us-east-1 as null and, for very old buckets, eu-west-1 as "EU".
        if not location:
            return "us-east-1"
        return "eu-west-1" if location == "EU" else str(location)

    def list_object_versions(self, bucket: str, prefix: str) -> list[S3ObjectVersion]:
        """Every version of every key under `prefix` (delete markers skipped), in S3's order."""
        params: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix}
        out: list[S3ObjectVersion] = []
        while True:
            page = self._call("s3:ListObjectVersions", f"bucket {bucket}", **params)
            for item in page.get("Versions") or []:
                version_id = item.get("VersionId")
                out.append(
                    S3ObjectVersion(
                        key=str(item["Key"]),
                        version_id=None if version_id in (None, "null") else str(version_id),
                        is_latest=bool(item.get("IsLatest")),
                        last_modified=item["LastModified"],
                        size=int(item.get("Size") or 0),
                    )
                )
            if not page.get("IsTruncated"):
                return out
            params = {
                **params,
                "KeyMarker": page.get("NextKeyMarker"),
                "VersionIdMarker": page.get("NextVersionIdMarker"),
            }

    def list_objects(self, bucket: str, prefix: str) -> list[S3ObjectVersion]:
        """Current objects under `prefix` (no version information)."""
        items = self._paginate("s3:ListObjectsV2", f"bucket {bucket}", "Contents", Bucket=bucket, Prefix=prefix)
        return [
            S3ObjectVersion(
                key=str(item["Key"]),
                version_id=None,
                is_latest=True,
                last_modified=item["LastModified"],
                size=int(item.get("Size") or 0),
            )
            for item in items
        ]

    def head_object(self, bucket: str, key: str, version_id: str | None = None) -> S3ObjectHead:
        params: dict[str, Any] = {"Bucket": bucket, "Key": key, "ChecksumMode": "ENABLED"}
        if version_id:
            params["VersionId"] = version_id
        response = self._call("s3:HeadObject", _target(bucket, key, version_id), **params)
        found_version = response.get("VersionId")
        return S3ObjectHead(
            key=key,
            version_id=None if found_version in (None, "null") else str(found_version),
            size=int(response.get("ContentLength") or 0),
            last_modified=response.get("LastModified"),
            sha256_hex=_full_object_sha256(response),
        )

    def open_object(self, bucket: str, key: str, version_id: str | None = None) -> BinaryIO:
        """A buffered binary stream of the object; close it when done (use `with`)."""
        params: dict[str, Any] = {"Bucket": bucket, "Key": key}
        if version_id:
            params["VersionId"] = version_id
        target = _target(bucket, key, version_id)
        response = self._call("s3:GetObject", target, **params)
        return io.BufferedReader(_BodyReader(response["Body"], target), buffer_size=1024 * 1024)

    def upload_file_multipart(
        self, path: str, bucket: str, key: str, *, part_size: int = 16 * 1024 * 1024
    ) -> str | None:
        """Upload a local file by multipart upload; returns the object's VersionId (None if unversioned)."""
        part_size = max(part_size, MIN_PART_SIZE)
        target = _target(bucket, key, None)
        created = self._call("s3:CreateMultipartUpload", target, Bucket=bucket, Key=key)
        upload_id = str(created["UploadId"])
        try:
            parts: list[dict[str, Any]] = []
            with open(path, "rb") as source:
                number = 1
                while True:
                    chunk = source.read(part_size)
                    if not chunk and parts:
                        break
                    part = self._call(
                        "s3:UploadPart",
                        f"{target} part {number}",
                        Bucket=bucket,
                        Key=key,
                        UploadId=upload_id,
                        PartNumber=number,
                        Body=chunk,
                    )
                    parts.append({"ETag": part["ETag"], "PartNumber": number})
                    if len(chunk) < part_size:
                        break
                    number += 1
            done = self._call(
                "s3:CompleteMultipartUpload",
                target,
                Bucket=bucket,
                Key=key,
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},
            )
        except BaseException:
            # Best effort: orphaned parts are billed until a lifecycle rule removes them.
            with contextlib.suppress(AwsError):
                self._call("s3:AbortMultipartUpload", target, Bucket=bucket, Key=key, UploadId=upload_id)
            raise
        version = done.get("VersionId")
        return None if version in (None, "null") else str(version)


class _BodyReader(io.RawIOBase):
    """A raw stream over botocore's StreamingBody, translating read errors into AwsError."""

    def __init__(self, body: Any, target: str) -> None:
        self._body = body
        self._target = target

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        try:
            data = self._body.read(len(view))
        except (BotoCoreError, OSError) as exc:
            raise translate(exc, operation="s3:GetObject", target=self._target) from exc
        view[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._body.close()
        super().close()


def _full_object_sha256(response: dict[str, Any]) -> str | None:
    value = response.get("ChecksumSHA256")
    if not value:
        return None
    kind = response.get("ChecksumType")
    # Multipart uploads carry a checksum of part checksums ("...=-3"), not of the object.
    if kind == "COMPOSITE" or (kind is None and "-" in str(value)):
        return None
    try:
        return base64.b64decode(str(value)).hex()
    except ValueError:
        return None


def _target(bucket: str, key: str, version_id: str | None) -> str:
    return f"s3://{bucket}/{key}" + (f" (version {version_id})" if version_id else "")
