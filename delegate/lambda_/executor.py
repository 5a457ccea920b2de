"""Perform a plan's actions in order against Lambda, logging each in its named section.

The executor is the only part of the engine that changes AWS (through `LambdaClient`). Between two
actions it asks `should_stop()` (a safe point: no call in flight) and raises `Cancelled`. It keeps a
small mutable `FunctionState` per function: what it created, the version aliases should point to,
the latest configuration seen (for PublishVersion's RevisionId precondition), and whether anything
changed. Rollback uses the same executor inside its own "Rollback" section and without stop checks.

PublishVersion first looks for a version this execution already published with the same code and
configuration (an earlier attempt of a retried task): it reuses it instead of publishing a duplicate.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from delegate.artifacts.fetch import b64_to_hex
from delegate.aws.lambda_client import LambdaClient
from delegate.aws.lambda_types import FunctionConfig
from delegate.lambda_.actions import (
    Action,
    CreateFunction,
    DeleteAlias,
    DeleteFunction,
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
from delegate.lambda_.errors import Cancelled, CodeMismatch
from delegate.lambda_.planner import Plan
from delegate.tasklog import TaskLog


@dataclass
class FunctionState:
    """What executing a function's plan did so far (mutable, owned by one executor run)."""

    name: str
    created: bool = False
    deleted: bool = False
    touched: bool = False
    """A mutating call was attempted: rollback must look at this function."""
    changed: bool = False
    latest: FunctionConfig | None = None
    target_version: str | None = None
    code_sha256: str | None = None
    aliases: dict[str, str] = field(default_factory=dict)
    created_aliases: list[str] = field(default_factory=list)


class Executor:
    def __init__(
        self,
        client: LambdaClient,
        log: TaskLog,
        *,
        should_stop: Callable[[], bool] = lambda: False,
        wait_timeout: float = 300.0,
        section: str | None = None,
    ) -> None:
        self._client = client
        self._log = log
        self._should_stop = should_stop
        self._wait_timeout = wait_timeout
        self._forced_section = section
        self._current_section: str | None = None

    def execute(self, plan: Plan, state: FunctionState) -> FunctionState:
        for index, action in enumerate(plan.actions):
            if index and action.mutates and self._should_stop():
                raise Cancelled(f"cancelled before: {action.describe()}")
            self._enter(action)
            if action.mutates:
                state.touched = True
            self._perform(action, state)
        return state

    def _enter(self, action: Action) -> None:
        if self._forced_section:
            return  # the caller opened that one section for everything (rollback)
        section = action.log_section()
        if section and section != self._current_section:
            self._log.section(section)
            self._current_section = section

    def _perform(self, action: Action, state: FunctionState) -> None:
        client, log, name = self._client, self._log, action.function
        match action:
            case Note():
                (log.warn if action.level == "warn" else log.info)(action.text)
            case CreateFunction():
                log.info(action.describe())
                config = client.create_function(
                    name,
                    settings=action.settings,
                    code=action.code.location,
                    description=action.description,
                    tags=action.tags,
                )
                state.created = state.changed = True
                state.latest = config
                state.code_sha256 = config.code_sha256
                _check_code(name, config, action.code.sha256_b64)
            case UpdateCode():
                log.info(action.describe())
                config = client.update_code(name, code=action.code.location, architecture=action.architecture)
                state.changed = True
                state.latest = config
                state.code_sha256 = config.code_sha256
                _check_code(name, config, action.code.sha256_b64)
            case WaitUntilReady():
                config = client.wait_until_ready(name, timeout=self._wait_timeout)
                state.latest = config
                state.code_sha256 = config.code_sha256
                log.info(
                    f"Function {name}: {action.after} done (State {config.state or 'Active'}, "
                    f"LastUpdateStatus {config.last_update_status or 'Successful'})"
                )
            case UpdateConfiguration():
                log.info(action.describe())
                state.latest = client.update_configuration(name, action.update)
                state.changed = True
            case PublishVersion():
                self._publish(action, state)
            case UseVersion():
                state.target_version = action.version
                # Nothing to publish means $LATEST already runs this version's code.
                state.code_sha256 = state.code_sha256 or (state.latest or client.get_configuration(name)).code_sha256
                state.changed = state.changed or action.published_by_this_execution
                suffix = (
                    " (published by an earlier attempt of this execution)" if action.published_by_this_execution else ""
                )
                log.info(f"Function {name}: no changes to publish; version {action.version} already matches{suffix}")
            case SetAlias():
                self._set_alias(action, state)
            case KeepAlias():
                log.info(action.describe())
                state.aliases[action.alias] = action.version
            case DeleteAlias():
                log.info(action.describe())
                client.delete_alias(name, action.alias)
                state.aliases.pop(action.alias, None)
            case SyncTags():
                log.info(action.describe())
                client.tag(action.arn, dict(action.set_tags))
                client.untag(action.arn, list(action.remove))
                state.changed = True
            case DeleteFunction():
                log.info(action.describe())
                existed = client.delete_function(name)
                state.deleted = True
                if not existed:
                    log.info(f"Function {name}: already gone")
            case _:  # pragma: no cover - every action type is handled above
                raise TypeError(f"unknown action {action!r}")

    def _publish(self, action: PublishVersion, state: FunctionState) -> None:
        client, log, name = self._client, self._log, action.function
        latest = state.latest or client.get_configuration(name)
        reused = self._version_of_this_execution(name, action.description, latest)
        if reused is not None:
            log.info(
                f"Function {name}: reusing version {reused.version} published by an earlier attempt of this "
                f"execution (code sha256 {short_sha(reused.code_sha256)}), not publishing a duplicate"
            )
            version = reused
        else:
            version = client.publish_version(
                name, code_sha256=latest.code_sha256, description=action.description, revision_id=latest.revision_id
            )
            if version.description == action.description:
                log.info(
                    f"Function {name}: published version {version.version} "
                    f'(code sha256 {short_sha(version.code_sha256)}, "{action.description}")'
                )
            else:
                # Lambda answers an unchanged $LATEST with the existing version instead of a new one.
                log.info(f"Function {name}: $LATEST unchanged since version {version.version}; Lambda reused it")
        state.target_version = version.version
        state.code_sha256 = version.code_sha256
        state.changed = True

    def _version_of_this_execution(self, name: str, marker: str, latest: FunctionConfig) -> FunctionConfig | None:
        for version in reversed(self._client.list_versions(name)):
            if (
                version.description == marker
                and version.code_sha256 == latest.code_sha256
                and not version.settings.differing_fields(latest.settings)
            ):
                return version
        return None

    def _set_alias(self, action: SetAlias, state: FunctionState) -> None:
        client, log, name = self._client, self._log, action.function
        version = action.version or state.target_version
        if version is None:
            raise RuntimeError(f"function {name}: no version to point alias {action.alias} at")  # planner bug
        routing = dict(action.routing)
        if action.current is None:
            log.info(f"Function {name}: create alias {action.alias} -> version {version}" + _weights(routing))
            client.create_alias(name, action.alias, version=version, routing=routing)
            state.created_aliases.append(action.alias)
            state.changed = True
        elif action.current.version == version and dict(action.current.routing) == routing:
            log.info(f"Function {name}: alias {action.alias} already at version {version}")
        else:
            log.info(
                f"Function {name}: alias {action.alias} version {action.current.version} -> {version}"
                + _weights(routing)
            )
            client.update_alias(name, action.alias, version=version, routing=routing)
            state.changed = True
        state.aliases[action.alias] = version


def _check_code(name: str, config: FunctionConfig, expected_b64: str) -> None:
    """Lambda hashes the code it stored; it must be the artifact we resolved. This catches an S3 object
    replaced after it was resolved, or an S3 checksum that does not match the object's bytes."""
    if config.code_sha256 and config.code_sha256 != expected_b64:
        raise CodeMismatch(
            f"function {name}: Lambda stored code with sha256 {b64_to_hex(config.code_sha256)}, but the artifact's "
            f"sha256 is {b64_to_hex(expected_b64)}; refusing to publish it"
        )


def _weights(routing: dict[str, float]) -> str:
    if not routing:
        return ""
    return " (routing " + ", ".join(f"version {v}: {w:.0%}" for v, w in sorted(routing.items())) + ")"
