"""Task types that touch AWS and artifact sources: artifact.resolve, artifact.list, lambda.deploy,
lambda.rollback. Each validates its payload with the shared model, builds what it needs from the
process's AwsFactory (credentials obtained here, never sent anywhere), and runs the blocking engine
in a worker thread. Secret values resolved for a task, and assumed-role credentials, are added to
the masker before anything can log them.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from delegate.artifacts.base import ArtifactError, ArtifactNotFound, ArtifactSourceClient
from delegate.artifacts.factory import make_source
from delegate.artifacts.s3 import s3_source_factory
from delegate.aws.credentials import CredentialProvider
from delegate.aws.errors import AwsError
from delegate.aws.factory import AwsFactory
from delegate.lambda_ import Cancelled, DeployCancelled, DeployFailed, RollbackFailed, deploy, rollback
from delegate.secrets import Masker, SecretError, SecretResolver
from delegate.tasks.registry import TaskCancelled, TaskContext, TaskFailed, TaskRegistry, TaskStopped
from shared.payloads import (
    TASK_ARTIFACT_LIST,
    TASK_ARTIFACT_RESOLVE,
    TASK_LAMBDA_DEPLOY,
    TASK_LAMBDA_ROLLBACK,
    ArtifactListPayload,
    ArtifactListResult,
    ArtifactResolvePayload,
    ArtifactSource,
    AssumeRoleCredentials,
    FunctionSnapshot,
    InheritCredentials,
    LambdaDeployPayload,
    LambdaRollbackPayload,
)

T = TypeVar("T")
DEFAULT_REGION = "us-east-1"


@dataclass
class DeploymentServices:
    """Per-process collaborators of the AWS task types, built once by `build_services`."""

    aws: AwsFactory
    masker: Masker
    secrets_dir: Path | None
    env: Mapping[str, str]

    def resolver(self, credentials: InheritCredentials | AssumeRoleCredentials, region: str) -> SecretResolver:
        return SecretResolver(self.env, self.secrets_dir, self.aws.secret_store(credentials, region), self.masker)

    def source(
        self, spec: ArtifactSource, resolver: SecretResolver, on_retry: Callable[[str], None]
    ) -> ArtifactSourceClient:
        s3 = s3_source_factory(self.aws, on_retry=on_retry)
        return make_source(spec, secrets=resolver.resolve, s3_factory=s3, on_retry=on_retry)


def build_services(masker: Masker, secrets_dir: Path | None, endpoint_url: str | None) -> DeploymentServices:
    def remember(access_key_id: str, secret: str, token: str) -> None:
        # Assumed-role keys must never appear in a log line, even by accident in an error message.
        for value in (secret, token, access_key_id):
            if value:
                masker.add(value)

    provider = CredentialProvider(endpoint_url=endpoint_url, on_credentials=remember)
    return DeploymentServices(AwsFactory(provider, endpoint_url=endpoint_url), masker, secrets_dir, os.environ)


def _services(ctx: TaskContext) -> DeploymentServices:
    services = ctx.services.get("deployment")
    if not isinstance(services, DeploymentServices):
        raise TaskFailed("this delegate has no AWS support configured")
    return services


async def _in_thread(fn: Callable[[], T]) -> T:
    return await asyncio.to_thread(fn)


def _source_region(spec: ArtifactSource) -> tuple[InheritCredentials | AssumeRoleCredentials, str]:
    credentials = getattr(spec, "credentials", None) or InheritCredentials()
    region = getattr(spec, "region", None) or os.environ.get("AWS_REGION") or DEFAULT_REGION
    return credentials, region


async def artifact_resolve(ctx: TaskContext) -> Mapping[str, Any]:
    payload = ArtifactResolvePayload.model_validate(ctx.payload)
    services = _services(ctx)
    ctx.log.section("Resolve artifact")

    def run() -> Mapping[str, Any]:
        resolver = services.resolver(*_source_region(payload.artifact))
        source = services.source(payload.artifact, resolver, ctx.log.warn)
        wanted = payload.version or "the latest version"
        ctx.log.info(f"looking up {wanted} in {payload.artifact.source} source")
        artifact = source.resolve(payload.version)
        ctx.log.info(
            f"resolved {artifact.version}"
            + (f" (sha256 {artifact.sha256[:12]}…)" if artifact.sha256 else "")
            + (f", {artifact.size} bytes" if artifact.size else "")
        )
        return artifact.model_dump(mode="json", by_alias=True, exclude_none=True)

    try:
        return await _in_thread(run)
    except ArtifactNotFound as exc:
        raise TaskFailed(f"artifact not found: {exc}") from exc
    except (ArtifactError, SecretError, AwsError) as exc:
        raise TaskFailed(str(exc)) from exc


async def artifact_list(ctx: TaskContext) -> Mapping[str, Any]:
    payload = ArtifactListPayload.model_validate(ctx.payload)
    services = _services(ctx)
    ctx.log.section("List artifact versions")

    def run() -> Mapping[str, Any]:
        resolver = services.resolver(*_source_region(payload.artifact))
        source = services.source(payload.artifact, resolver, ctx.log.warn)
        versions = source.list_versions(payload.limit)
        ctx.log.info(f"{len(versions)} version(s)")
        return ArtifactListResult(versions=versions).model_dump(mode="json", by_alias=True, exclude_none=True)

    try:
        return await _in_thread(run)
    except (ArtifactError, SecretError, AwsError) as exc:
        raise TaskFailed(str(exc)) from exc


async def lambda_deploy(ctx: TaskContext) -> Mapping[str, Any]:
    payload = LambdaDeployPayload.model_validate(ctx.payload)
    services = _services(ctx)

    def run() -> Mapping[str, Any]:
        resolver = services.resolver(payload.credentials, payload.region)
        source_resolver = services.resolver(*_source_region(payload.artifact_source))
        source = services.source(payload.artifact_source, source_resolver, ctx.log.warn)
        result = deploy(
            payload,
            aws=services.aws,
            source=source,
            log=ctx.log,
            render_secrets=resolver.render,
            mask=services.masker.mask,
            should_stop=ctx.should_stop,
            # Roll back when an operator cancels; not when the lease is in doubt, because then another
            # attempt may already be deploying and a rollback would undo its work.
            rollback_when_stopped=ctx.cancelled,
            prior_snapshots=_prior_snapshots(ctx.checkpoint),
            on_snapshots=_checkpoint_to(ctx),
        )
        return result.model_dump(mode="json", by_alias=True)

    try:
        return await _in_thread(run)
    except DeployCancelled as exc:
        if not ctx.cancelled():
            # Stopped because the lease is in doubt: another attempt may already own the task.
            raise TaskStopped(ctx.stop_reason() or str(exc), cancelled=False) from exc
        raise TaskCancelled(str(exc), exc.result.model_dump(mode="json", by_alias=True)) from exc
    except DeployFailed as exc:
        raise TaskFailed(str(exc), exc.result.model_dump(mode="json", by_alias=True)) from exc


def _prior_snapshots(checkpoint: bytes) -> list[FunctionSnapshot]:
    """The "before" state an earlier attempt of this deploy task checkpointed, if any."""
    if not checkpoint:
        return []
    doc = json.loads(checkpoint)
    return [FunctionSnapshot.model_validate(s) for s in doc.get("snapshots", [])]


def _checkpoint_to(ctx: TaskContext) -> Callable[[list[FunctionSnapshot]], None] | None:
    save = ctx.save_checkpoint
    if save is None:
        return None

    def checkpoint(snapshots: list[FunctionSnapshot]) -> None:
        data = json.dumps({"snapshots": [s.model_dump(mode="json", by_alias=True) for s in snapshots]}).encode()
        try:
            save(data)
        except TaskStopped as exc:
            # A stop at this safe point, before anything changed: the engine's own cancellation path.
            raise Cancelled(str(exc)) from exc

    return checkpoint


async def lambda_rollback(ctx: TaskContext) -> Mapping[str, Any]:
    payload = LambdaRollbackPayload.model_validate(ctx.payload)
    services = _services(ctx)

    def run() -> Mapping[str, Any]:
        return rollback(payload, aws=services.aws, log=ctx.log).model_dump(mode="json", by_alias=True)

    try:
        return await _in_thread(run)
    except RollbackFailed as exc:
        raise TaskFailed(str(exc), exc.result.model_dump(mode="json", by_alias=True)) from exc
    except AwsError as exc:
        raise TaskFailed(str(exc)) from exc


def register(registry: TaskRegistry) -> None:
    registry.register(TASK_ARTIFACT_RESOLVE, artifact_resolve)
    registry.register(TASK_ARTIFACT_LIST, artifact_list)
    registry.register(TASK_LAMBDA_DEPLOY, lambda_deploy)
    registry.register(TASK_LAMBDA_ROLLBACK, lambda_rollback)
