"""`lambda.deploy`: converge every function of a service to its spec, or put them all back.

Order of work (CONTRACT §4, strategy basic):
1. Fetch artifact: decide how Lambda gets the code (by S3 reference, inline zip, or staged), after
   verifying checksum and zip when the bytes pass through the delegate (`artifacts.fetch`).
2. Render `${secrets.*}` in environment values and check each handler exists in the zip. Steps 1-2
   change nothing in AWS: a bad artifact or a missing secret fails with nothing deployed.
3. Snapshot every function (exists?, $LATEST configuration, code, tags, aliases, versions).
4. Plan every function (pure, `planner.py`), then apply the plans in order (`executor.py`), checking
   `should_stop()` at every safe point.
5. On any failure or cancellation with `rollbackOnFailure`: restore every function this attempt
   touched, earlier successful ones included (`rollback.py`); functions this execution created are
   deleted. The result (functions, masked snapshots, rollback report, error) travels inside the
   raised `DeployFailed`/`DeployCancelled`, so the caller reports FAILED, ROLLED_BACK or CANCELLED.

Snapshotting and planning all functions before changing any gives the rollback a consistent "before"
and lets a missing secret or bad handler in the last function stop the run before the first changes.

I/O: Lambda and S3 through the `delegate.aws` wrappers built by the given `AwsFactory`, the artifact
source, and `render_secrets`. Logging goes to the TaskLog, which masks secrets.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from delegate.artifacts.base import ArtifactSourceClient
from delegate.artifacts.fetch import CodeLimits, CodeRef, check_handler, fetch_code
from delegate.aws.errors import AwsError
from delegate.aws.factory import AwsFactory
from delegate.aws.lambda_client import LambdaClient
from delegate.lambda_.actions import SECTION_FETCH, SECTION_SNAPSHOT, SECTION_SUMMARY, short_sha
from delegate.lambda_.desired import DesiredFunction
from delegate.lambda_.errors import Cancelled, DeployCancelled, DeployFailed, LambdaEngineError
from delegate.lambda_.executor import Executor, FunctionState
from delegate.lambda_.planner import Plan, plan_deploy
from delegate.lambda_.rollback import restore, unmask_environment
from delegate.lambda_.snapshot import RestoreTarget, Snapshot, take_snapshot, target_from_payload
from delegate.tasklog import TaskLog
from shared.payloads import FunctionResult, FunctionSnapshot, LambdaDeployPayload, LambdaDeployResult, RollbackReport


def _never() -> bool:
    return False


def _always() -> bool:
    return True


def deploy(
    payload: LambdaDeployPayload,
    *,
    aws: AwsFactory,
    source: ArtifactSourceClient,
    log: TaskLog,
    render_secrets: Callable[[str], str],
    mask: Callable[[str], str],
    should_stop: Callable[[], bool] = _never,
    rollback_when_stopped: Callable[[], bool] = _always,
    limits: CodeLimits | None = None,
    wait_timeout: float = 300.0,
    prior_snapshots: Sequence[FunctionSnapshot] = (),
    on_snapshots: Callable[[list[FunctionSnapshot]], None] | None = None,
) -> LambdaDeployResult:
    """Deploy `payload.artifact` to every function; return the result or raise DeployFailed/DeployCancelled.

    When `should_stop()` stops the run, `rollback_when_stopped()` decides whether to roll back: yes
    for an operator's cancel; no when the lease is in doubt, because another attempt of the same task
    may already be deploying and a rollback here would undo its work.

    `prior_snapshots` are the snapshots an earlier attempt of this task checkpointed: the state from
    before the execution, which rollback restores (ours may already hold that attempt's changes).
    Without them, `on_snapshots` checkpoints ours before anything changes.
    """
    client = aws.lambda_(payload.credentials, payload.region, on_retry=log.warn)
    run = _Run(
        payload,
        client=client,
        log=log,
        mask=mask,
        wait_timeout=wait_timeout,
        rollback_when_stopped=rollback_when_stopped,
    )
    run.prior = {p.name: p for p in prior_snapshots}
    try:
        log.section(SECTION_FETCH)
        staging = aws.s3(payload.credentials, payload.region, on_retry=log.warn) if payload.staging_bucket else None
        code = fetch_code(
            payload.artifact,
            source=source,
            function_region=payload.region,
            execution_id=payload.execution_id,
            log=log,
            staging=staging,
            staging_bucket=payload.staging_bucket,
            limits=limits,
        )
        for spec in payload.functions:
            check_handler(code, function=spec.name, runtime=spec.runtime, handler=spec.handler)
            run.desired[spec.name] = DesiredFunction.from_spec(spec, render_secrets)
        _safe_point(should_stop, "before the snapshot")

        log.section(SECTION_SNAPSHOT)
        for spec in payload.functions:
            snapshot = take_snapshot(client, spec.name, execution_id=payload.execution_id)
            run.snapshots.append(snapshot)
            log.info(_describe_snapshot(snapshot))
        if run.prior:
            log.info("An earlier attempt of this execution saved the state from before it; a rollback restores that")
        elif on_snapshots is not None:
            # Checkpoint the "before" state outside this process before changing anything, so that a
            # later attempt (after this delegate dies) can still roll back to it.
            on_snapshots(run.masked_snapshots())
        plans = [plan_deploy(run.desired[s.name], s, code, execution_id=payload.execution_id) for s in run.snapshots]

        executor = Executor(client, log, should_stop=should_stop, wait_timeout=wait_timeout)
        for plan in plans:
            _safe_point(should_stop, f"before function {plan.function}")
            state = FunctionState(name=plan.function)
            run.states[plan.function] = state
            executor.execute(plan, state)
    except Exception as exc:  # every failure, whatever raised it, must reach the rollback
        raise run.fail(exc) from exc
    return run.succeed(code, plans)


def _safe_point(should_stop: Callable[[], bool], where: str) -> None:
    if should_stop():
        raise Cancelled(f"cancelled {where}")


def _describe_snapshot(snapshot: Snapshot) -> str:
    name = snapshot.name
    if snapshot.config is None:
        return f"Function {name}: does not exist; it will be created"
    if not snapshot.existed_before:
        return f"Function {name}: created by an earlier attempt of this execution; a rollback deletes it"
    aliases = ", ".join(
        f"{alias.name} -> {alias.function_version}"
        + ("" if not alias.routing else " (+" + ", ".join(f"{v}: {w:.0%}" for v, w in alias.routing.items()) + ")")
        for alias in snapshot.aliases.values()
    )
    return (
        f"Function {name}: exists, code sha256 {short_sha(snapshot.config.code_sha256)}, "
        f"{len(snapshot.versions)} published version(s), aliases: {aliases or 'none'}"
    )


class _Run:
    """The bookkeeping of one deploy call: what was planned, snapshotted and done."""

    def __init__(
        self,
        payload: LambdaDeployPayload,
        *,
        client: LambdaClient,
        log: TaskLog,
        mask: Callable[[str], str],
        wait_timeout: float,
        rollback_when_stopped: Callable[[], bool],
    ) -> None:
        self.payload = payload
        self.rollback_when_stopped = rollback_when_stopped
        self.client = client
        self.log = log
        self.mask = mask
        self.wait_timeout = wait_timeout
        self.desired: dict[str, DesiredFunction] = {}
        self.snapshots: list[Snapshot] = []
        self.states: dict[str, FunctionState] = {}
        self.prior: dict[str, FunctionSnapshot] = {}

    def _function_results(self) -> list[FunctionResult]:
        results = []
        for snapshot in self.snapshots:
            state = self.states.get(snapshot.name)
            if state is None or state.target_version is None:
                continue
            results.append(
                FunctionResult(
                    name=snapshot.name,
                    version=state.target_version,
                    code_sha256=state.code_sha256,
                    changed=state.changed,
                    aliases=dict(state.aliases),
                    created=state.created or not snapshot.existed_before,
                )
            )
        return results

    def aliases_to_delete(self) -> dict[str, list[str]]:
        """Aliases this execution created: by this attempt, or (against a checkpoint) by an earlier one."""
        out = {name: list(state.created_aliases) for name, state in self.states.items()}
        for snapshot in self.snapshots:
            prior = self.prior.get(snapshot.name)
            if prior is not None:
                extra = [a for a in snapshot.aliases if a not in prior.aliases]
                out[snapshot.name] = sorted(set(out.get(snapshot.name, [])) | set(extra))
        return out

    def restore_target(self, snapshot: Snapshot) -> RestoreTarget:
        """Where rollback takes a function: our snapshot, or the earlier attempt's checkpoint (masked
        secrets recovered from the versions its aliases served)."""
        prior = self.prior.get(snapshot.name)
        if prior is None:
            return snapshot.restore_target()
        target = target_from_payload(prior)
        try:
            return unmask_environment(target, self.client, self.log)
        except (AwsError, LambdaEngineError) as exc:
            self.log.error(f"{exc}; restoring aliases and tags of {snapshot.name} but not its configuration")
            return replace(target, settings=None)

    def masked_snapshots(self) -> list[FunctionSnapshot]:
        """Snapshots as they leave the delegate (secrets masked); an earlier attempt's checkpoint wins."""
        out: list[FunctionSnapshot] = []
        for snapshot in self.snapshots:
            if snapshot.name in self.prior:
                out.append(self.prior[snapshot.name])
                continue
            desired = self.desired.get(snapshot.name)
            secret_keys = desired.secret_keys if desired else frozenset()
            out.append(snapshot.to_payload(self.mask, secret_keys))
        return out

    def succeed(self, code: CodeRef, plans: list[Plan]) -> LambdaDeployResult:
        functions = self._function_results()
        changed = any(f.changed for f in functions)
        self.log.section(SECTION_SUMMARY)
        for f in functions:
            aliases = ", ".join(f"{a} -> {v}" for a, v in f.aliases.items()) or "no aliases"
            verb = "created" if f.created and f.changed else "deployed" if f.changed else "no changes"
            self.log.info(f"Function {f.name}: {verb}, version {f.version} ({aliases})")
        if not changed:
            self.log.info(f"No changes: every function already runs sha256 {short_sha(code.sha256_b64)} as specified")
        return LambdaDeployResult(
            functions=functions,
            snapshots=self.masked_snapshots(),
            changed=changed,
        )

    def fail(self, exc: Exception) -> DeployFailed:
        cancelled = isinstance(exc, Cancelled)
        error = str(exc) or type(exc).__name__
        self.log.error(f"Deployment {'cancelled' if cancelled else 'failed'}: {error}")
        report: RollbackReport | None = None
        functions = self._function_results()
        # Restore what this attempt touched, and functions an earlier attempt of it created.
        # Against a checkpoint, every function may hold an earlier attempt's changes: restore them all.
        to_restore = [
            s
            for s in self.snapshots
            if (s.name in self.states and self.states[s.name].touched)
            or (s.exists_now and not s.existed_before)
            or s.name in self.prior
        ]
        if not self.payload.rollback_on_failure:
            if self.snapshots:
                self.log.warn("rollbackOnFailure is false: functions are left as they are")
        elif cancelled and to_restore and not self.rollback_when_stopped():
            self.log.warn("Stopped without rollback: another attempt of this execution continues from here")
        elif to_restore:
            outcome = restore(
                [self.restore_target(s) for s in to_restore],
                client=self.client,
                log=self.log,
                delete_aliases=self.aliases_to_delete(),
                wait_timeout=self.wait_timeout,
            )
            report = RollbackReport(
                status="SUCCEEDED" if outcome.ok else "FAILED",
                functions=outcome.restored,
                deleted=outcome.deleted,
                error="; ".join(outcome.failures) or None,
            )
            if outcome.ok:
                self.log.info(
                    f"Rollback complete: restored {len(outcome.restored)}, deleted {len(outcome.deleted)} function(s)"
                )
                functions = []  # nothing of this execution remains deployed
            else:
                self.log.error(f"Rollback incomplete: {report.error}")
        result = LambdaDeployResult(
            functions=functions,
            snapshots=self.masked_snapshots(),
            changed=any(state.touched for state in self.states.values()),
            rollback=report,
            error=error,
        )
        kind = DeployCancelled if cancelled else DeployFailed
        return kind(error, result)
