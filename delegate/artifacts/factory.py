"""Build the client for an artifact source spec: the one place sources are wired to their collaborators.

`make_source` turns a payload's `artifact` block into an `ArtifactSourceClient`. For server-backed
sources it resolves the credential secrets by NAME through the `secrets` callable (the caller's
resolver registers the values for masking), picks the auth scheme per product and builds one
HttpClient per source:

| type        | credentials                                                                   |
|-------------|-------------------------------------------------------------------------------|
| jenkins     | basic: `username` + `tokenSecret` (API token) or `passwordSecret`             |
| artifactory | `tokenSecret` -> `X-JFrog-Art-Api` API key; else basic `username` + `passwordSecret` |
| nexus       | basic: `username` + `passwordSecret` (or `tokenSecret`, a Nexus user token pass code) |

No secret named: anonymous. A username without a secret, or a secret without a username where basic
auth needs one, is a configuration error. S3 is built by the caller's `s3_factory` (the S3 module is
another component); custom sources get an opener for their `s3` versions made from the same
factory, with the custom source's credentials.

I/O: none here; secret resolution happens in the `secrets` callable (which may call AWS).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import BinaryIO

from delegate.artifacts.artifactory import ArtifactoryClient
from delegate.artifacts.base import ArtifactError, ArtifactSourceClient
from delegate.artifacts.custom import CustomScriptClient, S3Opener
from delegate.artifacts.http import HttpAuth, HttpClient, RetryPolicy
from delegate.artifacts.jenkins import JenkinsClient
from delegate.artifacts.nexus import NexusClient
from shared.payloads import (
    ArtifactorySource,
    ArtifactServerRef,
    ArtifactSource,
    CustomSource,
    JenkinsSource,
    NexusSource,
    ResolvedArtifact,
    S3Source,
)

ARTIFACTORY_API_KEY_HEADER = "X-JFrog-Art-Api"


def make_source(
    spec: ArtifactSource,
    *,
    secrets: Callable[[str], str],
    s3_factory: Callable[[S3Source], ArtifactSourceClient] | None,
    retry: RetryPolicy | None = None,
    sleep: Callable[[float], None] = time.sleep,
    on_retry: Callable[[str], None] | None = None,
) -> ArtifactSourceClient:
    """The client for `spec`; raises ArtifactError for unusable configuration or unresolvable secrets.

    `retry`, `sleep` and `on_retry` (a line for the task log per retry) go to every HttpClient.
    """

    def http_for(server: ArtifactServerRef) -> HttpClient:
        return HttpClient(
            name=f"{server.type} '{server.name}'",
            base_url=server.url,
            auth=_auth(server, secrets),
            retry=retry,
            sleep=sleep,
            on_retry=on_retry,
        )

    if isinstance(spec, S3Source):
        if s3_factory is None:
            raise ArtifactError(f"s3 artifact source (bucket '{spec.bucket}'): S3 is not available here")
        return s3_factory(spec)
    if isinstance(spec, JenkinsSource):
        _check_type(spec.server, "jenkins")
        return JenkinsClient(spec, http=http_for(spec.server))
    if isinstance(spec, ArtifactorySource):
        _check_type(spec.server, "artifactory")
        return ArtifactoryClient(spec, http=http_for(spec.server))
    if isinstance(spec, NexusSource):
        _check_type(spec.server, "nexus")
        return NexusClient(spec, http=http_for(spec.server))
    if isinstance(spec, CustomSource):
        http = HttpClient(
            name=f"custom script {spec.script[0]!r}" if spec.script else "custom script",
            retry=retry,
            sleep=sleep,
            on_retry=on_retry,
        )
        return CustomScriptClient(spec, http=http, s3_open=_s3_opener(spec, s3_factory))
    raise ArtifactError(f"unknown artifact source {type(spec).__name__}")  # pragma: no cover - exhaustive


def _check_type(server: ArtifactServerRef, expected: str) -> None:
    if server.type != expected:
        raise ArtifactError(f"artifact server '{server.name}' is of type {server.type}, not {expected}")


def _auth(server: ArtifactServerRef, secrets: Callable[[str], str]) -> HttpAuth | None:
    where = f"artifact server '{server.name}'"
    if server.type == "artifactory" and server.token_secret:
        return HttpAuth.header(
            ARTIFACTORY_API_KEY_HEADER, _secret(secrets, server.token_secret, where), secret_name=server.token_secret
        )
    secret_name = server.password_secret or server.token_secret
    if secret_name is None:
        if server.username:
            raise ArtifactError(f"{where}: username '{server.username}' needs passwordSecret or tokenSecret")
        return None
    if not server.username:
        raise ArtifactError(f"{where}: secret '{secret_name}' needs a username to go with it")
    return HttpAuth.basic(server.username, _secret(secrets, secret_name, where), secret_name=secret_name)


def _secret(secrets: Callable[[str], str], name: str, where: str) -> str:
    try:
        return secrets(name)
    except Exception as exc:
        # The resolver's messages name the secret and where it looked, never a value.
        raise ArtifactError(f"{where}: {exc}") from exc


def _s3_opener(spec: CustomSource, s3_factory: Callable[[S3Source], ArtifactSourceClient] | None) -> S3Opener | None:
    if s3_factory is None:
        return None

    def open_s3(artifact: ResolvedArtifact) -> AbstractContextManager[BinaryIO]:
        if not (artifact.s3_bucket and artifact.s3_key):
            raise ArtifactError(f"custom artifact version '{artifact.version}' has no S3 location")
        region = artifact.s3_region or spec.region
        if not region:
            raise ArtifactError(f"custom artifact version '{artifact.version}' has no S3 region")
        source = S3Source(bucket=artifact.s3_bucket, key=artifact.s3_key, region=region, credentials=spec.credentials)
        return s3_factory(source).open(artifact)

    return open_s3
