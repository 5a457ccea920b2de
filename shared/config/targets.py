"""What one workflow deploys with, its expression context, and a renderer that collects errors.

A workflow names a service, an environment and one of that environment's infrastructures; `Target`
holds the documents it resolves to, plus the environment's override for the service. Rendering
collects every problem instead of stopping at the first, so `apply` can report them all; `Renderer`
turns each failure into a one-line error naming the document and field where the template was written.
Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from shared import expressions
from shared.config.errors import ConfigValidationError, format_path, missing_object
from shared.config.models import DocumentBase, Environment, Infrastructure, Service, ServiceOverride, Workflow

if TYPE_CHECKING:
    from shared.config.configset import ConfigSet

Path = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Target:
    """The documents one workflow deploys with; indexes locate entries for error paths."""

    workflow: Workflow
    service: Service
    environment: Environment
    infrastructure: Infrastructure
    infrastructure_index: int
    override: ServiceOverride | None
    override_index: int

    def infra_path(self, field: str) -> str:
        return format_path(("spec", "infrastructure", self.infrastructure_index, field))


def resolve_target(config: ConfigSet, workflow: Workflow, errors: list[str]) -> Target | None:
    """The workflow's target, or None after appending why it cannot be resolved to errors."""
    app, spec = workflow.application, workflow.spec
    service = config.get(Service, spec.service, app)
    if service is None:
        errors.append(workflow.error_line("spec.service", missing_object("Service", spec.service, app)))
    environment = config.get(Environment, spec.environment, app)
    if environment is None:
        problem = missing_object("Environment", spec.environment, app)
        errors.append(workflow.error_line("spec.environment", problem))
        return None
    names = [infra.name for infra in environment.spec.infrastructure]
    if spec.infrastructure not in names:
        problem = f'{environment.label} has no infrastructure "{spec.infrastructure}" (has: {", ".join(names)})'
        errors.append(workflow.error_line("spec.infrastructure", problem))
        return None
    if service is None:
        return None
    infra_index = names.index(spec.infrastructure)
    found = environment.override_for(service.name)
    override_index, override = found if found is not None else (-1, None)
    return Target(
        workflow=workflow,
        service=service,
        environment=environment,
        infrastructure=environment.spec.infrastructure[infra_index],
        infrastructure_index=infra_index,
        override=override,
        override_index=override_index,
    )


def workflow_variables(workflow: Workflow, overrides: Mapping[str, str] | None = None) -> dict[str, str]:
    """The workflow's variable defaults with overrides (`deploy --set`) applied.

    Raises `ConfigValidationError` naming each override key the workflow does not declare: a typo in
    `--set` must not deploy silently with the default.
    """
    overrides = overrides or {}
    declared = workflow.spec.variables
    unknown = [key for key in overrides if key not in declared]
    if unknown:
        known = ", ".join(declared) or "none"
        raise ConfigValidationError(
            [
                workflow.error_line("spec.variables", f'variable "{key}" is not declared (declared: {known})')
                for key in unknown
            ]
        )
    return {**declared, **overrides}


def expression_context(
    target: Target,
    variables: Mapping[str, str],
    *,
    artifact_version: str | None = None,
    execution_id: str | None = None,
) -> dict[str, str]:
    """The flat name -> value mapping `${...}` expressions are rendered from."""
    context = {
        "app.name": target.workflow.application,
        "service.name": target.service.name,
        "env.name": target.environment.name,
        "env.type": target.environment.spec.type,
        "infra.name": target.infrastructure.name,
        "infra.region": target.infrastructure.region,
    }
    context.update({expressions.VARIABLE_PREFIX + key: value for key, value in variables.items()})
    if artifact_version is not None:
        context["artifact.version"] = artifact_version
    if execution_id is not None:
        context["execution.id"] = execution_id
    return context


class Renderer:
    """Renders and checks the templates of one target, appending one error line per problem."""

    def __init__(self, target: Target, context: Mapping[str, str], errors: list[str]) -> None:
        self.target = target
        self.context = context
        self.errors = errors

    def text(self, doc: DocumentBase, path: Path, template: str, *, allow_secrets: bool = False) -> str:
        """The rendered template; on error, the error is recorded and the template returned as is."""
        try:
            return expressions.render(template, self.context, allow_secrets=allow_secrets)
        except expressions.ExpressionError as exc:
            self.errors.append(doc.error_line(format_path(path), self._explain(exc)))
            return template

    def check(self, doc: DocumentBase, path: Path, check: Callable[[str], object], value: str) -> bool:
        """Apply a rule to a rendered value; record its failure against the template's location."""
        try:
            check(value)
        except ValueError as exc:
            self.error(doc, path, str(exc))
            return False
        return True

    def error(self, doc: DocumentBase, path: Path, problem: str) -> None:
        self.errors.append(doc.error_line(format_path(path), f"{problem}, when rendered for {self.workflow_label}"))

    @property
    def workflow_label(self) -> str:
        return self.target.workflow.label

    def _explain(self, exc: expressions.ExpressionError) -> str:
        name = exc.name or ""
        if name.startswith(expressions.VARIABLE_PREFIX) and name not in self.context:
            variable = name[len(expressions.VARIABLE_PREFIX) :]
            return (
                f"unknown expression ${{{name}}}: {self.workflow_label} declares no variable "
                f'"{variable}" in spec.variables'
            )
        return f"{exc}, when rendered for {self.workflow_label}"
