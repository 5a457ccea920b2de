"""The configuration documents of CONTRACT §3 as pydantic models.

Each kind is one top-level model with `kind`, `name`, `spec` and, for application-scoped kinds,
`application`. Field names are snake_case in Python and camelCase (the contract's spelling) in YAML and
JSON; only the camelCase spelling is accepted on input. Models are:

- strict (YAML `memorySize: "256"` is an error, not a silent conversion; environment values and tags are
  the exception, where `PORT: 8080` means the string "8080"),
- closed (`extra="forbid"`: an unknown field is an error, usually a typo),
- frozen (a validated configuration is shared between threads and never edited in place).

Rules that involve one document only live here; rules across documents (does the cloud provider exist?)
are in `references.py`, and rules that need rendering (is the function name valid once `${env.name}` is
filled in?) in the `render*.py` modules. Field docstrings become descriptions in the JSON Schema.
Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any, ClassVar, Literal, NamedTuple, Self

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator
from pydantic_core import PydanticCustomError

from shared.config import aws_rules, fields
from shared.config.errors import Origin, format_error

DEFAULT_FUNCTION_NAME = "${app.name}-${service.name}-${env.name}"
DEFAULT_ALIAS = "${env.name}"
# In the JSON Schema, keys of environment and tag maps must match their patternProperties.
_CLOSED_MAP: dict[str, Any] = {"additionalProperties": False}


def field_error(subpath: str | int | Iterable[str | int], message: str) -> PydanticCustomError:
    """An error located below the field being validated (the loader appends `subpath` to the location),
    for checks across list items such as duplicate names."""
    parts = [subpath] if isinstance(subpath, str | int) else list(subpath)
    return PydanticCustomError("outrider_config", "{message}", {"message": message, "subpath": parts})


def _unique(items: Iterable[str], what: str, attribute: str) -> None:
    seen: dict[str, int] = {}
    for index, value in enumerate(items):
        if value in seen:
            raise field_error([index, attribute], f"duplicate {what} {value!r} (also at [{seen[value]}])")
        seen[value] = index


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, use_attribute_docstrings=True)


# --- CloudProvider -------------------------------------------------------------------------------


class AssumeRole(_Model):
    role_arn: fields.RoleArn = Field(alias="roleArn")
    """IAM role the delegate assumes (STS AssumeRole) with its own credentials."""
    external_id: fields.ExternalId | None = Field(default=None, alias="externalId")
    """External id the role's trust policy requires, if any."""
    session_name: fields.SessionName | None = Field(default=None, alias="sessionName")
    """Role session name shown in CloudTrail; default `outrider`."""


class CloudProviderCredentials(_Model):
    assume_role: AssumeRole = Field(alias="assumeRole")
    """Assume this role; omit the whole `credentials` block to use the delegate's own credentials."""


class CloudProviderSpec(_Model):
    type: Literal["aws"]
    """Only `aws`."""
    delegate_selectors: list[fields.Selector] = Field(default_factory=list, alias="delegateSelectors")
    """Tasks using this provider run only on delegates having all these selectors."""
    credentials: CloudProviderCredentials | None = None
    """Omitted: the delegate's own credentials (boto3 default chain)."""


# --- ArtifactServer ------------------------------------------------------------------------------


class ArtifactServerSpec(_Model):
    type: Literal["jenkins", "artifactory", "nexus"]
    """Server product; must match the `source` of the services using it."""
    url: fields.NonEmpty
    """Base URL, e.g. https://artifactory.example.com/artifactory."""
    username: fields.NonEmpty | None = None
    """User for basic authentication (with `passwordSecret` or `tokenSecret`)."""
    password_secret: fields.SecretName | None = Field(default=None, alias="passwordSecret")
    """NAME of the secret holding the password, resolved on the delegate."""
    token_secret: fields.SecretName | None = Field(default=None, alias="tokenSecret")
    """NAME of the secret holding an API token, resolved on the delegate."""

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        scheme, sep, rest = url.partition("://")
        if scheme not in ("http", "https") or not sep or not rest.split("/")[0]:
            raise ValueError(f"must be an http:// or https:// URL, got {url!r}")
        if "@" in rest.split("/")[0]:
            raise ValueError("must not embed credentials; use username and passwordSecret/tokenSecret")
        return url

    @model_validator(mode="after")
    def _password_needs_user(self) -> ArtifactServerSpec:
        if self.password_secret is not None and self.username is None:
            raise field_error("username", "required when passwordSecret is set")
        return self


# --- Application ---------------------------------------------------------------------------------


class ApplicationSpec(_Model):
    description: str | None = None
    """Free text shown by `outrider get`."""


# --- Service -------------------------------------------------------------------------------------


class S3Artifact(_Model):
    source: Literal["s3"]
    cloud_provider: fields.Name = Field(alias="cloudProvider")
    """CloudProvider whose credentials and selectors are used to read the bucket."""
    bucket: fields.SourceTemplate
    """Bucket name."""
    key: fields.SourceTemplate
    """Glob over keys; each matching key, and each S3 object version of it, is a version."""

    @field_validator("bucket")
    @classmethod
    def _bucket(cls, bucket: str) -> str:
        # A templated name is checked once rendered.
        return bucket if "${" in bucket else aws_rules.check_bucket_name(bucket)


class JenkinsArtifact(_Model):
    source: Literal["jenkins"]
    server: fields.Name
    """ArtifactServer of type jenkins."""
    job: fields.SourceTemplate
    """Job path, folders separated by `/`."""
    path: fields.SourceTemplate
    """Glob over the build's artifact relative paths."""


class ArtifactoryArtifact(_Model):
    source: Literal["artifactory"]
    server: fields.Name
    """ArtifactServer of type artifactory."""
    repository: fields.SourceTemplate
    path: fields.SourceTemplate
    """Glob within the repository."""


class NexusArtifact(_Model):
    source: Literal["nexus"]
    server: fields.Name
    """ArtifactServer of type nexus."""
    repository: fields.SourceTemplate
    format: Literal["raw", "maven2"] = "raw"
    """Repository format: `raw` takes `path`, `maven2` takes `groupId` and `artifactId`."""
    path: fields.SourceTemplate | None = None
    """raw: glob over asset paths."""
    group_id: fields.SourceTemplate | None = Field(default=None, alias="groupId")
    """maven2: group id."""
    artifact_id: fields.SourceTemplate | None = Field(default=None, alias="artifactId")
    """maven2: artifact id."""
    extension: fields.NonEmpty = "zip"
    """maven2: file extension of the asset."""

    @model_validator(mode="after")
    def _format_fields(self) -> NexusArtifact:
        if self.format == "raw":
            if self.path is None:
                raise field_error("path", "required when format is raw")
            for alias, value in (("groupId", self.group_id), ("artifactId", self.artifact_id)):
                if value is not None:
                    raise field_error(alias, "only allowed when format is maven2")
        else:
            if self.path is not None:
                raise field_error("path", "only allowed when format is raw")
            for alias, value in (("groupId", self.group_id), ("artifactId", self.artifact_id)):
                if value is None:
                    raise field_error(alias, "required when format is maven2")
        return self


class CustomArtifact(_Model):
    source: Literal["custom"]
    script: Annotated[list[fields.SourceTemplate], Field(min_length=1)]
    """Command as an argv list, run on the delegate without a shell."""
    timeout_seconds: fields.ScriptTimeout = Field(default=60, alias="timeoutSeconds")
    """Seconds before the script is killed (1..3600)."""
    cloud_provider: fields.Name | None = Field(default=None, alias="cloudProvider")
    """Optional CloudProvider whose credentials and selectors the script runs with."""


ArtifactConfig = Annotated[
    S3Artifact | JenkinsArtifact | ArtifactoryArtifact | NexusArtifact | CustomArtifact,
    Field(discriminator="source"),
]
HTTP_SOURCES = ("jenkins", "artifactory", "nexus")


class FunctionConfig(_Model):
    name: fields.DeployTemplate = DEFAULT_FUNCTION_NAME
    """Function name; checked against Lambda's rules after rendering."""
    runtime: fields.Runtime
    """Lambda runtime identifier, e.g. python3.12."""
    handler: fields.Handler
    """Entry point, e.g. app.handler."""
    memory_size: fields.MemorySize = Field(default=128, alias="memorySize")
    """Megabytes, 128..10240."""
    timeout: fields.Timeout = 3
    """Seconds, 1..900."""
    architecture: Literal["x86_64", "arm64"] = "x86_64"
    environment: dict[fields.EnvKey, fields.EnvValue] = Field(default_factory=dict, json_schema_extra=_CLOSED_MAP)
    """Environment variables; values may use `${secrets.NAME}`, resolved on the delegate."""
    aliases: list[fields.DeployTemplate] = Field(
        default_factory=lambda: [DEFAULT_ALIAS], json_schema_extra={"default": [DEFAULT_ALIAS]}
    )
    """Aliases pointed at each published version."""
    tags: dict[fields.TagKey, fields.TagValue] = Field(default_factory=dict, json_schema_extra=_CLOSED_MAP)
    """Tags the function carries; keys may not start with `aws:`."""

    @field_validator("environment")
    @classmethod
    def _environment_size(cls, env: dict[str, str]) -> dict[str, str]:
        aws_rules.check_environment_size(env)
        return env

    @field_validator("tags")
    @classmethod
    def _tag_count(cls, tags: dict[str, str]) -> dict[str, str]:
        aws_rules.check_tag_count(tags)
        return tags

    @field_validator("aliases")
    @classmethod
    def _unique_aliases(cls, aliases: list[str]) -> list[str]:
        seen: dict[str, int] = {}
        for index, alias in enumerate(aliases):
            if alias in seen:
                raise field_error(index, f"duplicate alias {alias!r} (also at [{seen[alias]}])")
            seen[alias] = index
        return aliases


class ServiceSpec(_Model):
    deployment_type: Literal["AWS_LAMBDA"] = Field(default="AWS_LAMBDA", alias="deploymentType")
    """Only AWS_LAMBDA."""
    artifact: ArtifactConfig
    """Where versions of the code come from."""
    functions: Annotated[list[FunctionConfig], Field(min_length=1)]
    """The functions deployed from the artifact, all in one execution."""

    @field_validator("functions")
    @classmethod
    def _unique_names(cls, functions: list[FunctionConfig]) -> list[FunctionConfig]:
        _unique((f.name for f in functions), "function name (set `name` on each function)", "name")
        return functions


# --- Environment ---------------------------------------------------------------------------------


class Vpc(_Model):
    subnet_ids: Annotated[list[fields.SubnetId], Field(min_length=1, max_length=16)] = Field(alias="subnetIds")
    security_group_ids: Annotated[list[fields.SecurityGroupId], Field(min_length=1, max_length=5)] = Field(
        alias="securityGroupIds"
    )


class Infrastructure(_Model):
    name: fields.Name
    cloud_provider: fields.Name = Field(alias="cloudProvider")
    """CloudProvider whose credentials and selectors deploy here."""
    region: fields.Region
    execution_role: fields.RoleArn = Field(alias="executionRole")
    """IAM role the functions run as."""
    vpc: Vpc | None = None
    """Optional; both lists non-empty when given."""
    staging_bucket: fields.BucketName | None = Field(default=None, alias="stagingBucket")
    """Optional bucket for artifacts over 50 MB that are not already in S3."""


class ServiceOverride(_Model):
    """Per-environment changes to every function of one service."""

    service: fields.Name
    environment: dict[fields.EnvKey, fields.EnvValue] = Field(default_factory=dict, json_schema_extra=_CLOSED_MAP)
    """Merged over the service's environment variables."""
    memory_size: fields.MemorySize | None = Field(default=None, alias="memorySize")
    timeout: fields.Timeout | None = None
    runtime: fields.Runtime | None = None
    handler: fields.Handler | None = None
    architecture: Literal["x86_64", "arm64"] | None = None
    aliases: list[fields.DeployTemplate] | None = None
    """Replaces the service's aliases."""
    tags: dict[fields.TagKey, fields.TagValue] = Field(default_factory=dict, json_schema_extra=_CLOSED_MAP)
    """Merged over the service's tags."""


class EnvironmentSpec(_Model):
    type: Literal["PROD", "NON_PROD"]
    infrastructure: Annotated[list[Infrastructure], Field(min_length=1)]
    """Places this environment deploys to; a workflow picks one by name."""
    overrides: list[ServiceOverride] = Field(default_factory=list)

    @field_validator("infrastructure")
    @classmethod
    def _unique_infrastructure(cls, infrastructure: list[Infrastructure]) -> list[Infrastructure]:
        _unique((i.name for i in infrastructure), "infrastructure name", "name")
        return infrastructure

    @field_validator("overrides")
    @classmethod
    def _unique_overrides(cls, overrides: list[ServiceOverride]) -> list[ServiceOverride]:
        _unique((o.service for o in overrides), "override for service", "service")
        return overrides


# --- Workflow and Trigger ------------------------------------------------------------------------


class WorkflowSpec(_Model):
    strategy: Literal["basic"] = "basic"
    """basic: all traffic moves to the new version at once."""
    service: fields.Name
    environment: fields.Name
    infrastructure: fields.Name
    """Name of one of the environment's infrastructure entries."""
    variables: dict[fields.VariableName, fields.VariableValue] = Field(default_factory=dict)
    """Defaults for `${workflow.variables.X}`; `deploy --set X=...` overrides declared ones only."""
    rollback_on_failure: bool = Field(default=True, alias="rollbackOnFailure")
    """Restore the previous state of every function when the deployment fails."""


class NewArtifact(_Model):
    """Deploy each new version the service's artifact source reports."""


class TriggerOn(_Model):
    model_config = ConfigDict(json_schema_extra={"minProperties": 1, "maxProperties": 1})

    new_artifact: NewArtifact | None = Field(default=None, alias="newArtifact")
    cron: fields.Cron | None = None
    """Five-field cron expression, UTC."""

    @model_validator(mode="before")
    @classmethod
    def _bare_new_artifact(cls, data: Any) -> Any:
        # `newArtifact:` with nothing after it is YAML null; it plainly means "on new artifacts".
        if isinstance(data, dict) and "newArtifact" in data and data["newArtifact"] is None:
            return {**data, "newArtifact": {}}
        return data

    @model_validator(mode="after")
    def _exactly_one(self) -> TriggerOn:
        if (self.new_artifact is None) == (self.cron is None):
            raise ValueError("set exactly one of newArtifact or cron")
        return self


class TriggerSpec(_Model):
    workflow: fields.Name
    on: TriggerOn
    paused: bool = False
    """A paused trigger starts nothing."""


# --- documents -----------------------------------------------------------------------------------


class DocumentKey(NamedTuple):
    """Identity of a document: application is "" for kinds that are not application-scoped."""

    kind: str
    application: str
    name: str


class DocumentBase(_Model):
    """Fields and helpers every kind shares; see `Document` for the union of concrete kinds."""

    APPLICATION_SCOPED: ClassVar[bool] = False

    name: fields.Name
    _origin: Origin | None = PrivateAttr(default=None)

    @property
    def origin(self) -> Origin | None:
        """Where the loader read this document; None for documents read back from storage."""
        return self._origin

    def with_origin(self, origin: Origin | None) -> Self:
        """Record where the document was read (a private attribute: not part of the data)."""
        self._origin = origin
        return self

    @property
    def application_name(self) -> str:
        return ""

    @property
    def key(self) -> DocumentKey:
        return DocumentKey(self.kind_name(), self.application_name, self.name)

    @property
    def label(self) -> str:
        """`Service shop/orders` or `CloudProvider aws-dev`."""
        app = self.application_name
        return f"{self.kind_name()} {app}/{self.name}" if app else f"{self.kind_name()} {self.name}"

    @classmethod
    def kind_name(cls) -> str:
        return cls.__name__

    def error_line(self, path: str | None, message: str) -> str:
        """A one-line error about a field of this document (see `errors.format_error`)."""
        return format_error(self._origin, self.label, path, message)

    def to_dict(self) -> dict[str, Any]:
        """The document as YAML/JSON shows it: camelCase, defaults filled in, unset optionals omitted."""
        data = self.model_dump(mode="json", by_alias=True, exclude_none=True)
        ordered = {"kind": data.pop("kind")}
        if "application" in data:
            ordered["application"] = data.pop("application")
        ordered["name"] = data.pop("name")
        return {**ordered, **data}


class _AppDocument(DocumentBase):
    APPLICATION_SCOPED: ClassVar[bool] = True

    application: fields.Name
    """The Application this document belongs to."""

    @property
    def application_name(self) -> str:
        return self.application


class CloudProvider(DocumentBase):
    kind: Literal["CloudProvider"] = "CloudProvider"
    spec: CloudProviderSpec


class ArtifactServer(DocumentBase):
    kind: Literal["ArtifactServer"] = "ArtifactServer"
    spec: ArtifactServerSpec


class Application(DocumentBase):
    kind: Literal["Application"] = "Application"
    spec: ApplicationSpec = Field(default_factory=ApplicationSpec)

    @model_validator(mode="before")
    @classmethod
    def _empty_spec(cls, data: Any) -> Any:
        # `spec:` with nothing after it is YAML null; an Application needs no spec at all.
        if isinstance(data, dict) and "spec" in data and data["spec"] is None:
            return {k: v for k, v in data.items() if k != "spec"}
        return data


class Service(_AppDocument):
    kind: Literal["Service"] = "Service"
    spec: ServiceSpec


class Environment(_AppDocument):
    kind: Literal["Environment"] = "Environment"
    spec: EnvironmentSpec

    def infrastructure(self, name: str) -> Infrastructure | None:
        return next((i for i in self.spec.infrastructure if i.name == name), None)

    def override_for(self, service: str) -> tuple[int, ServiceOverride] | None:
        """The override for a service and its index in `spec.overrides` (for error paths)."""
        return next(((n, o) for n, o in enumerate(self.spec.overrides) if o.service == service), None)


class Workflow(_AppDocument):
    kind: Literal["Workflow"] = "Workflow"
    spec: WorkflowSpec


class Trigger(_AppDocument):
    kind: Literal["Trigger"] = "Trigger"
    spec: TriggerSpec


Document = CloudProvider | ArtifactServer | Application | Service | Environment | Workflow | Trigger
KINDS: dict[str, type[Document]] = {
    cls.kind_name(): cls
    for cls in (CloudProvider, ArtifactServer, Application, Service, Environment, Workflow, Trigger)
}
