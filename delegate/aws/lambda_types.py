"""Typed shapes of what the Lambda wrapper sends and returns. No I/O, no boto3.

`FunctionSettings` is the part of a function's configuration Outrider manages; it is both what the
planner wants and what it reads back (normalised, so that "no VPC" and "empty VPC lists" compare
equal). `from_response` converts Lambda's JSON (GetFunctionConfiguration, ListVersionsByFunction,
PublishVersion...) into `FunctionConfig`; `to_request` goes the other way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any


def _frozen(mapping: Mapping[str, str] | None) -> Mapping[str, str]:
    return MappingProxyType(dict(mapping or {}))


@dataclass(frozen=True)
class VpcSettings:
    subnet_ids: tuple[str, ...]
    security_group_ids: tuple[str, ...]

    @staticmethod
    def of(subnet_ids: list[str] | tuple[str, ...], security_group_ids: list[str] | tuple[str, ...]) -> VpcSettings:
        # Lambda does not preserve order; compare as sorted tuples.
        return VpcSettings(tuple(sorted(subnet_ids)), tuple(sorted(security_group_ids)))

    def to_request(self) -> dict[str, list[str]]:
        return {"SubnetIds": list(self.subnet_ids), "SecurityGroupIds": list(self.security_group_ids)}


NO_VPC = VpcSettings((), ())
"""Sent to detach a function from its VPC."""


@dataclass(frozen=True, kw_only=True)
class FunctionSettings:
    """The managed configuration of a function ($LATEST or a published version)."""

    runtime: str | None
    handler: str | None
    role: str
    memory_size: int
    timeout: int
    architecture: str
    # Values may be rendered secrets: never part of a repr (tracebacks, debug logs).
    environment: Mapping[str, str] = field(default_factory=lambda: _frozen(None), repr=False)
    vpc: VpcSettings | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "environment", _frozen(self.environment))
        if self.vpc is not None and not self.vpc.subnet_ids and not self.vpc.security_group_ids:
            object.__setattr__(self, "vpc", None)

    def differing_fields(self, other: FunctionSettings) -> tuple[str, ...]:
        """Names of fields whose values differ, in a stable order."""
        names = ("runtime", "handler", "role", "memory_size", "timeout", "architecture", "environment", "vpc")
        out = []
        for name in names:
            mine, theirs = getattr(self, name), getattr(other, name)
            if name == "environment":
                mine, theirs = dict(mine), dict(theirs)
            if mine != theirs:
                out.append(name)
        return tuple(out)


@dataclass(frozen=True, kw_only=True)
class FunctionConfig:
    """One function configuration as Lambda reports it (`Version` is "$LATEST" or a number)."""

    name: str
    arn: str
    version: str
    settings: FunctionSettings
    code_sha256: str
    code_size: int
    description: str
    state: str | None
    state_reason: str | None
    last_update_status: str | None
    last_update_status_reason: str | None
    revision_id: str | None
    last_modified: str | None

    @property
    def unqualified_arn(self) -> str:
        parts = self.arn.split(":")
        # arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]
        return ":".join(parts[:7]) if len(parts) > 7 else self.arn

    @staticmethod
    def from_response(data: Mapping[str, Any]) -> FunctionConfig:
        env = (data.get("Environment") or {}).get("Variables") or {}
        vpc_data = data.get("VpcConfig") or {}
        vpc = VpcSettings.of(vpc_data.get("SubnetIds") or [], vpc_data.get("SecurityGroupIds") or [])
        architectures = data.get("Architectures") or ["x86_64"]
        settings = FunctionSettings(
            runtime=data.get("Runtime"),
            handler=data.get("Handler"),
            role=str(data.get("Role", "")),
            memory_size=int(data.get("MemorySize") or 128),
            timeout=int(data.get("Timeout") or 3),
            architecture=str(architectures[0]),
            environment={str(k): str(v) for k, v in env.items()},
            vpc=vpc,
        )
        return FunctionConfig(
            name=str(data.get("FunctionName", "")),
            arn=str(data.get("FunctionArn", "")),
            version=str(data.get("Version") or "$LATEST"),
            settings=settings,
            code_sha256=str(data.get("CodeSha256") or ""),
            code_size=int(data.get("CodeSize") or 0),
            description=str(data.get("Description") or ""),
            state=data.get("State"),
            state_reason=data.get("StateReason"),
            last_update_status=data.get("LastUpdateStatus"),
            last_update_status_reason=data.get("LastUpdateStatusReason"),
            revision_id=data.get("RevisionId"),
            last_modified=data.get("LastModified"),
        )


@dataclass(frozen=True)
class FunctionInfo:
    """GetFunction: configuration plus the function's tags."""

    config: FunctionConfig
    tags: Mapping[str, str]


@dataclass(frozen=True)
class AliasInfo:
    name: str
    function_version: str
    routing: Mapping[str, float]
    description: str
    revision_id: str | None

    @staticmethod
    def from_response(data: Mapping[str, Any]) -> AliasInfo:
        weights = (data.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
        return AliasInfo(
            name=str(data.get("Name", "")),
            function_version=str(data.get("FunctionVersion", "")),
            routing=MappingProxyType({str(k): float(v) for k, v in weights.items()}),
            description=str(data.get("Description") or ""),
            revision_id=data.get("RevisionId"),
        )


@dataclass(frozen=True)
class CodeLocation:
    """Where Lambda takes code from: zip bytes in the request, or an S3 object in its region."""

    zip_file: bytes | None = None
    s3_bucket: str | None = None
    s3_key: str | None = None
    s3_object_version: str | None = None

    def __post_init__(self) -> None:
        if (self.zip_file is None) == (self.s3_bucket is None or self.s3_key is None):
            raise ValueError("CodeLocation needs either zip_file or s3_bucket and s3_key")

    def to_request(self) -> dict[str, Any]:
        """Keys shared by CreateFunction's `Code` and UpdateFunctionCode's parameters."""
        if self.zip_file is not None:
            return {"ZipFile": self.zip_file}
        out: dict[str, Any] = {"S3Bucket": self.s3_bucket, "S3Key": self.s3_key}
        if self.s3_object_version:
            out["S3ObjectVersion"] = self.s3_object_version
        return out

    def __repr__(self) -> str:  # keep megabytes of zip out of logs and tracebacks
        if self.zip_file is not None:
            return f"CodeLocation(zip_file=<{len(self.zip_file)} bytes>)"
        version = f"?versionId={self.s3_object_version}" if self.s3_object_version else ""
        return f"CodeLocation(s3://{self.s3_bucket}/{self.s3_key}{version})"


@dataclass(frozen=True, kw_only=True)
class ConfigurationUpdate:
    """UpdateFunctionConfiguration parameters; None means "leave unchanged"."""

    runtime: str | None = None
    handler: str | None = None
    role: str | None = None
    memory_size: int | None = None
    timeout: int | None = None
    environment: Mapping[str, str] | None = field(default=None, repr=False)  # may hold rendered secrets
    vpc: VpcSettings | None = None  # NO_VPC detaches

    @staticmethod
    def from_settings(settings: FunctionSettings, fields: tuple[str, ...]) -> ConfigurationUpdate:
        """The update that makes `fields` of a function equal to `settings` (architecture excluded:
        Lambda changes it only together with code, through UpdateFunctionCode)."""
        values: dict[str, Any] = {}
        for name in fields:
            if name == "architecture":
                continue
            if name == "vpc":
                values["vpc"] = settings.vpc or NO_VPC
            elif name == "environment":
                values["environment"] = dict(settings.environment)
            else:
                values[name] = getattr(settings, name)
        return ConfigurationUpdate(**values)

    def is_empty(self) -> bool:
        return not self.to_request()

    def to_request(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.runtime is not None:
            out["Runtime"] = self.runtime
        if self.handler is not None:
            out["Handler"] = self.handler
        if self.role is not None:
            out["Role"] = self.role
        if self.memory_size is not None:
            out["MemorySize"] = self.memory_size
        if self.timeout is not None:
            out["Timeout"] = self.timeout
        if self.environment is not None:
            out["Environment"] = {"Variables": dict(self.environment)}
        if self.vpc is not None:
            out["VpcConfig"] = self.vpc.to_request()
        return out
