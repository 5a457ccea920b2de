"""Plan one function's deployment: compare the snapshot with what is wanted, emit actions.

Pure: no I/O. The same plan is what a dry run would print (`Plan.describe()`).

Rules (CONTRACT §4, strategy basic):
- Missing function: CreateFunction (description = execution marker, tags included), wait, publish.
- Otherwise UpdateCode only when CodeSha256 differs, or when the architecture differs (Lambda changes
  architecture only through UpdateFunctionCode, so the same code is re-sent with it); then wait.
- UpdateConfiguration with only the fields that differ (runtime, handler, role, memory, timeout,
  environment, VPC), compared after secrets were rendered; then wait.
- PublishVersion only if code or configuration changed. When nothing changed, aliases go to the
  newest published version whose code and configuration equal the wanted ones; if there is none
  (someone changed `$LATEST` to this state without publishing it, or an earlier attempt of this
  execution stopped before publishing) it publishes after all.
- Each wanted alias is created or moved to the target version with all traffic (routing cleared);
  an alias already there is left untouched.
- Tags: set missing/different ones, remove stale ones, never touch `aws:*` keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from delegate.artifacts.fetch import CodeRef
from delegate.aws.lambda_types import ConfigurationUpdate, FunctionConfig
from delegate.lambda_.actions import (
    SECTION_CODE,
    SECTION_CONFIG,
    SECTION_PUBLISH,
    SECTION_TAGS,
    Action,
    CreateFunction,
    KeepAlias,
    Note,
    PublishVersion,
    SetAlias,
    SyncTags,
    UpdateCode,
    UpdateConfiguration,
    UseVersion,
    WaitUntilReady,
    short_sha,
)
from delegate.lambda_.desired import DesiredFunction
from delegate.lambda_.snapshot import AliasTarget, Snapshot, execution_marker

RESERVED_TAG_PREFIX = "aws:"


@dataclass(frozen=True)
class Plan:
    function: str
    actions: tuple[Action, ...]

    @property
    def has_changes(self) -> bool:
        return any(action.mutates for action in self.actions)

    def describe(self) -> list[str]:
        return [action.describe() for action in self.actions]


def plan_deploy(desired: DesiredFunction, snapshot: Snapshot, code: CodeRef, *, execution_id: str) -> Plan:
    marker = execution_marker(execution_id)
    name = desired.name
    actions: list[Action] = []

    if snapshot.config is None:
        actions += [
            CreateFunction(
                function=name, settings=desired.settings, code=code, tags=_settable(desired.tags), description=marker
            ),
            WaitUntilReady(function=name, after="creation"),
            PublishVersion(function=name, description=marker),
        ]
        actions += [SetAlias(function=name, alias=alias) for alias in desired.aliases]
        return Plan(name, tuple(actions))

    current = snapshot.config
    arch_changed = current.settings.architecture != desired.settings.architecture
    code_changed = current.code_sha256 != code.sha256_b64
    if code_changed or arch_changed:
        actions += [
            UpdateCode(
                function=name,
                code=code,
                architecture=desired.settings.architecture if arch_changed else None,
                previous_sha256=current.code_sha256,
            ),
            WaitUntilReady(function=name, after="code update"),
        ]
    else:
        actions.append(
            Note(
                function=name,
                in_section=SECTION_CODE,
                text=f"Function {name}: code unchanged (sha256 {short_sha(code.sha256_b64)}), skipping update",
            )
        )

    fields = tuple(f for f in current.settings.differing_fields(desired.settings) if f != "architecture")
    if fields:
        actions += [
            UpdateConfiguration(
                function=name, update=ConfigurationUpdate.from_settings(desired.settings, fields), fields=fields
            ),
            WaitUntilReady(function=name, after="configuration update"),
        ]
    else:
        actions.append(Note(function=name, in_section=SECTION_CONFIG, text=f"Function {name}: configuration unchanged"))

    target: str | None = None
    if code_changed or arch_changed or fields:
        actions.append(PublishVersion(function=name, description=marker))
    else:
        match = matching_version(snapshot.versions, desired, code.sha256_b64)
        if match is None:
            actions.append(
                Note(
                    function=name,
                    in_section=SECTION_PUBLISH,
                    text=f"Function {name}: $LATEST matches but no published version does; publishing it",
                )
            )
            actions.append(PublishVersion(function=name, description=marker))
        else:
            target = match.version
            actions.append(
                UseVersion(function=name, version=target, published_by_this_execution=match.description == marker)
            )

    for alias in desired.aliases:
        existing = snapshot.aliases.get(alias)
        if target is not None and existing is not None and existing.function_version == target and not existing.routing:
            actions.append(KeepAlias(function=name, alias=alias, version=target))
            continue
        actions.append(
            SetAlias(function=name, alias=alias, version=target, current=AliasTarget.of(existing) if existing else None)
        )

    set_tags, remove = tag_changes(snapshot.tags, desired.tags)
    if set_tags or remove:
        actions.append(SyncTags(function=name, arn=current.unqualified_arn, set_tags=set_tags, remove=remove))
    else:
        actions.append(Note(function=name, in_section=SECTION_TAGS, text=f"Function {name}: tags unchanged"))
    return Plan(name, tuple(actions))


def matching_version(
    versions: tuple[FunctionConfig, ...], desired: DesiredFunction, code_sha256: str
) -> FunctionConfig | None:
    """The newest published version with this code and exactly the wanted configuration."""
    for version in reversed(versions):
        if version.code_sha256 == code_sha256 and not version.settings.differing_fields(desired.settings):
            return version
    return None


def tag_changes(current: Mapping[str, str], wanted: Mapping[str, str]) -> tuple[dict[str, str], tuple[str, ...]]:
    """(tags to set, keys to remove) to make `current` equal `wanted`, leaving `aws:*` keys alone."""
    want = _settable(wanted)
    to_set = {k: v for k, v in want.items() if current.get(k) != v}
    to_remove = tuple(sorted(k for k in current if k not in want and not k.startswith(RESERVED_TAG_PREFIX)))
    return to_set, to_remove


def _settable(tags: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in tags.items() if not k.startswith(RESERVED_TAG_PREFIX)}
