"""Render a service's artifact block into an `ArtifactSource` payload, with credentials and selectors.

- s3: read with the credentials of the artifact's `cloudProvider`, in the workflow's infrastructure region,
  on delegates with that provider's selectors.
- jenkins / artifactory / nexus: the ArtifactServer document becomes an `ArtifactServerRef` (URL and the
  NAMES of secrets); fetched on delegates with the infrastructure provider's selectors.
- custom: the script runs with the optional `cloudProvider`'s credentials and selectors, else the
  infrastructure provider's selectors and the delegate's own credentials.

The reference lookups here are also what `references.py` runs for every service, so a broken reference
reads the same whether it is found at apply or at deploy time. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from shared.config import aws_rules
from shared.config.errors import missing_object
from shared.config.models import (
    ArtifactoryArtifact,
    ArtifactServer,
    CloudProvider,
    CustomArtifact,
    DocumentBase,
    JenkinsArtifact,
    NexusArtifact,
    S3Artifact,
    Service,
)
from shared.config.targets import Renderer, Target
from shared.payloads import (
    ArtifactorySource,
    ArtifactServerRef,
    ArtifactSource,
    AssumeRoleCredentials,
    CustomSource,
    InheritCredentials,
    JenkinsSource,
    NexusSource,
    S3Source,
)

if TYPE_CHECKING:
    from shared.config.configset import ConfigSet


@dataclass(frozen=True, slots=True)
class RenderedSource:
    """Where a workflow's artifact versions come from, and which delegates may read them."""

    source: ArtifactSource
    """Payload for `artifact.resolve` / `artifact.list` (and `artifactSource` of `lambda.deploy`)."""
    selectors: list[str]
    """A delegate must have all of these to run a task reading this source."""


def credentials(provider: CloudProvider | None) -> InheritCredentials | AssumeRoleCredentials:
    """The payload form of a provider's credentials: described, never actual keys."""
    if provider is None or provider.spec.credentials is None:
        return InheritCredentials()
    role = provider.spec.credentials.assume_role
    if role.session_name is None:
        return AssumeRoleCredentials(role_arn=role.role_arn, external_id=role.external_id)
    return AssumeRoleCredentials(role_arn=role.role_arn, external_id=role.external_id, session_name=role.session_name)


def cloud_provider(
    config: ConfigSet, doc: DocumentBase, path: str, name: str, errors: list[str]
) -> CloudProvider | None:
    """The named CloudProvider, or None after recording `doc`'s dangling reference at `path`."""
    provider = config.get(CloudProvider, name)
    if provider is None:
        errors.append(doc.error_line(path, missing_object("CloudProvider", name)))
    return provider


def artifact_provider(config: ConfigSet, service: Service, errors: list[str]) -> CloudProvider | None:
    """The CloudProvider an s3 or custom artifact block names, when it names one that exists."""
    artifact = service.spec.artifact
    if isinstance(artifact, S3Artifact | CustomArtifact) and artifact.cloud_provider is not None:
        return cloud_provider(config, service, "spec.artifact.cloudProvider", artifact.cloud_provider, errors)
    return None


def artifact_server(config: ConfigSet, service: Service, errors: list[str]) -> ArtifactServer | None:
    """The ArtifactServer an HTTP artifact block names, when it exists and its type matches the source."""
    artifact = service.spec.artifact
    if not isinstance(artifact, JenkinsArtifact | ArtifactoryArtifact | NexusArtifact):
        return None
    server = config.get(ArtifactServer, artifact.server)
    if server is None:
        errors.append(service.error_line("spec.artifact.server", missing_object("ArtifactServer", artifact.server)))
        return None
    if server.spec.type != artifact.source:
        problem = (
            f'ArtifactServer "{server.name}" has type {server.spec.type}, '
            f"but this artifact's source is {artifact.source}"
        )
        errors.append(service.error_line("spec.artifact.server", problem))
        return None
    return server


def render_source(
    config: ConfigSet, target: Target, context: Mapping[str, str], errors: list[str]
) -> RenderedSource | None:
    """The rendered source, or None after appending every problem found to errors."""
    before = len(errors)
    service, artifact = target.service, target.service.spec.artifact
    renderer = Renderer(target, context, errors)

    def text(field: str | int, value: str, *more: str | int) -> str:
        return renderer.text(service, ("spec", "artifact", field, *more), value)

    infra_provider = cloud_provider(
        config, target.environment, target.infra_path("cloudProvider"), target.infrastructure.cloud_provider, errors
    )
    provider = artifact_provider(config, service, errors)
    source: ArtifactSource
    if isinstance(artifact, S3Artifact):
        bucket = text("bucket", artifact.bucket)
        if "${" in artifact.bucket:  # a literal name was checked when the document was loaded
            renderer.check(service, ("spec", "artifact", "bucket"), aws_rules.check_bucket_name, bucket)
        source = S3Source(
            bucket=bucket,
            key=text("key", artifact.key),
            region=target.infrastructure.region,
            credentials=credentials(provider),
        )
    elif isinstance(artifact, CustomArtifact):
        source = CustomSource(
            script=[text("script", arg, n) for n, arg in enumerate(artifact.script)],
            timeout_seconds=artifact.timeout_seconds,
            credentials=credentials(provider),
            region=target.infrastructure.region,
        )
    else:
        server = artifact_server(config, service, errors)
        if server is None:
            return None
        ref = ArtifactServerRef(
            name=server.name,
            type=server.spec.type,
            url=server.spec.url,
            username=server.spec.username,
            password_secret=server.spec.password_secret,
            token_secret=server.spec.token_secret,
        )
        if isinstance(artifact, JenkinsArtifact):
            source = JenkinsSource(server=ref, job=text("job", artifact.job), path=text("path", artifact.path))
        elif isinstance(artifact, ArtifactoryArtifact):
            source = ArtifactorySource(
                server=ref, repository=text("repository", artifact.repository), path=text("path", artifact.path)
            )
        else:
            source = NexusSource(
                server=ref,
                repository=text("repository", artifact.repository),
                format=artifact.format,
                path=None if artifact.path is None else text("path", artifact.path),
                group_id=None if artifact.group_id is None else text("groupId", artifact.group_id),
                artifact_id=None if artifact.artifact_id is None else text("artifactId", artifact.artifact_id),
                extension=artifact.extension,
            )
    if len(errors) > before or infra_provider is None:
        return None
    selectors = (provider or infra_provider).spec.delegate_selectors
    return RenderedSource(source=source, selectors=list(selectors))
