"""Put functions back the way a snapshot saw them: after a failed deploy, and for `outrider rollback`.

`plan_restore` (pure) compares a `RestoreTarget` with the function's current state and emits actions,
in the order that restores traffic first:
1. a function that did not exist before is deleted (with every version and alias it got);
2. aliases go back to their versions and routing weights; aliases the failed execution created are
   deleted (automatic rollback only: `outrider rollback` leaves aliases it cannot attribute alone);
3. `$LATEST` configuration is restored field by field (architecture excepted, see below);
4. tags are made equal to the snapshot's (never touching `aws:*`).

What is not restored, by design: `$LATEST` code. Lambda has no call that copies code between
versions, and a snapshot holds only the old CodeSha256, not the bytes. Every alias points again at
its old version, which carries its own code and configuration, so traffic runs the old code; the
next deployment uploads whatever code it wants. Architecture can only change together with code, so
it is left as well. Both are logged. Published versions are kept (they may be rolled forward to).

`restore` and `rollback` do the I/O: read current state, run the plan with the shared executor, and
continue with the next function when one fails, reporting every failure.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace

from delegate.aws.errors import AwsError
from delegate.aws.factory import AwsFactory
from delegate.aws.lambda_client import LambdaClient
from delegate.aws.lambda_types import AliasInfo, ConfigurationUpdate, FunctionInfo
from delegate.lambda_.actions import (
    SECTION_ROLLBACK,
    Action,
    DeleteAlias,
    DeleteFunction,
    Note,
    SetAlias,
    SyncTags,
    UpdateConfiguration,
    WaitUntilReady,
    short_sha,
)
from delegate.lambda_.errors import LambdaEngineError, RollbackFailed
from delegate.lambda_.executor import Executor, FunctionState
from delegate.lambda_.planner import Plan, tag_changes
from delegate.lambda_.snapshot import MASK, AliasTarget, RestoreTarget, target_from_payload
from delegate.tasklog import TaskLog
from shared.payloads import FunctionResult, LambdaRollbackPayload, LambdaRollbackResult


def plan_restore(
    target: RestoreTarget,
    current: FunctionInfo | None,
    current_aliases: list[AliasInfo],
    *,
    delete_aliases: Collection[str] = (),
) -> Plan:
    name = target.name
    actions: list[Action] = []

    def note(text: str, level: str = "info") -> None:
        actions.append(
            Note(function=name, in_section=SECTION_ROLLBACK, text=text, level="warn" if level == "warn" else "info")
        )

    if not target.exists:
        if current is None:
            note(f"Function {name}: did not exist before and does not exist now")
        else:
            actions.append(DeleteFunction(function=name, reason="it did not exist before this execution"))
        return Plan(name, tuple(actions))
    if current is None:
        note(f"Function {name}: existed before but is gone now; nothing to restore", "warn")
        return Plan(name, tuple(actions))

    live = {alias.name: alias for alias in current_aliases}
    for alias_name, wanted in sorted(target.aliases.items()):
        have = live.get(alias_name)
        if have is None:
            actions.append(
                SetAlias(function=name, alias=alias_name, version=wanted.version, routing=dict(wanted.routing))
            )
        elif have.function_version != wanted.version or dict(have.routing) != dict(wanted.routing):
            actions.append(
                SetAlias(
                    function=name,
                    alias=alias_name,
                    version=wanted.version,
                    routing=dict(wanted.routing),
                    current=AliasTarget.of(have),
                )
            )
    for alias_name in sorted(set(live) - set(target.aliases)):
        if alias_name in delete_aliases:
            actions.append(DeleteAlias(function=name, alias=alias_name))
        else:
            note(f"Function {name}: alias {alias_name} is not in the snapshot; left as it is", "warn")

    config = current.config
    if target.settings is not None:
        fields = tuple(f for f in config.settings.differing_fields(target.settings) if f != "architecture")
        if fields:
            actions += [
                WaitUntilReady(function=name, after="any update in progress"),
                UpdateConfiguration(
                    function=name, update=ConfigurationUpdate.from_settings(target.settings, fields), fields=fields
                ),
                WaitUntilReady(function=name, after="configuration restore"),
            ]
        if config.settings.architecture != target.settings.architecture:
            note(
                f"Function {name}: $LATEST architecture stays {config.settings.architecture} (was "
                f"{target.settings.architecture}); Lambda changes it only with code",
                "warn",
            )

    set_tags, remove = tag_changes(current.tags, target.tags)
    if set_tags or remove:
        actions.append(SyncTags(function=name, arn=config.unqualified_arn, set_tags=set_tags, remove=remove))

    if target.code_sha256 and config.code_sha256 != target.code_sha256:
        note(
            f"Function {name}: $LATEST code stays at sha256 {short_sha(config.code_sha256)} (was "
            f"{short_sha(target.code_sha256)}): Lambda cannot copy code between versions; the aliases "
            "serve their previous versions with their own code and configuration"
        )
    if not any(action.mutates for action in actions):
        note(f"Function {name}: already as in the snapshot")
    return Plan(name, tuple(actions))


@dataclass
class RestoreOutcome:
    restored: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    states: dict[str, FunctionState] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failures


def restore(
    targets: list[RestoreTarget],
    *,
    client: LambdaClient,
    log: TaskLog,
    delete_aliases: Mapping[str, Collection[str]] | None = None,
    wait_timeout: float = 300.0,
    open_section: bool = True,
) -> RestoreOutcome:
    """Restore each target, last deployed first; a failure is recorded and the next one still runs."""
    outcome = RestoreOutcome()
    if open_section:
        log.section(SECTION_ROLLBACK)
    executor = Executor(client, log, wait_timeout=wait_timeout, section=SECTION_ROLLBACK)
    for target in reversed(targets):
        try:
            current = client.get_function(target.name)
            aliases = client.list_aliases(target.name) if current is not None else []
            plan = plan_restore(target, current, aliases, delete_aliases=(delete_aliases or {}).get(target.name, ()))
            state = executor.execute(plan, FunctionState(name=target.name))
        except (AwsError, LambdaEngineError) as exc:
            log.error(f"Function {target.name}: rollback failed: {exc}")
            outcome.failures.append(f"{target.name}: {exc}")
            continue
        outcome.states[target.name] = state
        # Every function that now matches its snapshot (as far as Lambda allows) counts as restored.
        if state.deleted:
            outcome.deleted.append(target.name)
        elif target.exists:
            outcome.restored.append(target.name)
    return outcome


def unmask_environment(target: RestoreTarget, client: LambdaClient, log: TaskLog) -> RestoreTarget:
    """Replace masked environment values with those of the versions the snapshot's aliases pointed to.

    A stored snapshot has secrets masked; the versions its aliases pointed to were published with the
    real values, so GetFunctionConfiguration(Qualifier=version) recovers them without them ever
    leaving AWS and the delegate. A value that no such version has is an error: restoring the mask
    itself would break the function.
    """
    settings = target.settings
    if settings is None or not any(MASK in value for value in settings.environment.values()):
        return target
    versions = list(dict.fromkeys(alias.version for _, alias in sorted(target.aliases.items())))
    references: list[Mapping[str, str]] = []
    for version in versions:
        try:
            references.append(client.get_configuration(target.name, qualifier=version).settings.environment)
        except AwsError as exc:
            log.warn(f"Function {target.name}: cannot read version {version} to recover masked values: {exc}")
    environment = dict(settings.environment)
    for key, value in settings.environment.items():
        if MASK not in value:
            continue
        found = next((ref[key] for ref in references if key in ref and MASK not in ref[key]), None)
        if found is None:
            raise LambdaEngineError(
                f"function {target.name}: environment variable {key} is masked in the snapshot and no version "
                f"an alias pointed to ({', '.join(versions) or 'none'}) has it"
            )
        environment[key] = found
    log.info(
        f"Function {target.name}: recovered {sum(MASK in v for v in settings.environment.values())} masked "
        f"environment value(s) from version(s) {', '.join(versions)}"
    )
    return replace(target, settings=replace(settings, environment=environment))


def rollback(
    payload: LambdaRollbackPayload,
    *,
    aws: AwsFactory,
    log: TaskLog,
    wait_timeout: float = 300.0,
) -> LambdaRollbackResult:
    """`outrider rollback ID`: restore the snapshots execution ID took. Raises RollbackFailed."""
    client = aws.lambda_(payload.credentials, payload.region, on_retry=log.warn)
    log.section(SECTION_ROLLBACK)
    log.info(
        f"Restoring {len(payload.snapshots)} function(s) to their state before execution {payload.target_execution_id}"
    )
    targets: list[RestoreTarget] = []
    failures: list[str] = []
    for snapshot in payload.snapshots:
        target = target_from_payload(snapshot)
        try:
            targets.append(unmask_environment(target, client, log))
        except (AwsError, LambdaEngineError) as exc:
            # Still put traffic and tags back; only the configuration cannot be restored safely.
            log.error(f"{exc}; restoring its aliases and tags but not its configuration")
            failures.append(f"{snapshot.name}: {exc}")
            targets.append(replace(target, settings=None))
    outcome = restore(targets, client=client, log=log, wait_timeout=wait_timeout, open_section=False)
    failures += outcome.failures
    results = [
        FunctionResult(
            name=target.name,
            version=_first(target.aliases),
            code_sha256=target.code_sha256,
            changed=target.name in outcome.states and outcome.states[target.name].touched,
            aliases={alias: state.version for alias, state in target.aliases.items()},
        )
        for target in targets
        if target.exists
    ]
    result = LambdaRollbackResult(functions=results, deleted=outcome.deleted)
    if failures:
        raise RollbackFailed(
            f"rollback of execution {payload.target_execution_id} failed: " + "; ".join(failures), result
        )
    log.info(
        f"Rollback of execution {payload.target_execution_id} done: restored {len(outcome.restored)}, "
        f"deleted {len(outcome.deleted)}"
    )
    return result


def _first(aliases: Mapping[str, AliasTarget]) -> str | None:
    return next((alias.version for _, alias in sorted(aliases.items())), None)
