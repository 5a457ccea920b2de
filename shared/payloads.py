"""Task payloads and results exchanged between the control plane and delegates.

These models are the typed contract of each task type. The control plane renders configuration
into a payload (JSON), the delegate validates it with the same model. Payloads never carry
credentials or secret values: credentials are described (inherit / assume this role) and
`${secrets.NAME}` placeholders travel unresolved, to be resolved on the delegate.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

TASK_NOOP = "diagnostic.noop"
TASK_SLEEP = "diagnostic.sleep"
TASK_ARTIFACT_RESOLVE = "artifact.resolve"
TASK_ARTIFACT_LIST = "artifact.list"
TASK_LAMBDA_DEPLOY = "lambda.deploy"
TASK_LAMBDA_ROLLBACK = "lambda.rollback"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


# --- credentials ---------------------------------------------------------------------------------


class InheritCredentials(_Model):
    """Use the delegate host's own credentials (boto3 default chain)."""

    type: Literal["inherit"] = "inherit"


class AssumeRoleCredentials(_Model):
    """STS AssumeRole from the delegate's own credentials, cached until shortly before expiry."""

    type: Literal["assumeRole"] = "assumeRole"
    role_arn: str = Field(alias="roleArn")
    external_id: str | None = Field(default=None, alias="externalId")
    session_name: str = Field(default="outrider", alias="sessionName")


Credentials = Annotated[InheritCredentials | AssumeRoleCredentials, Field(discriminator="type")]


# --- artifact sources ----------------------------------------------------------------------------


class ArtifactServerRef(_Model):
    """An ArtifactServer document as the delegate needs it: where, and the NAMES of secrets."""

    name: str
    type: Literal["jenkins", "artifactory", "nexus"]
    url: str
    username: str | None = None
    password_secret: str | None = Field(default=None, alias="passwordSecret")
    token_secret: str | None = Field(default=None, alias="tokenSecret")


class S3Source(_Model):
    source: Literal["s3"] = "s3"
    bucket: str
    key: str  # glob over keys; every matching key, and each object version of it, is a version
    region: str  # region of the cloud provider / infrastructure used to reach the bucket
    credentials: Credentials = Field(default_factory=InheritCredentials)


class JenkinsSource(_Model):
    source: Literal["jenkins"] = "jenkins"
    server: ArtifactServerRef
    job: str  # "folder/sub/job"
    path: str  # glob over the build's artifact relativePath


class ArtifactorySource(_Model):
    source: Literal["artifactory"] = "artifactory"
    server: ArtifactServerRef
    repository: str
    path: str  # glob within the repository


class NexusSource(_Model):
    source: Literal["nexus"] = "nexus"
    server: ArtifactServerRef
    repository: str
    format: Literal["raw", "maven2"] = "raw"
    path: str | None = None  # raw: glob over asset paths
    group_id: str | None = Field(default=None, alias="groupId")  # maven2
    artifact_id: str | None = Field(default=None, alias="artifactId")  # maven2
    extension: str = "zip"  # maven2


class CustomSource(_Model):
    source: Literal["custom"] = "custom"
    script: list[str]  # argv, run without a shell
    timeout_seconds: int = Field(default=60, ge=1, le=3600, alias="timeoutSeconds")
    credentials: Credentials = Field(default_factory=InheritCredentials)
    region: str | None = None


ArtifactSource = Annotated[
    S3Source | JenkinsSource | ArtifactorySource | NexusSource | CustomSource, Field(discriminator="source")
]


class ResolvedArtifact(_Model):
    """One concrete version, enough to deploy it without asking the source again."""

    version: str
    sha256: str | None = None  # hex digest of the zip, when known
    sha1: str | None = None  # hex digest, for sources that only publish SHA-1 (older Nexus)
    size: int | None = None
    # Where the bytes are. For S3: bucket/key/versionId/region. For HTTP sources: url.
    s3_bucket: str | None = Field(default=None, alias="s3Bucket")
    s3_key: str | None = Field(default=None, alias="s3Key")
    s3_version_id: str | None = Field(default=None, alias="s3VersionId")
    s3_region: str | None = Field(default=None, alias="s3Region")
    url: str | None = None
    created_at: str | None = Field(default=None, alias="createdAt")  # ISO-8601, for ordering


class ArtifactResolvePayload(_Model):
    """`artifact.resolve`: find one version (latest when `version` is None) and its checksum."""

    artifact: ArtifactSource
    version: str | None = None


class ArtifactListPayload(_Model):
    """`artifact.list`: every version the source reports, oldest first."""

    artifact: ArtifactSource
    limit: int = 100


class ArtifactListResult(_Model):
    versions: list[ResolvedArtifact]


# --- lambda --------------------------------------------------------------------------------------


class VpcConfig(_Model):
    subnet_ids: list[str] = Field(alias="subnetIds")
    security_group_ids: list[str] = Field(alias="securityGroupIds")


class FunctionSpec(_Model):
    """One function, fully rendered except for `${secrets.NAME}` in environment values."""

    name: str
    runtime: str
    handler: str
    role: str
    memory_size: int = Field(default=128, alias="memorySize")
    timeout: int = 3
    architecture: Literal["x86_64", "arm64"] = "x86_64"
    environment: dict[str, str] = Field(default_factory=dict)
    vpc: VpcConfig | None = None
    aliases: list[str] = Field(default_factory=list)
    tags: dict[str, str] = Field(default_factory=dict)


class LambdaDeployPayload(_Model):
    """`lambda.deploy`: converge every function to its spec; roll all back on failure."""

    execution_id: str = Field(alias="executionId")
    region: str
    credentials: Credentials = Field(default_factory=InheritCredentials)
    artifact: ResolvedArtifact
    artifact_source: ArtifactSource = Field(alias="artifactSource")
    staging_bucket: str | None = Field(default=None, alias="stagingBucket")
    functions: list[FunctionSpec]
    rollback_on_failure: bool = Field(default=True, alias="rollbackOnFailure")


class AliasState(_Model):
    version: str
    routing: dict[str, float] = Field(default_factory=dict)  # additional version -> weight


class FunctionSnapshot(_Model):
    """State of one function before an execution touched it. Environment values that came from
    secrets are masked by the delegate before this leaves it; see lambda.rollback."""

    name: str
    exists: bool
    configuration: dict[str, object] = Field(default_factory=dict)
    code_sha256: str | None = Field(default=None, alias="codeSha256")
    tags: dict[str, str] = Field(default_factory=dict)
    aliases: dict[str, AliasState] = Field(default_factory=dict)


class FunctionResult(_Model):
    name: str
    version: str | None
    code_sha256: str | None = Field(alias="codeSha256")
    changed: bool
    aliases: dict[str, str] = Field(default_factory=dict)
    created: bool = False


class RollbackReport(_Model):
    status: Literal["SUCCEEDED", "FAILED"]
    functions: list[str] = Field(default_factory=list)
    deleted: list[str] = Field(default_factory=list)
    error: str | None = None


class LambdaDeployResult(_Model):
    """Result of `lambda.deploy` (also sent, with `error`, when the task failed)."""

    functions: list[FunctionResult] = Field(default_factory=list)
    snapshots: list[FunctionSnapshot] = Field(default_factory=list)
    changed: bool = False
    rollback: RollbackReport | None = None
    error: str | None = None


class LambdaRollbackPayload(_Model):
    """`lambda.rollback`: restore functions to the snapshots an earlier execution took."""

    execution_id: str = Field(alias="executionId")
    target_execution_id: str = Field(alias="targetExecutionId")
    region: str
    credentials: Credentials = Field(default_factory=InheritCredentials)
    snapshots: list[FunctionSnapshot]


class LambdaRollbackResult(_Model):
    functions: list[FunctionResult] = Field(default_factory=list)
    deleted: list[str] = Field(default_factory=list)


# --- diagnostics ---------------------------------------------------------------------------------


class SleepPayload(_Model):
    seconds: float = Field(ge=0, le=3600)
    lines: int = Field(default=0, ge=0, le=100_000)  # log lines to emit while sleeping
    fail: bool = False
