"""Render configuration into task payloads (`shared/payloads.py`) for one workflow.

The expression context is `app.name`, `service.name`, `env.name`, `env.type`, `infra.name`, `infra.region`,
`workflow.variables.X` (the workflow's defaults, overridden by `deploy --set`; a key the workflow does not
declare is an error) and, for a deployment, `artifact.version` and `execution.id`. Artifact fields are
rendered without the last two, since versions are listed before any is chosen.

Credentials and delegate selectors come from CloudProvider documents: the infrastructure's provider
deploys; an s3 (or custom) artifact's provider reads the artifact. The deploy task both reads the artifact
and deploys, so its selectors are the union of both providers' selectors.

`workflow_errors` runs the same rendering with placeholder values, so `apply` rejects a workflow whose
function names would break Lambda's rules before anyone deploys it. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from shared.config.errors import ConfigValidationError
from shared.config.models import Workflow
from shared.config.render_functions import render_functions
from shared.config.render_source import RenderedSource, cloud_provider, credentials, render_source
from shared.config.targets import Target, expression_context, resolve_target, workflow_variables
from shared.payloads import LambdaDeployPayload, ResolvedArtifact

if TYPE_CHECKING:
    from shared.config.configset import ConfigSet

__all__ = [
    "PLACEHOLDER_ARTIFACT_VERSION",
    "PLACEHOLDER_EXECUTION_ID",
    "RenderedDeployment",
    "RenderedSource",
    "render_artifact_source",
    "render_deployment",
    "workflow_errors",
    "workflow_variables",
]

# Stand-ins when checking a workflow at apply time. The id is as long as a UUID, so a function name that
# fits with it fits with a real execution id.
PLACEHOLDER_ARTIFACT_VERSION = "1"
PLACEHOLDER_EXECUTION_ID = "00000000-0000-0000-0000-000000000000"


@dataclass(frozen=True, slots=True)
class RenderedDeployment:
    """A `lambda.deploy` payload and what the control plane needs to schedule and record it."""

    payload: LambdaDeployPayload
    selectors: list[str]
    """A delegate must have all of these: the deploying provider's and the artifact reader's."""
    service: str
    environment: str
    infrastructure: str
    rollback_on_failure: bool


def render_artifact_source(
    config: ConfigSet, application: str, workflow_name: str, variables: Mapping[str, str] | None = None
) -> RenderedSource:
    """The artifact source of a workflow's service, for `artifact.resolve` and `artifact.list`.

    Raises `UnknownObjectError` when the workflow does not exist and `ConfigValidationError` for anything
    else that prevents rendering (a missing reference, an undeclared variable, an invalid result).
    """
    target = _require_target(config, application, workflow_name)
    context = expression_context(target, workflow_variables(target.workflow, variables))
    errors: list[str] = []
    rendered = render_source(config, target, context, errors)
    if rendered is None:
        raise ConfigValidationError(errors)
    return rendered


def render_deployment(
    config: ConfigSet,
    application: str,
    workflow_name: str,
    execution_id: str,
    artifact: ResolvedArtifact,
    variables: Mapping[str, str] | None = None,
) -> RenderedDeployment:
    """The `lambda.deploy` payload deploying `artifact` with a workflow; errors as `render_artifact_source`."""
    target = _require_target(config, application, workflow_name)
    variable_values = workflow_variables(target.workflow, variables)
    source_context = expression_context(target, variable_values)
    deploy_context = expression_context(
        target, variable_values, artifact_version=artifact.version, execution_id=execution_id
    )
    errors: list[str] = []
    source = render_source(config, target, source_context, errors)
    functions = render_functions(target, deploy_context, errors)
    infra = target.infrastructure
    deployer = cloud_provider(config, target.environment, target.infra_path("cloudProvider"), infra.cloud_provider, [])
    if source is None or deployer is None or errors:
        # render_source has recorded a missing deployer already.
        raise ConfigValidationError(list(dict.fromkeys(errors)))
    payload = LambdaDeployPayload(
        execution_id=execution_id,
        region=infra.region,
        credentials=credentials(deployer),
        artifact=artifact,
        artifact_source=source.source,
        staging_bucket=infra.staging_bucket,
        functions=functions,
        rollback_on_failure=target.workflow.spec.rollback_on_failure,
    )
    return RenderedDeployment(
        payload=payload,
        selectors=list(dict.fromkeys([*deployer.spec.delegate_selectors, *source.selectors])),
        service=target.service.name,
        environment=target.environment.name,
        infrastructure=infra.name,
        rollback_on_failure=target.workflow.spec.rollback_on_failure,
    )


def workflow_errors(config: ConfigSet, workflow: Workflow) -> list[str]:
    """Everything that would stop this workflow from rendering, using its default variables and a
    placeholder artifact version and execution id."""
    errors: list[str] = []
    target = resolve_target(config, workflow, errors)
    if target is None:
        return errors
    variables = dict(workflow.spec.variables)
    render_source(config, target, expression_context(target, variables), errors)
    context = expression_context(
        target, variables, artifact_version=PLACEHOLDER_ARTIFACT_VERSION, execution_id=PLACEHOLDER_EXECUTION_ID
    )
    render_functions(target, context, errors)
    return errors


def _require_target(config: ConfigSet, application: str, workflow_name: str) -> Target:
    workflow = config.require(Workflow, workflow_name, application)
    errors: list[str] = []
    target = resolve_target(config, workflow, errors)
    if target is None:
        raise ConfigValidationError(errors)
    return target
