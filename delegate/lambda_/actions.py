"""The small frozen steps a plan is made of. Each knows its log section and how to describe itself.

Actions carry everything the executor needs except values only known while executing (the version
number a PublishVersion returns): `SetAlias(version=None)` means "the version this plan published".
`describe()` never includes environment values (they may be secrets). No I/O here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar, Literal

from delegate.artifacts.fetch import CodeRef, b64_to_hex
from delegate.aws.lambda_types import ConfigurationUpdate, FunctionSettings
from delegate.lambda_.snapshot import AliasTarget

SECTION_SNAPSHOT = "Snapshot"
SECTION_FETCH = "Fetch artifact"
SECTION_CODE = "Update code"
SECTION_CONFIG = "Update configuration"
SECTION_PUBLISH = "Publish version"
SECTION_ALIASES = "Aliases"
SECTION_TAGS = "Tags"
SECTION_ROLLBACK = "Rollback"
SECTION_SUMMARY = "Summary"


def short_sha(sha256_b64: str | None) -> str:
    return f"{b64_to_hex(sha256_b64)[:12]}…" if sha256_b64 else "unknown"


@dataclass(frozen=True, kw_only=True)
class Action:
    function: str
    section: ClassVar[str] = ""
    mutates: ClassVar[bool] = True

    def log_section(self) -> str:
        return self.section

    def describe(self) -> str:
        raise NotImplementedError


@dataclass(frozen=True, kw_only=True)
class Note(Action):
    """A line for the log (a skipped step and why); does nothing."""

    text: str
    in_section: str
    level: Literal["info", "warn"] = "info"
    mutates: ClassVar[bool] = False

    def log_section(self) -> str:
        return self.in_section

    def describe(self) -> str:
        return self.text


@dataclass(frozen=True, kw_only=True)
class CreateFunction(Action):
    settings: FunctionSettings = field(repr=False)
    code: CodeRef = field(repr=False)
    tags: Mapping[str, str]
    description: str
    section: ClassVar[str] = SECTION_CODE

    def describe(self) -> str:
        return (
            f"Function {self.function}: create ({self.settings.runtime}, {self.settings.architecture}, "
            f"{self.settings.memory_size} MB, code sha256 {short_sha(self.code.sha256_b64)}, {self.code.describe()})"
        )


@dataclass(frozen=True, kw_only=True)
class UpdateCode(Action):
    code: CodeRef = field(repr=False)
    architecture: str | None = None
    previous_sha256: str | None = None
    section: ClassVar[str] = SECTION_CODE

    def describe(self) -> str:
        arch = f", architecture -> {self.architecture}" if self.architecture else ""
        return (
            f"Function {self.function}: update code sha256 {short_sha(self.previous_sha256)} -> "
            f"{short_sha(self.code.sha256_b64)} ({self.code.describe()}){arch}"
        )


@dataclass(frozen=True, kw_only=True)
class WaitUntilReady(Action):
    after: str = "update"
    mutates: ClassVar[bool] = False

    def describe(self) -> str:
        return f"Function {self.function}: wait until {self.after} is Successful"


@dataclass(frozen=True, kw_only=True)
class UpdateConfiguration(Action):
    update: ConfigurationUpdate = field(repr=False)
    fields: tuple[str, ...]
    section: ClassVar[str] = SECTION_CONFIG

    def describe(self) -> str:
        return f"Function {self.function}: update configuration ({', '.join(self.fields)})"


@dataclass(frozen=True, kw_only=True)
class PublishVersion(Action):
    description: str
    section: ClassVar[str] = SECTION_PUBLISH

    def describe(self) -> str:
        return f"Function {self.function}: publish a version ({self.description})"


@dataclass(frozen=True, kw_only=True)
class UseVersion(Action):
    """No change to publish: aliases go to this existing version."""

    version: str
    published_by_this_execution: bool = False
    section: ClassVar[str] = SECTION_PUBLISH
    mutates: ClassVar[bool] = False

    def describe(self) -> str:
        return f"Function {self.function}: no changes, version {self.version} already matches"


@dataclass(frozen=True, kw_only=True)
class SetAlias(Action):
    alias: str
    version: str | None = None  # None: the version published by this plan
    routing: Mapping[str, float] = field(default_factory=dict)
    current: AliasTarget | None = None
    section: ClassVar[str] = SECTION_ALIASES

    def describe(self) -> str:
        target = self.version or "the new version"
        weights = f" with routing {dict(self.routing)}" if self.routing else ""
        if self.current is None:
            return f"Function {self.function}: create alias {self.alias} -> {target}{weights}"
        return f"Function {self.function}: alias {self.alias} {self.current.version} -> {target}{weights}"


@dataclass(frozen=True, kw_only=True)
class KeepAlias(Action):
    """The alias already points where it should, with all traffic: nothing to call."""

    alias: str
    version: str
    section: ClassVar[str] = SECTION_ALIASES
    mutates: ClassVar[bool] = False

    def describe(self) -> str:
        return f"Function {self.function}: alias {self.alias} already at version {self.version}"


@dataclass(frozen=True, kw_only=True)
class DeleteAlias(Action):
    alias: str
    section: ClassVar[str] = SECTION_ALIASES

    def describe(self) -> str:
        return f"Function {self.function}: delete alias {self.alias}"


@dataclass(frozen=True, kw_only=True)
class SyncTags(Action):
    arn: str
    set_tags: Mapping[str, str] = field(default_factory=dict)
    remove: tuple[str, ...] = ()
    section: ClassVar[str] = SECTION_TAGS

    def describe(self) -> str:
        parts = []
        if self.set_tags:
            parts.append(f"set {', '.join(sorted(self.set_tags))}")
        if self.remove:
            parts.append(f"remove {', '.join(sorted(self.remove))}")
        return f"Function {self.function}: tags: {'; '.join(parts)}"


@dataclass(frozen=True, kw_only=True)
class DeleteFunction(Action):
    reason: str = ""
    section: ClassVar[str] = SECTION_ROLLBACK

    def describe(self) -> str:
        return (
            f"Function {self.function}: delete ({self.reason})" if self.reason else f"Function {self.function}: delete"
        )
