"""What a function should look like after the deployment: the spec, with secrets rendered.

`${secrets.NAME}` placeholders in environment values are rendered by the caller's `render_secrets`
here, right before planning (so comparisons with the live configuration use real values) and before
anything is changed (so a missing secret fails the task with nothing deployed). The rendered values
live only in memory and in the AWS call that needs them. No I/O here beyond `render_secrets`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from delegate.aws.lambda_types import FunctionSettings, VpcSettings
from shared.payloads import FunctionSpec

SECRET_PLACEHOLDER = "${secrets."  # noqa: S105  # the placeholder syntax, not a secret


@dataclass(frozen=True, kw_only=True)
class DesiredFunction:
    name: str
    settings: FunctionSettings
    aliases: tuple[str, ...]
    tags: Mapping[str, str]
    secret_keys: frozenset[str]
    """Environment variables whose values come (at least partly) from secrets."""

    def __repr__(self) -> str:  # the settings hold rendered secrets: keep them out of reprs
        return f"DesiredFunction(name={self.name!r}, aliases={self.aliases!r})"

    @staticmethod
    def from_spec(spec: FunctionSpec, render_secrets: Callable[[str], str]) -> DesiredFunction:
        environment = {key: render_secrets(value) for key, value in spec.environment.items()}
        vpc = VpcSettings.of(spec.vpc.subnet_ids, spec.vpc.security_group_ids) if spec.vpc else None
        settings = FunctionSettings(
            runtime=spec.runtime,
            handler=spec.handler,
            role=spec.role,
            memory_size=spec.memory_size,
            timeout=spec.timeout,
            architecture=spec.architecture,
            environment=environment,
            vpc=vpc,
        )
        return DesiredFunction(
            name=spec.name,
            settings=settings,
            aliases=tuple(dict.fromkeys(spec.aliases)),
            tags=dict(spec.tags),
            secret_keys=frozenset(k for k, v in spec.environment.items() if SECRET_PLACEHOLDER in v),
        )
