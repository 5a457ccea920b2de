"""Get a function's code from a ResolvedArtifact in the cheapest safe form Lambda accepts.

Decision, in order:
1. The artifact is an S3 object in the function's region and its SHA-256 is known: pass it by
   reference (S3Bucket/S3Key/S3ObjectVersion). Nothing is downloaded; Lambda reads the object itself
   and rejects a non-zip. The handler-file check is skipped (the zip is never opened here).
2. Otherwise stream it from the source (`ArtifactSourceClient.open`) in chunks into a temporary file,
   hashing while streaming; a known SHA-256 (or size) that does not match is `ArtifactInvalid` and
   nothing is deployed. The file must be a zip whose declared uncompressed total is within Lambda's
   250 MB (read from the central directory: zip bombs are refused without extracting anything).
   Then, same-region S3 (checksum was unknown): by reference; <= 50 MB: sent inline as ZipFile;
   larger: multipart-uploaded from the temp file (constant memory) into the infrastructure's
   stagingBucket under `outrider/EXECUTION_ID/SHA256.zip` and passed by reference; larger with no
   staging bucket: `ArtifactInvalid` saying so.

`check_handler` verifies the handler's module file is in the zip for interpreted runtimes
(`app.handler` -> `app.py`; `index.handler` -> `index.js|.mjs|.cjs`; `function.handler` -> `function.rb`).

I/O: `fetch_code` reads the network (source, S3 staging) and a temporary file that it always
removes. `CodeRef`, `validate_zip` (local file only) and `check_handler` are otherwise pure.
"""

from __future__ import annotations

import base64
import hashlib
import os
import tempfile
import zipfile
from dataclasses import dataclass
from typing import Literal

from delegate.artifacts.base import ArtifactError, ArtifactInvalid, ArtifactSourceClient, ArtifactUnavailable
from delegate.aws.errors import AwsError
from delegate.aws.lambda_types import CodeLocation
from delegate.aws.s3_client import S3Client
from delegate.tasklog import TaskLog
from shared.payloads import ResolvedArtifact

MB = 1024 * 1024


@dataclass(frozen=True, kw_only=True)
class CodeLimits:
    """Lambda's package limits and our I/O sizes; tests shrink `direct_upload_max` to exercise staging."""

    direct_upload_max: int = 50 * MB
    """Largest zip sent inline (ZipFile) in the API request."""
    unzipped_max: int = 250 * MB
    """Largest total uncompressed size Lambda accepts."""
    chunk_size: int = 1 * MB
    """Read size while streaming from the source."""
    part_size: int = 16 * MB
    """Multipart upload part size when staging (S3 minimum 5 MB)."""


How = Literal["s3-reference", "zip-upload", "staged"]


@dataclass(frozen=True, kw_only=True)
class CodeRef:
    """The code to give Lambda, and its checksum in Lambda's `CodeSha256` form (base64)."""

    location: CodeLocation
    sha256_b64: str
    size: int | None
    how: How
    members: frozenset[str] | None = None
    """File names in the zip, when the zip was opened here (None when passed by reference unseen)."""

    @property
    def sha256_hex(self) -> str:
        return base64.b64decode(self.sha256_b64).hex()

    def describe(self) -> str:
        size = f"{self.size / MB:.1f} MB" if self.size is not None else "size unknown"
        if self.how == "zip-upload":
            return f"inline zip upload ({size})"
        loc = self.location
        version = f" version {loc.s3_object_version}" if loc.s3_object_version else ""
        verb = "staged at" if self.how == "staged" else "by reference to"
        return f"{verb} s3://{loc.s3_bucket}/{loc.s3_key}{version} ({size})"


def hex_to_b64(sha256_hex: str) -> str:
    return base64.b64encode(bytes.fromhex(sha256_hex)).decode("ascii")


def b64_to_hex(sha256_b64: str) -> str:
    try:
        return base64.b64decode(sha256_b64).hex()
    except ValueError:
        return sha256_b64


def fetch_code(
    artifact: ResolvedArtifact,
    *,
    source: ArtifactSourceClient,
    function_region: str,
    execution_id: str,
    log: TaskLog,
    staging: S3Client | None = None,
    staging_bucket: str | None = None,
    limits: CodeLimits | None = None,
    tmp_dir: str | None = None,
) -> CodeRef:
    """Return how Lambda should get `artifact`'s code (see the module docstring for the rules)."""
    limits = limits or CodeLimits()
    in_s3 = bool(artifact.s3_bucket and artifact.s3_key)
    same_region = in_s3 and artifact.s3_region == function_region
    expected_sha = artifact.sha256.lower() if artifact.sha256 else None

    if same_region and expected_sha:
        location = CodeLocation(
            s3_bucket=artifact.s3_bucket, s3_key=artifact.s3_key, s3_object_version=artifact.s3_version_id
        )
        ref = CodeRef(location=location, sha256_b64=hex_to_b64(expected_sha), size=artifact.size, how="s3-reference")
        log.info(f"Artifact {artifact.version}: {ref.describe()} (same region, nothing downloaded)")
        return ref

    why = "checksum unknown" if same_region else f"not in S3 in {function_region}"
    log.info(f"Artifact {artifact.version}: downloading ({why})")
    with tempfile.TemporaryDirectory(prefix="outrider-artifact-", dir=tmp_dir) as workdir:
        path = os.path.join(workdir, "artifact.zip")
        sha_hex, size = _download(artifact, source, path, limits.chunk_size)
        if expected_sha and sha_hex != expected_sha:
            raise ArtifactInvalid(
                f"artifact {artifact.version}: SHA-256 mismatch: expected {expected_sha}, downloaded {sha_hex}"
            )
        if artifact.size is not None and artifact.size != size:
            raise ArtifactInvalid(
                f"artifact {artifact.version}: size mismatch: expected {artifact.size} bytes, got {size}"
            )
        members = validate_zip(path, limits, what=f"artifact {artifact.version}")
        checked = "verified" if expected_sha else "computed"
        log.info(f"Artifact {artifact.version}: {size / MB:.1f} MB, sha256 {sha_hex[:12]}… ({checked}), valid zip")
        sha_b64 = hex_to_b64(sha_hex)

        if same_region:
            location = CodeLocation(
                s3_bucket=artifact.s3_bucket, s3_key=artifact.s3_key, s3_object_version=artifact.s3_version_id
            )
            return CodeRef(location=location, sha256_b64=sha_b64, size=size, how="s3-reference", members=members)
        if size <= limits.direct_upload_max:
            with open(path, "rb") as fh:
                data = fh.read()
            return CodeRef(
                location=CodeLocation(zip_file=data), sha256_b64=sha_b64, size=size, how="zip-upload", members=members
            )
        if not staging_bucket or staging is None:
            raise ArtifactInvalid(
                f"artifact {artifact.version} is {size / MB:.1f} MB, over Lambda's "
                f"{limits.direct_upload_max / MB:.0f} MB direct upload limit, and is not in S3 in {function_region}: "
                "set stagingBucket on the environment's infrastructure"
            )
        key = f"outrider/{execution_id}/{sha_hex}.zip"
        log.info(f"Artifact {artifact.version}: staging to s3://{staging_bucket}/{key} (multipart)")
        try:
            version_id = staging.upload_file_multipart(path, staging_bucket, key, part_size=limits.part_size)
        except AwsError as exc:
            raise ArtifactUnavailable(f"could not stage artifact {artifact.version}: {exc}") from exc
        location = CodeLocation(s3_bucket=staging_bucket, s3_key=key, s3_object_version=version_id)
        ref = CodeRef(location=location, sha256_b64=sha_b64, size=size, how="staged", members=members)
        log.info(f"Artifact {artifact.version}: {ref.describe()}")
        return ref


def _download(artifact: ResolvedArtifact, source: ArtifactSourceClient, path: str, chunk_size: int) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    try:
        with source.open(artifact) as stream, open(path, "wb") as out:
            while chunk := stream.read(chunk_size):
                digest.update(chunk)
                out.write(chunk)
                size += len(chunk)
    except ArtifactError:
        raise
    except (AwsError, OSError) as exc:
        raise ArtifactUnavailable(f"downloading artifact {artifact.version} failed: {exc}") from exc
    return digest.hexdigest(), size


def validate_zip(path: str, limits: CodeLimits, *, what: str) -> frozenset[str]:
    """File names of a valid zip within Lambda's unzipped limit; reads only the central directory."""
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError) as exc:
        raise ArtifactInvalid(f"{what} is not a valid zip file: {exc}") from exc
    files = [info for info in infos if not info.is_dir()]
    if not files:
        raise ArtifactInvalid(f"{what} is an empty zip file")
    total = sum(info.file_size for info in files)
    if total > limits.unzipped_max:
        raise ArtifactInvalid(
            f"{what} unzips to {total / MB:.1f} MB, over Lambda's {limits.unzipped_max / MB:.0f} MB limit"
        )
    return frozenset(_normalise(info.filename) for info in files)


def _normalise(name: str) -> str:
    name = name.replace("\\", "/")
    while name.startswith("./"):
        name = name[2:]
    return name.lstrip("/")


def handler_candidates(runtime: str, handler: str) -> tuple[str, ...] | None:
    """Files one of which must exist for `handler` in `runtime`; None when we cannot tell (compiled)."""
    module, dot, _function = handler.rpartition(".")
    if runtime.startswith("python"):
        if not dot or not module:
            return ()
        path = module.replace(".", "/") if "/" not in module else module
        return (f"{path}.py", f"{path}/__init__.py")
    if runtime.startswith("nodejs"):
        if not dot or not module:
            return ()
        return tuple(f"{module}{ext}" for ext in (".js", ".mjs", ".cjs"))
    if runtime.startswith("ruby"):
        if not dot or not module:
            return ()
        return (f"{module}.rb",)
    return None


def check_handler(code: CodeRef, *, function: str, runtime: str, handler: str) -> None:
    """Raise ArtifactInvalid when the handler's file is missing from the zip (interpreted runtimes)."""
    if code.members is None:
        return
    candidates = handler_candidates(runtime, handler)
    if candidates is None:
        return
    if not candidates:
        raise ArtifactInvalid(f"function {function}: handler '{handler}' is not MODULE.FUNCTION for {runtime}")
    if not any(name in code.members for name in candidates):
        raise ArtifactInvalid(
            f"function {function}: handler '{handler}' needs {' or '.join(candidates)} in the zip, which has "
            f"{len(code.members)} files and none of them"
        )
