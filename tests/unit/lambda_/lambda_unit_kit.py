"""Builders for the Lambda engine's pure unit tests (no AWS, no network)."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from delegate.artifacts.fetch import CodeRef
from delegate.aws.lambda_types import AliasInfo, CodeLocation, FunctionConfig
from delegate.lambda_.desired import DesiredFunction
from delegate.lambda_.snapshot import Snapshot, execution_marker
from shared.payloads import FunctionSpec

ROLE = "arn:aws:iam::123456789012:role/exec"


def sha(text: str) -> str:
    return base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


def code(text: str = "v1") -> CodeRef:
    return CodeRef(
        location=CodeLocation(zip_file=text.encode()),
        sha256_b64=sha(text),
        size=len(text),
        how="zip-upload",
        members=frozenset({"app.py"}),
    )


def desired(**overrides: Any) -> DesiredFunction:
    data: dict[str, Any] = {
        "name": "shop-orders-dev",
        "runtime": "python3.12",
        "handler": "app.handler",
        "role": ROLE,
        "aliases": ["dev"],
        "tags": {"team": "orders"},
        "environment": {"LOG_LEVEL": "info"},
    }
    data.update(overrides)
    return DesiredFunction.from_spec(FunctionSpec.model_validate(data), lambda v: v.replace("${secrets.PW}", "hunter2"))


def config(
    version: str = "$LATEST", *, code_text: str = "v1", description: str = "", **overrides: Any
) -> FunctionConfig:
    data: dict[str, Any] = {
        "FunctionName": "shop-orders-dev",
        "FunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:shop-orders-dev"
        + ("" if version == "$LATEST" else f":{version}"),
        "Version": version,
        "Runtime": "python3.12",
        "Handler": "app.handler",
        "Role": ROLE,
        "MemorySize": 128,
        "Timeout": 3,
        "Architectures": ["x86_64"],
        "Environment": {"Variables": {"LOG_LEVEL": "info"}},
        "CodeSha256": sha(code_text),
        "Description": description,
        "State": "Active",
        "LastUpdateStatus": "Successful",
    }
    data.update(overrides)
    return FunctionConfig.from_response(data)


def alias(name: str, version: str, routing: dict[str, float] | None = None) -> AliasInfo:
    return AliasInfo(name=name, function_version=version, routing=routing or {}, description="", revision_id=None)


def snapshot(
    latest: FunctionConfig | None = None,
    *,
    versions: tuple[FunctionConfig, ...] = (),
    aliases: dict[str, AliasInfo] | None = None,
    tags: dict[str, str] | None = None,
    existed_before: bool = True,
) -> Snapshot:
    return Snapshot(
        name="shop-orders-dev",
        existed_before=existed_before and latest is not None,
        config=latest,
        tags={"team": "orders"} if tags is None else tags,
        aliases=aliases or {},
        versions=versions,
    )


MARKER = execution_marker("exec-7")
