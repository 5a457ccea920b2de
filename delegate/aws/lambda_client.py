"""Typed wrapper of AWS Lambda: every Lambda call Outrider makes, and the wait on update status.

Methods return frozen dataclasses from `lambda_types`; failures raise `AwsError` subclasses (after
retrying conflicts, throttling, 5xx and connection errors, see `retry.py`). `wait_until_ready` polls
GetFunctionConfiguration with the injected `sleep`/`clock` until `State` is Active and
`LastUpdateStatus` Successful, like botocore's `function_updated_v2` waiter (1 s), but bounded by our
clock and turning `Failed` into `AwsUpdateFailed` with Lambda's reason. Every method does network I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from delegate.aws.base import ServiceClient
from delegate.aws.errors import AwsNotFound, AwsTimeout, AwsUpdateFailed
from delegate.aws.lambda_types import (
    AliasInfo,
    CodeLocation,
    ConfigurationUpdate,
    FunctionConfig,
    FunctionInfo,
    FunctionSettings,
)

_LATEST = "$LATEST"


def _routing(weights: Mapping[str, float] | None) -> dict[str, Any]:
    # An explicit empty map clears weights left by a canary; omitting it would keep them.
    return {"AdditionalVersionWeights": dict(weights or {})}


class LambdaClient(ServiceClient):
    SERVICE = "lambda"

    # --- reading -----------------------------------------------------------------------------

    def get_function(self, name: str, *, qualifier: str | None = None) -> FunctionInfo | None:
        """Configuration and tags, or None when the function (or qualifier) does not exist."""
        params: dict[str, Any] = {"FunctionName": name}
        if qualifier:
            params["Qualifier"] = qualifier
        try:
            response = self._call("lambda:GetFunction", _target(name, qualifier), **params)
        except AwsNotFound:
            return None
        tags = {str(k): str(v) for k, v in (response.get("Tags") or {}).items()}
        return FunctionInfo(config=FunctionConfig.from_response(response.get("Configuration") or {}), tags=tags)

    def get_configuration(self, name: str, *, qualifier: str | None = None) -> FunctionConfig:
        params: dict[str, Any] = {"FunctionName": name}
        if qualifier:
            params["Qualifier"] = qualifier
        response = self._call("lambda:GetFunctionConfiguration", _target(name, qualifier), **params)
        return FunctionConfig.from_response(response)

    def list_versions(self, name: str) -> list[FunctionConfig]:
        """Published versions, oldest first ($LATEST excluded)."""
        items = self._paginate(
            "lambda:ListVersionsByFunction", _target(name), "Versions", FunctionName=name, MaxItems=50
        )
        versions = [FunctionConfig.from_response(item) for item in items]
        published = [v for v in versions if v.version != _LATEST]
        return sorted(published, key=lambda v: int(v.version) if v.version.isdigit() else 0)

    def list_aliases(self, name: str) -> list[AliasInfo]:
        items = self._paginate("lambda:ListAliases", _target(name), "Aliases", FunctionName=name, MaxItems=50)
        return sorted((AliasInfo.from_response(item) for item in items), key=lambda a: a.name)

    # --- writing -----------------------------------------------------------------------------

    def create_function(
        self,
        name: str,
        *,
        settings: FunctionSettings,
        code: CodeLocation,
        description: str,
        tags: Mapping[str, str],
        publish: bool = False,
    ) -> FunctionConfig:
        params: dict[str, Any] = {
            "FunctionName": name,
            "Role": settings.role,
            "Code": code.to_request(),
            "Description": description,
            "MemorySize": settings.memory_size,
            "Timeout": settings.timeout,
            "Architectures": [settings.architecture],
            "PackageType": "Zip",
            "Publish": publish,
        }
        if settings.runtime:
            params["Runtime"] = settings.runtime
        if settings.handler:
            params["Handler"] = settings.handler
        if settings.environment:
            params["Environment"] = {"Variables": dict(settings.environment)}
        if settings.vpc is not None:
            params["VpcConfig"] = settings.vpc.to_request()
        if tags:
            params["Tags"] = dict(tags)
        response = self._call("lambda:CreateFunction", _target(name), **params)
        return FunctionConfig.from_response(response)

    def update_code(
        self,
        name: str,
        *,
        code: CodeLocation,
        architecture: str | None = None,
        revision_id: str | None = None,
    ) -> FunctionConfig:
        params: dict[str, Any] = {"FunctionName": name, **code.to_request()}
        if architecture:
            # Lambda changes the architecture only together with code, in this call.
            params["Architectures"] = [architecture]
        if revision_id:
            params["RevisionId"] = revision_id
        return FunctionConfig.from_response(self._call("lambda:UpdateFunctionCode", _target(name), **params))

    def update_configuration(
        self, name: str, update: ConfigurationUpdate, *, revision_id: str | None = None
    ) -> FunctionConfig:
        params: dict[str, Any] = {"FunctionName": name, **update.to_request()}
        if revision_id:
            params["RevisionId"] = revision_id
        response = self._call("lambda:UpdateFunctionConfiguration", _target(name), **params)
        return FunctionConfig.from_response(response)

    def publish_version(
        self, name: str, *, code_sha256: str, description: str, revision_id: str | None = None
    ) -> FunctionConfig:
        """Publish $LATEST; fails with AwsPreconditionFailed if its code or revision moved meanwhile."""
        params: dict[str, Any] = {"FunctionName": name, "CodeSha256": code_sha256, "Description": description}
        if revision_id:
            params["RevisionId"] = revision_id
        return FunctionConfig.from_response(self._call("lambda:PublishVersion", _target(name), **params))

    def create_alias(
        self, name: str, alias: str, *, version: str, routing: Mapping[str, float] | None = None, description: str = ""
    ) -> AliasInfo:
        params: dict[str, Any] = {"FunctionName": name, "Name": alias, "FunctionVersion": version}
        if routing:
            params["RoutingConfig"] = _routing(routing)
        if description:
            params["Description"] = description
        return AliasInfo.from_response(self._call("lambda:CreateAlias", _target(name, alias), **params))

    def update_alias(
        self,
        name: str,
        alias: str,
        *,
        version: str,
        routing: Mapping[str, float] | None = None,
        revision_id: str | None = None,
    ) -> AliasInfo:
        params: dict[str, Any] = {
            "FunctionName": name,
            "Name": alias,
            "FunctionVersion": version,
            "RoutingConfig": _routing(routing),
        }
        if revision_id:
            params["RevisionId"] = revision_id
        return AliasInfo.from_response(self._call("lambda:UpdateAlias", _target(name, alias), **params))

    def delete_alias(self, name: str, alias: str) -> None:
        self._call("lambda:DeleteAlias", _target(name, alias), FunctionName=name, Name=alias)

    def tag(self, arn: str, tags: Mapping[str, str]) -> None:
        if tags:
            self._call("lambda:TagResource", f"function {_name_of(arn)}", Resource=arn, Tags=dict(tags))

    def untag(self, arn: str, keys: list[str] | tuple[str, ...]) -> None:
        if keys:
            self._call("lambda:UntagResource", f"function {_name_of(arn)}", Resource=arn, TagKeys=list(keys))

    def delete_function(self, name: str) -> bool:
        """Delete the function with all its versions and aliases; False if it was already gone."""
        try:
            self._call("lambda:DeleteFunction", _target(name), FunctionName=name)
        except AwsNotFound:
            return False
        return True

    # --- waiting -----------------------------------------------------------------------------

    def wait_until_ready(self, name: str, *, timeout: float = 300.0, poll: float = 1.0) -> FunctionConfig:
        """Poll until the function is Active and its last update Successful; return that config."""
        deadline = self._clock() + timeout
        while True:
            config = self.get_configuration(name)
            if config.state == "Failed":
                raise AwsUpdateFailed(
                    f"function {name} failed to become active: {config.state_reason or 'no reason given'}",
                    operation="lambda:GetFunctionConfiguration",
                    target=_target(name),
                    code="Failed",
                )
            if config.last_update_status == "Failed":
                raise AwsUpdateFailed(
                    f"update of function {name} failed: {config.last_update_status_reason or 'no reason given'}",
                    operation="lambda:GetFunctionConfiguration",
                    target=_target(name),
                    code="Failed",
                )
            # Missing fields count as done: older APIs and local endpoints omit them.
            state_done = config.state in (None, "Active", "Inactive")
            update_done = config.last_update_status in (None, "Successful")
            if state_done and update_done:
                return config
            if self._clock() >= deadline:
                raise AwsTimeout(
                    f"function {name} still {config.state}/{config.last_update_status} after {timeout:.0f}s",
                    operation="lambda:GetFunctionConfiguration",
                    target=_target(name),
                )
            self._sleep(poll)


def _target(name: str, qualifier: str | None = None) -> str:
    return f"function {name}" + (f":{qualifier}" if qualifier else "")


def _name_of(arn: str) -> str:
    parts = arn.split(":")
    return parts[6] if len(parts) > 6 else arn
