"""Automatic rollback after a failed deployment, and `outrider rollback` from stored snapshots."""

from __future__ import annotations

import pytest

from delegate.lambda_ import DeployFailed, RollbackFailed, deploy, rollback
from delegate.tasklog import ListTaskLog
from shared.payloads import FunctionSnapshot, LambdaDeployPayload, LambdaDeployResult, LambdaRollbackPayload
from tests.integration.lambda_.lambda_kit import (
    REGION,
    SECRET_VALUE,
    World,
    app_zip,
    lines,
    mask,
    never,
    payload,
    render_secrets,
    spec,
    unique,
)


def run(world: World, p: LambdaDeployPayload, source: object, log: ListTaskLog | None = None) -> LambdaDeployResult:
    return deploy(
        p,
        aws=world.aws,
        source=source,  # type: ignore[arg-type]
        log=log or ListTaskLog(),
        render_secrets=render_secrets,
        mask=mask,
        should_stop=never,
    )


def aliases(world: World, name: str) -> dict[str, tuple[str, dict[str, float]]]:
    return {a.name: (a.function_version, dict(a.routing)) for a in world.lambda_.list_aliases(name)}


def test_failure_in_second_function_rolls_back_both_and_deletes_the_created_one(world: World) -> None:
    created, existing = unique("fn-new"), unique("fn-old")
    first, second = world.artifact(app_zip("v1")), world.artifact(app_zip("v2"))
    run(world, payload("exec-1", first.resolved, first.source, [spec(existing, world.role)]), first.source)
    log = ListTaskLog()
    functions = [
        spec(created, world.role),
        # 64 MB is below Lambda's minimum: UpdateFunctionConfiguration is refused after the code update.
        spec(existing, world.role, memorySize=64, tags={"team": "other"}),
    ]

    with pytest.raises(DeployFailed) as raised:
        run(world, payload("exec-2", second.resolved, second.source, functions), second.source, log)

    result = raised.value.result
    assert "lambda:UpdateFunctionConfiguration" in str(raised.value)
    assert existing in str(raised.value)
    assert "MemorySize" in str(raised.value)
    assert result.rollback is not None
    assert result.rollback.status == "SUCCEEDED"
    assert result.rollback.deleted == [created]
    assert result.rollback.functions == [existing]
    assert result.functions == []
    assert world.lambda_.get_function(created) is None
    assert aliases(world, existing) == {"dev": ("1", {})}
    assert [v.version for v in world.lambda_.list_versions(existing)] == ["1"]
    current = world.lambda_.get_function(existing)
    assert current is not None
    assert current.config.settings.memory_size == 128
    assert current.tags == {"team": "orders"}
    rollback_lines = lines(log, "Rollback")
    assert any(f"Function {created}: delete" in line for line in rollback_lines)
    assert any("$LATEST code stays at sha256" in line for line in rollback_lines)


def test_rollback_restores_an_earlier_successful_function_completely(world: World) -> None:
    good, bad, fresh = unique("fn-good"), unique("fn-bad"), unique("fn-fresh")
    first, second = world.artifact(app_zip("v1")), world.artifact(app_zip("v2"))
    run(world, payload("exec-1", first.resolved, first.source, [spec(good, world.role)]), first.source)
    log = ListTaskLog()
    functions = [
        spec(good, world.role, memorySize=512, tags={"team": "x", "extra": "y"}, environment={"LOG_LEVEL": "debug"}),
        spec(fresh, world.role),
        spec(bad, f"arn:aws:iam::123456789012:role/{unique('missing')}"),
    ]

    with pytest.raises(DeployFailed) as raised:
        run(world, payload("exec-2", second.resolved, second.source, functions), second.source, log)

    assert "lambda:CreateFunction on function " + bad in str(raised.value)
    report = raised.value.result.rollback
    assert report is not None
    assert (report.status, report.functions, report.deleted) == ("SUCCEEDED", [good], [fresh])
    assert aliases(world, good) == {"dev": ("1", {})}
    current = world.lambda_.get_function(good)
    assert current is not None
    assert current.config.settings.memory_size == 128
    assert dict(current.config.settings.environment) == {"LOG_LEVEL": "info"}
    assert current.tags == {"team": "orders"}
    # The version the failed run published stays (aliases no longer use it); nothing else remains.
    assert [v.version for v in world.lambda_.list_versions(good)] == ["1", "2"]
    assert world.lambda_.get_function(fresh) is None
    assert world.lambda_.get_function(bad) is None
    assert any(f"Function {good}: alias dev version 2 -> 1" in line for line in lines(log, "Rollback"))


def test_without_rollback_on_failure_functions_stay_as_they_are(world: World) -> None:
    created, bad = unique("fn-new"), unique("fn-bad")
    art = world.artifact(app_zip("v1"))
    functions = [spec(created, world.role), spec(bad, f"arn:aws:iam::123456789012:role/{unique('missing')}")]
    p = payload("exec-1", art.resolved, art.source, functions, rollbackOnFailure=False)

    with pytest.raises(DeployFailed) as raised:
        run(world, p, art.source)

    assert raised.value.result.rollback is None
    assert [f.name for f in raised.value.result.functions] == [created]
    assert aliases(world, created) == {"dev": ("1", {})}


def test_rollback_command_restores_aliases_routing_configuration_tags_and_masked_secrets(world: World) -> None:
    name = unique("fn")
    first, second = world.artifact(app_zip("v1")), world.artifact(app_zip("v2"))
    env = {"LOG_LEVEL": "info", "DB": "${secrets.DB_PASSWORD}"}
    run(world, payload("exec-1", first.resolved, first.source, [spec(name, world.role, environment=env)]), first.source)
    run(
        world,
        payload("exec-1b", first.resolved, first.source, [spec(name, world.role, environment=env, memorySize=192)]),
        first.source,
    )
    # A canary-style split left by someone else: 75% version 2, 25% version 1.
    world.boto("lambda").update_alias(
        FunctionName=name, Name="dev", FunctionVersion="2", RoutingConfig={"AdditionalVersionWeights": {"1": 0.25}}
    )
    new_env = {"LOG_LEVEL": "debug", "DB": "${secrets.DB_PASSWORD}"}
    result = run(
        world,
        payload(
            "exec-2",
            second.resolved,
            second.source,
            [spec(name, world.role, environment=new_env, memorySize=1024, tags={"team": "new"})],
        ),
        second.source,
    )
    assert aliases(world, name) == {"dev": ("3", {})}
    [snapshot] = result.snapshots
    assert snapshot.configuration["Environment"] == {"Variables": {"LOG_LEVEL": "info", "DB": "**********"}}
    stored = [FunctionSnapshot.model_validate_json(s.model_dump_json(by_alias=True)) for s in result.snapshots]
    log = ListTaskLog()

    outcome = rollback(
        LambdaRollbackPayload(executionId="exec-3", targetExecutionId="exec-2", region=REGION, snapshots=stored),
        aws=world.aws,
        log=log,
    )

    assert aliases(world, name) == {"dev": ("2", {"1": 0.25})}
    current = world.lambda_.get_function(name)
    assert current is not None
    assert current.config.settings.memory_size == 192
    assert dict(current.config.settings.environment) == {"LOG_LEVEL": "info", "DB": SECRET_VALUE}
    assert current.tags == {"team": "orders"}
    [fn] = outcome.functions
    assert (fn.name, fn.version, fn.changed, fn.aliases) == (name, "2", True, {"dev": "2"})
    assert outcome.deleted == []
    assert any("recovered 1 masked environment value(s) from version(s) 2" in line for line in lines(log))


def test_rollback_command_deletes_a_function_the_target_execution_created(world: World) -> None:
    name = unique("fn")
    art = world.artifact(app_zip("v1"))
    result = run(world, payload("exec-1", art.resolved, art.source, [spec(name, world.role)]), art.source)

    outcome = rollback(
        LambdaRollbackPayload(
            executionId="exec-2", targetExecutionId="exec-1", region=REGION, snapshots=result.snapshots
        ),
        aws=world.aws,
        log=ListTaskLog(),
    )

    assert outcome.deleted == [name]
    assert world.lambda_.get_function(name) is None


def test_rollback_command_restores_traffic_but_not_a_configuration_with_an_unrecoverable_mask(world: World) -> None:
    name = unique("fn")
    art = world.artifact(app_zip("v1"))
    run(world, payload("exec-1", art.resolved, art.source, [spec(name, world.role)]), art.source)
    run(world, payload("exec-2", art.resolved, art.source, [spec(name, world.role, memorySize=256)]), art.source)
    assert aliases(world, name) == {"dev": ("2", {})}
    snapshot = FunctionSnapshot(
        name=name,
        exists=True,
        configuration={
            "Runtime": "python3.12",
            "Handler": "app.handler",
            "Role": world.role,
            "MemorySize": 128,
            "Timeout": 3,
            "Environment": {"Variables": {"TOKEN": "**********"}},
        },
        tags={"team": "orders"},
        aliases={"dev": {"version": "1"}},  # type: ignore[dict-item]
    )

    with pytest.raises(RollbackFailed) as raised:
        rollback(
            LambdaRollbackPayload(executionId="e3", targetExecutionId="exec-2", region=REGION, snapshots=[snapshot]),
            aws=world.aws,
            log=ListTaskLog(),
        )

    assert "environment variable TOKEN is masked in the snapshot and no version an alias pointed to (1)" in str(
        raised.value
    )
    assert aliases(world, name) == {"dev": ("1", {})}  # traffic is back
    settings = world.lambda_.get_configuration(name).settings
    assert settings.memory_size == 256  # configuration untouched rather than restored with a mask in it
    assert "TOKEN" not in settings.environment
    assert [f.aliases for f in raised.value.result.functions] == [{"dev": "1"}]
