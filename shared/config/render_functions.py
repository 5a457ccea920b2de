"""Render a service's functions, with the environment's override applied, into `FunctionSpec`s.

The override applies to every function of the service. Environment variables and tags are merged over
the service's (override wins per key); `aliases`, when the override sets them, replace the service's; other
values replace the service's. Every rendered value is checked against Lambda's rules here, because only
now are `${env.name}` and friends known; an error names the document and field the offending value
came from (the Service, or the Environment's override). Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeVar

from shared.config import aws_rules
from shared.config.models import DocumentBase, FunctionConfig
from shared.config.targets import Path, Renderer, Target
from shared.payloads import FunctionSpec, VpcConfig

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class _Origin:
    """Where a template was written, so an error after rendering points at it."""

    doc: DocumentBase
    path: Path


def render_functions(target: Target, context: Mapping[str, str], errors: list[str]) -> list[FunctionSpec]:
    """Every function of the target's service, rendered; problems are appended to errors."""
    renderer = Renderer(target, context, errors)
    infra = target.infrastructure
    vpc = (
        VpcConfig(subnet_ids=list(infra.vpc.subnet_ids), security_group_ids=list(infra.vpc.security_group_ids))
        if infra.vpc is not None
        else None
    )
    specs: list[FunctionSpec] = []
    first_index: dict[str, int] = {}
    for index, function in enumerate(target.service.spec.functions):
        spec = _render_one(renderer, target, index, function, vpc)
        name_path: Path = ("spec", "functions", index, "name")
        if spec.name in first_index:
            renderer.error(
                target.service, name_path, f'"{spec.name}" is also the name of spec.functions[{first_index[spec.name]}]'
            )
        first_index.setdefault(spec.name, index)
        specs.append(spec)
    return specs


def _render_one(
    renderer: Renderer, target: Target, index: int, function: FunctionConfig, vpc: VpcConfig | None
) -> FunctionSpec:
    service, environment, override = target.service, target.environment, target.override
    base: Path = ("spec", "functions", index)
    override_base: Path = ("spec", "overrides", target.override_index)

    name = renderer.text(service, (*base, "name"), function.name)
    renderer.check(service, (*base, "name"), aws_rules.check_function_name, name)

    environment_values = {k: (v, _Origin(service, (*base, "environment", k))) for k, v in function.environment.items()}
    tag_values = {k: (v, _Origin(service, (*base, "tags", k))) for k, v in function.tags.items()}
    alias_values = [(v, _Origin(service, (*base, "aliases", n))) for n, v in enumerate(function.aliases)]
    if override is not None:
        environment_values |= {
            k: (v, _Origin(environment, (*override_base, "environment", k))) for k, v in override.environment.items()
        }
        tag_values |= {k: (v, _Origin(environment, (*override_base, "tags", k))) for k, v in override.tags.items()}
        if override.aliases is not None:
            alias_values = [
                (v, _Origin(environment, (*override_base, "aliases", n))) for n, v in enumerate(override.aliases)
            ]

    rendered_environment = {
        key: renderer.text(origin.doc, origin.path, value, allow_secrets=True)
        for key, (value, origin) in environment_values.items()
    }
    # Blame the override when it contributed: it is what pushed a merged environment over the limit.
    size_origin = (
        _Origin(environment, (*override_base, "environment"))
        if override is not None and override.environment
        else _Origin(service, (*base, "environment"))
    )
    try:
        aws_rules.check_environment_size(rendered_environment)
    except ValueError as exc:
        renderer.error(size_origin.doc, size_origin.path, str(exc))

    tags: dict[str, str] = {}
    for key, (value, origin) in tag_values.items():
        tags[key] = renderer.text(origin.doc, origin.path, value)
        renderer.check(origin.doc, origin.path, aws_rules.check_tag_value, tags[key])
    if len(tags) > aws_rules.MAX_TAGS:
        renderer.error(service, (*base, "tags"), f"at most {aws_rules.MAX_TAGS} tags after merging, got {len(tags)}")

    aliases: list[str] = []
    for value, origin in alias_values:
        alias = renderer.text(origin.doc, origin.path, value)
        if renderer.check(origin.doc, origin.path, aws_rules.check_alias_name, alias) and alias in aliases:
            renderer.error(origin.doc, origin.path, f'duplicate alias "{alias}"')
        aliases.append(alias)

    return FunctionSpec(
        name=name,
        runtime=_pick(override.runtime if override else None, function.runtime),
        handler=_pick(override.handler if override else None, function.handler),
        role=target.infrastructure.execution_role,
        memory_size=_pick(override.memory_size if override else None, function.memory_size),
        timeout=_pick(override.timeout if override else None, function.timeout),
        architecture=_pick(override.architecture if override else None, function.architecture),
        environment=rendered_environment,
        vpc=vpc,
        aliases=list(dict.fromkeys(aliases)),
        tags=tags,
    )


def _pick(override_value: T | None, service_value: T) -> T:
    """An override's value replaces the service's when the override sets it."""
    return service_value if override_value is None else override_value
