"""Helpers for the Lambda engine's integration tests: zips, specs, payloads, a moto-backed world.

The moto server runs in this process on loopback (one per xdist worker, see conftest.py); tests talk
to it over HTTP through the real wrappers. boto3 is used directly only to set up the world (IAM role,
buckets, objects) and never patched.
"""

from __future__ import annotations

import hashlib
import io
import uuid
import zipfile
from dataclasses import dataclass
from typing import Any

import boto3

from delegate.artifacts.s3 import S3ArtifactSource
from delegate.aws import AwsFactory, LambdaClient
from delegate.tasklog import ListTaskLog
from shared.payloads import FunctionSpec, InheritCredentials, LambdaDeployPayload, ResolvedArtifact, S3Source

ACCOUNT = "123456789012"
REGION = "us-east-1"
OTHER_REGION = "eu-west-1"
SECRET_VALUE = "s3cr3t-value-42"


def make_zip(files: dict[str, str] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in (files or {"app.py": "def handler(event, context):\n    return 1\n"}).items():
            archive.writestr(name, text)
    return buffer.getvalue()


def app_zip(marker: str) -> bytes:
    return make_zip({"app.py": f"def handler(event, context):\n    return {marker!r}\n"})


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def render_secrets(value: str) -> str:
    return value.replace("${secrets.DB_PASSWORD}", SECRET_VALUE)


def mask(value: str) -> str:
    return value.replace(SECRET_VALUE, "**********")


def never() -> bool:
    return False


@dataclass
class World:
    """Handles on the moto server for one test: raw boto3 for set-up, our wrappers for the rest."""

    endpoint: str
    aws: AwsFactory
    role: str

    def boto(self, service: str, region: str = REGION) -> Any:
        return boto3.client(
            service,
            region_name=region,
            endpoint_url=self.endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    @property
    def lambda_(self) -> LambdaClient:
        return self.aws.lambda_(InheritCredentials(), REGION)

    def create_bucket(self, name: str, region: str = REGION, *, versioned: bool = False) -> str:
        s3 = self.boto("s3", region)
        if region == "us-east-1":
            s3.create_bucket(Bucket=name)
        else:
            s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": region})
        if versioned:
            s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
        return name

    def put(self, bucket: str, key: str, body: bytes, **extra: Any) -> str | None:
        response = self.boto("s3").put_object(Bucket=bucket, Key=key, Body=body, **extra)
        version = response.get("VersionId")
        return None if version in (None, "null") else str(version)

    def source(self, bucket: str, glob: str, region: str = REGION) -> S3ArtifactSource:
        spec = S3Source(bucket=bucket, key=glob, region=region)
        return S3ArtifactSource(spec, self.aws.s3(InheritCredentials(), region))

    def artifact(self, body: bytes, *, region: str = REGION, name: str = "orders-1.zip") -> Artifact:
        """Upload `body` as orders/NAME in a fresh bucket of `region`; return its source and resolution."""
        bucket = self.create_bucket(unique("art"), region)
        self.put(bucket, f"orders/{name}", body)
        source = self.source(bucket, "orders/*.zip", region)
        return Artifact(source, source.resolve(f"orders/{name}"), body)


@dataclass(frozen=True)
class Artifact:
    source: S3ArtifactSource
    resolved: ResolvedArtifact
    body: bytes


def spec(name: str, role: str, **overrides: Any) -> FunctionSpec:
    data: dict[str, Any] = {
        "name": name,
        "runtime": "python3.12",
        "handler": "app.handler",
        "role": role,
        "aliases": ["dev"],
        "tags": {"team": "orders"},
        "environment": {"LOG_LEVEL": "info"},
    }
    data.update(overrides)
    return FunctionSpec.model_validate(data)


def payload(
    execution_id: str,
    artifact: ResolvedArtifact,
    source: S3ArtifactSource,
    functions: list[FunctionSpec],
    **overrides: Any,
) -> LambdaDeployPayload:
    data: dict[str, Any] = {
        "executionId": execution_id,
        "region": REGION,
        "artifact": artifact.model_dump(by_alias=True),
        "artifactSource": source.spec.model_dump(by_alias=True),
        "functions": [f.model_dump(by_alias=True) for f in functions],
    }
    data.update(overrides)
    return LambdaDeployPayload.model_validate(data)


def lines(log: ListTaskLog, section: str | None = None) -> list[str]:
    return [text for sec, _level, text in log.lines if section is None or sec == section]


def sections(log: ListTaskLog) -> list[str]:
    seen: list[str] = []
    for sec, _level, _text in log.lines:
        if not seen or seen[-1] != sec:
            seen.append(sec)
    return seen
