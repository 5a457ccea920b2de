"""Annotated field types shared by the document models: each couples a check with its JSON Schema.

Checks are `AfterValidator`s raising `ValueError` with a readable message, rather than pydantic
constraints, so errors read "must be between 128 and 10240, got 64" instead of pydantic's wording;
`WithJsonSchema` states the same rule for editors. Templates (strings that may hold `${...}`) are checked
here for syntax and for names that can never be valid in that field; whether a `workflow.variables.X`
is declared depends on the workflow and is checked with references.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, WithJsonSchema

from shared import expressions
from shared.config import aws_rules
from shared.config.cron import check_cron

# Names a function's fields may use; artifact fields are rendered before a version or execution exists.
DEPLOY_NAMES = expressions.KNOWN_NAMES
SOURCE_NAMES = expressions.KNOWN_NAMES - {"artifact.version", "execution.id"}


def _string(pattern: str | None = None, **extra: Any) -> WithJsonSchema:
    schema: dict[str, Any] = {"type": "string", **extra}
    if pattern:
        # JSON Schema patterns search; ours must match the whole string.
        schema["pattern"] = pattern if pattern.startswith("^") else f"^(?:{pattern})$"
    return WithJsonSchema(schema)


def _template(allowed: frozenset[str], *, allow_secrets: bool) -> AfterValidator:
    def check(value: str) -> str:
        expressions.check_names(value, allowed, allow_secrets=allow_secrets)
        return value

    return AfterValidator(check)


def _non_empty(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value


def _secret_name(value: str) -> str:
    if not expressions.is_secret_name(value):
        raise ValueError(f"a secret name is 1..512 of letters, digits and _ . / - without '..' segments, got {value!r}")
    return value


def _variable_name(value: str) -> str:
    if not expressions.VARIABLE_NAME.fullmatch(value):
        raise ValueError(f"a variable name is a letter or _ then letters, digits and _, got {value!r}")
    return value


def _memory(value: int) -> int:
    return aws_rules.check_range(value, *aws_rules.MEMORY_RANGE)


def _timeout(value: int) -> int:
    return aws_rules.check_range(value, *aws_rules.TIMEOUT_RANGE)


def _script_timeout(value: int) -> int:
    return aws_rules.check_range(value, 1, 3600)


def scalar_to_str(value: object) -> object:
    """YAML writes `PORT: 8080` and `DEBUG: true`; Lambda environment values and tags are strings."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value


_SCALAR_SCHEMA = WithJsonSchema({"type": ["string", "number", "boolean"]})

Name = Annotated[str, AfterValidator(aws_rules.check_object_name), _string("^[A-Za-z0-9_-]{1,64}$")]
NonEmpty = Annotated[str, AfterValidator(_non_empty), _string(minLength=1)]
Region = Annotated[str, AfterValidator(aws_rules.check_region), _string(aws_rules.REGION.pattern)]
RoleArn = Annotated[str, AfterValidator(aws_rules.check_role_arn), _string(aws_rules.ROLE_ARN.pattern)]
ExternalId = Annotated[str, AfterValidator(aws_rules.check_external_id), _string(minLength=2)]
SessionName = Annotated[str, AfterValidator(aws_rules.check_session_name), _string(minLength=2)]
Selector = Annotated[str, AfterValidator(aws_rules.check_selector), _string(aws_rules.SELECTOR.pattern)]
SubnetId = Annotated[str, AfterValidator(aws_rules.check_subnet_id), _string("^subnet-")]
SecurityGroupId = Annotated[str, AfterValidator(aws_rules.check_security_group_id), _string("^sg-")]
BucketName = Annotated[str, AfterValidator(aws_rules.check_bucket_name), _string(minLength=3, maxLength=63)]
Runtime = Annotated[
    str, AfterValidator(aws_rules.check_runtime), WithJsonSchema({"enum": list(aws_rules.LAMBDA_RUNTIMES)})
]
Handler = Annotated[str, AfterValidator(aws_rules.check_handler), _string(r"^\S{1,128}$")]
SecretName = Annotated[
    str,
    AfterValidator(_secret_name),
    _string(expressions.SECRET_NAME.pattern),
]
Cron = Annotated[str, AfterValidator(check_cron), _string(description="five-field cron expression, UTC")]
MemorySize = Annotated[
    int, AfterValidator(_memory), WithJsonSchema({"type": "integer", "minimum": 128, "maximum": 10240})
]
Timeout = Annotated[int, AfterValidator(_timeout), WithJsonSchema({"type": "integer", "minimum": 1, "maximum": 900})]
ScriptTimeout = Annotated[
    int, AfterValidator(_script_timeout), WithJsonSchema({"type": "integer", "minimum": 1, "maximum": 3600})
]

# Templates: the function's name, aliases and tag values are final on the control plane (no secrets);
# environment values travel to the delegate with `${secrets.NAME}` intact.
DeployTemplate = Annotated[str, AfterValidator(_non_empty), _template(DEPLOY_NAMES, allow_secrets=False)]
SourceTemplate = Annotated[str, AfterValidator(_non_empty), _template(SOURCE_NAMES, allow_secrets=False)]
EnvKey = Annotated[str, AfterValidator(aws_rules.check_env_key), _string(aws_rules.ENV_KEY.pattern)]
EnvValue = Annotated[str, BeforeValidator(scalar_to_str), _template(DEPLOY_NAMES, allow_secrets=True), _SCALAR_SCHEMA]
TagKey = Annotated[str, AfterValidator(aws_rules.check_tag_key), _string(r"^(?![aA][wW][sS]:)", maxLength=128)]
TagValue = Annotated[
    str,
    BeforeValidator(scalar_to_str),
    AfterValidator(aws_rules.check_tag_value),
    _template(DEPLOY_NAMES, allow_secrets=False),
    _SCALAR_SCHEMA,
]
VariableName = Annotated[
    str,
    AfterValidator(_variable_name),
    _string(expressions.VARIABLE_NAME.pattern),
]
# Variable values are inserted verbatim (no nested evaluation), so any text is allowed.
VariableValue = Annotated[str, BeforeValidator(scalar_to_str), _SCALAR_SCHEMA]
