"""Snapshots: a function's state before an execution touched it, and what rollback restores.

`take_snapshot` reads (I/O: GetFunction, ListAliases, ListVersionsByFunction) whether the function
exists, its `$LATEST` configuration, CodeSha256 and tags, every alias -> version (+ routing weights)
and its published versions (used by the planner to find a version that already matches).

A function whose `$LATEST` description is this execution's marker was created by an earlier attempt
of the same execution (the task was retried after a lease loss): it is snapshotted as "did not
exist", so a rollback still deletes it.

`RestoreTarget` is the part rollback needs, built either from a live `Snapshot` (automatic rollback,
real secret values) or from a `FunctionSnapshot` payload (`outrider rollback`, where environment
values may be masked and are recovered elsewhere). Converting to/from the payload is pure.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from delegate.aws.lambda_client import LambdaClient
from delegate.aws.lambda_types import AliasInfo, FunctionConfig, FunctionSettings, VpcSettings
from shared.payloads import AliasState, FunctionSnapshot

MASK = "**********"
"""What masking puts in place of a secret value (CONTRACT §3)."""

_MARKER = "outrider execution "


def execution_marker(execution_id: str) -> str:
    """The description Outrider puts on versions it publishes and functions it creates."""
    return f"{_MARKER}{execution_id}"


@dataclass(frozen=True)
class AliasTarget:
    version: str
    routing: Mapping[str, float]

    @staticmethod
    def of(alias: AliasInfo) -> AliasTarget:
        return AliasTarget(alias.function_version, MappingProxyType(dict(alias.routing)))


@dataclass(frozen=True, kw_only=True)
class RestoreTarget:
    """What a function must look like again after a rollback."""

    name: str
    exists: bool
    settings: FunctionSettings | None
    code_sha256: str | None
    tags: Mapping[str, str]
    aliases: Mapping[str, AliasTarget]


@dataclass(frozen=True, kw_only=True)
class Snapshot:
    """Live state of one function, read just before this execution changes anything."""

    name: str
    existed_before: bool
    """False when missing, or when created by an earlier attempt of this same execution."""
    config: FunctionConfig | None
    """Current `$LATEST` (None when the function does not exist now)."""
    tags: Mapping[str, str]
    aliases: Mapping[str, AliasInfo]
    versions: tuple[FunctionConfig, ...]
    """Published versions, oldest first."""

    @property
    def exists_now(self) -> bool:
        return self.config is not None

    def restore_target(self) -> RestoreTarget:
        if not self.existed_before or self.config is None:
            return RestoreTarget(name=self.name, exists=False, settings=None, code_sha256=None, tags={}, aliases={})
        return RestoreTarget(
            name=self.name,
            exists=True,
            settings=self.config.settings,
            code_sha256=self.config.code_sha256,
            tags=dict(self.tags),
            aliases={name: AliasTarget.of(alias) for name, alias in self.aliases.items()},
        )

    def to_payload(self, mask: Callable[[str], str], secret_keys: frozenset[str] = frozenset()) -> FunctionSnapshot:
        """The snapshot as it leaves the delegate: environment values passed through `mask`, and
        replaced whole for `secret_keys` (variables the spec fills from `${secrets.*}`), because an
        older value of a rotated secret is unknown to the masker."""

        def masked(key: str, value: str) -> str:
            return MASK if key in secret_keys else mask(value)

        target = self.restore_target()
        return FunctionSnapshot(
            name=self.name,
            exists=target.exists,
            configuration=settings_to_dict(target.settings, masked) if target.settings else {},
            code_sha256=target.code_sha256,
            tags=dict(target.tags),
            aliases={
                name: AliasState(version=alias.version, routing=dict(alias.routing))
                for name, alias in target.aliases.items()
            },
        )


def take_snapshot(client: LambdaClient, name: str, *, execution_id: str) -> Snapshot:
    info = client.get_function(name)
    if info is None:
        return Snapshot(name=name, existed_before=False, config=None, tags={}, aliases={}, versions=())
    aliases = {alias.name: alias for alias in client.list_aliases(name)}
    versions = tuple(client.list_versions(name))
    created_by_us = info.config.description == execution_marker(execution_id)
    return Snapshot(
        name=name,
        existed_before=not created_by_us,
        config=info.config,
        tags=dict(info.tags),
        aliases=aliases,
        versions=versions,
    )


# --- payload conversion (pure) -------------------------------------------------------------------


def settings_to_dict(settings: FunctionSettings, mask: Callable[[str, str], str]) -> dict[str, object]:
    """Lambda's own field names, so the stored snapshot reads like GetFunctionConfiguration."""
    out: dict[str, object] = {
        "Runtime": settings.runtime,
        "Handler": settings.handler,
        "Role": settings.role,
        "MemorySize": settings.memory_size,
        "Timeout": settings.timeout,
        "Architectures": [settings.architecture],
        "Environment": {"Variables": {key: mask(key, value) for key, value in settings.environment.items()}},
    }
    if settings.vpc is not None:
        out["VpcConfig"] = {
            "SubnetIds": list(settings.vpc.subnet_ids),
            "SecurityGroupIds": list(settings.vpc.security_group_ids),
        }
    return out


def settings_from_dict(data: Mapping[str, object]) -> FunctionSettings:
    """Inverse of `settings_to_dict`; tolerant of missing keys (older snapshots)."""
    env_block = data.get("Environment")
    variables = env_block.get("Variables") if isinstance(env_block, dict) else None
    vpc_block = data.get("VpcConfig")
    vpc = None
    if isinstance(vpc_block, dict):
        vpc = VpcSettings.of(list(vpc_block.get("SubnetIds") or []), list(vpc_block.get("SecurityGroupIds") or []))
    architectures = data.get("Architectures")
    architecture = architectures[0] if isinstance(architectures, list) and architectures else "x86_64"
    return FunctionSettings(
        runtime=_opt_str(data.get("Runtime")),
        handler=_opt_str(data.get("Handler")),
        role=str(data.get("Role") or ""),
        memory_size=_int(data.get("MemorySize"), 128),
        timeout=_int(data.get("Timeout"), 3),
        architecture=str(architecture),
        environment={str(k): str(v) for k, v in (variables or {}).items()},
        vpc=vpc,
    )


def target_from_payload(snapshot: FunctionSnapshot) -> RestoreTarget:
    """A RestoreTarget from a stored snapshot; masked environment values are left as they are."""
    if not snapshot.exists:
        return RestoreTarget(name=snapshot.name, exists=False, settings=None, code_sha256=None, tags={}, aliases={})
    return RestoreTarget(
        name=snapshot.name,
        exists=True,
        settings=settings_from_dict(snapshot.configuration) if snapshot.configuration else None,
        code_sha256=snapshot.code_sha256,
        tags=dict(snapshot.tags),
        aliases={
            name: AliasTarget(state.version, MappingProxyType(dict(state.routing)))
            for name, state in snapshot.aliases.items()
        },
    )


def _opt_str(value: object) -> str | None:
    return None if value is None else str(value)


def _int(value: object, default: int) -> int:
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return default
