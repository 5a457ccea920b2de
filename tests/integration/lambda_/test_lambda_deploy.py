"""Deployments against a real moto server over HTTP: create, update, no-op, retries, tags."""

from __future__ import annotations

import base64

import pytest

from delegate.aws import AwsFactory
from delegate.lambda_ import DeployCancelled, deploy, execution_marker
from delegate.tasklog import ListTaskLog
from shared.payloads import LambdaDeployPayload, LambdaDeployResult
from tests.integration.lambda_.lambda_kit import (
    SECRET_VALUE,
    World,
    app_zip,
    lines,
    mask,
    never,
    payload,
    render_secrets,
    sections,
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


def test_first_deploy_creates_function_and_alias_at_version_1(world: World) -> None:
    name = unique("shop-orders-dev")
    art = world.artifact(app_zip("v1"))
    log = ListTaskLog()

    result = run(world, payload("exec-1", art.resolved, art.source, [spec(name, world.role)]), art.source, log)

    assert result.changed is True
    [fn] = result.functions
    assert (fn.name, fn.version, fn.created, fn.aliases) == (name, "1", True, {"dev": "1"})
    config = world.lambda_.get_configuration(name)
    assert config.code_sha256 == fn.code_sha256
    assert bytes.fromhex(art.resolved.sha256 or "") == base64.b64decode(config.code_sha256)
    versions = world.lambda_.list_versions(name)
    assert [(v.version, v.description) for v in versions] == [("1", execution_marker("exec-1"))]
    assert {a.name: a.function_version for a in world.lambda_.list_aliases(name)} == {"dev": "1"}
    assert world.lambda_.get_function(name).tags == {"team": "orders"}  # type: ignore[union-attr]
    # The snapshot says the function did not exist: that is what a rollback restores.
    assert [(s.name, s.exists) for s in result.snapshots] == [(name, False)]
    assert sections(log)[:3] == ["Fetch artifact", "Snapshot", "Update code"]
    assert any("does not exist; it will be created" in line for line in lines(log, "Snapshot"))
    assert any("create alias dev -> version 1" in line for line in lines(log, "Aliases"))


def test_second_artifact_publishes_version_2_and_moves_alias(world: World) -> None:
    name = unique("fn")
    first, second = world.artifact(app_zip("v1")), world.artifact(app_zip("v2"))
    run(world, payload("exec-1", first.resolved, first.source, [spec(name, world.role)]), first.source)
    log = ListTaskLog()

    result = run(world, payload("exec-2", second.resolved, second.source, [spec(name, world.role)]), second.source, log)

    [fn] = result.functions
    assert (fn.version, fn.changed, fn.created, fn.aliases) == ("2", True, False, {"dev": "2"})
    assert [v.version for v in world.lambda_.list_versions(name)] == ["1", "2"]
    assert world.lambda_.list_versions(name)[-1].description == execution_marker("exec-2")
    assert {a.name: a.function_version for a in world.lambda_.list_aliases(name)} == {"dev": "2"}
    [snap] = result.snapshots
    assert snap.exists
    assert snap.aliases["dev"].version == "1"
    assert any("update code sha256" in line for line in lines(log, "Update code"))
    assert any("alias dev version 1 -> 2" in line for line in lines(log, "Aliases"))
    assert any("configuration unchanged" in line for line in lines(log, "Update configuration"))


def test_same_artifact_and_configuration_again_changes_nothing(world: World) -> None:
    name = unique("fn")
    art = world.artifact(app_zip("v1"))
    functions = [spec(name, world.role, environment={"DB": "${secrets.DB_PASSWORD}"})]
    run(world, payload("exec-1", art.resolved, art.source, functions), art.source)
    log = ListTaskLog()

    result = run(world, payload("exec-2", art.resolved, art.source, functions), art.source, log)

    assert result.changed is False
    [fn] = result.functions
    assert (fn.version, fn.changed, fn.aliases) == ("1", False, {"dev": "1"})
    assert [v.version for v in world.lambda_.list_versions(name)] == ["1"]
    text = lines(log)
    assert any("code unchanged (sha256 " in line and "skipping update" in line for line in text)
    assert any("alias dev already at version 1" in line for line in text)
    assert any(line.startswith("No changes") for line in text)
    # Secret values were compared after rendering, and never written to the result.
    assert world.lambda_.get_configuration(name).settings.environment["DB"] == SECRET_VALUE
    assert result.snapshots[0].configuration["Environment"] == {"Variables": {"DB": "**********"}}
    assert SECRET_VALUE not in result.model_dump_json()


def test_memory_change_only_updates_configuration_and_publishes(world: World) -> None:
    name = unique("fn")
    art = world.artifact(app_zip("v1"))
    run(world, payload("exec-1", art.resolved, art.source, [spec(name, world.role)]), art.source)
    log = ListTaskLog()

    result = run(
        world, payload("exec-2", art.resolved, art.source, [spec(name, world.role, memorySize=256)]), art.source, log
    )

    [fn] = result.functions
    assert (fn.version, fn.changed, fn.aliases) == ("2", True, {"dev": "2"})
    assert world.lambda_.get_configuration(name).settings.memory_size == 256
    assert world.lambda_.get_configuration(name, qualifier="2").settings.memory_size == 256
    assert world.lambda_.get_configuration(name, qualifier="1").settings.memory_size == 128
    assert any("update configuration (memory_size)" in line for line in lines(log, "Update configuration"))
    assert [line for line in lines(log, "Update code") if "skipping update" not in line] == []
    assert lines(log, "Update code")


def test_tag_sync_removes_stale_tags_and_keeps_aws_tags(world: World) -> None:
    name = unique("fn")
    art = world.artifact(app_zip("v1"))
    run(
        world,
        payload("exec-1", art.resolved, art.source, [spec(name, world.role, tags={"team": "a", "stale": "x"})]),
        art.source,
    )
    arn = world.lambda_.get_configuration(name).unqualified_arn
    world.boto("lambda").tag_resource(Resource=arn, Tags={"aws:cloudformation:stack-name": "legacy"})
    log = ListTaskLog()

    result = run(
        world,
        payload("exec-2", art.resolved, art.source, [spec(name, world.role, tags={"team": "b"})]),
        art.source,
        log,
    )

    assert world.lambda_.get_function(name).tags == {  # type: ignore[union-attr]
        "team": "b",
        "aws:cloudformation:stack-name": "legacy",
    }
    assert result.changed is True
    assert [v.version for v in world.lambda_.list_versions(name)] == ["1"]  # tags alone publish nothing
    assert lines(log, "Tags") == [f"Function {name}: tags: set team; remove stale"]


def test_retried_attempt_reuses_the_version_it_published(world: World) -> None:
    name = unique("fn")
    first, second = world.artifact(app_zip("v1")), world.artifact(app_zip("v2"))
    run(world, payload("exec-1", first.resolved, first.source, [spec(name, world.role)]), first.source)
    p = payload("exec-2", second.resolved, second.source, [spec(name, world.role)], rollbackOnFailure=False)
    attempt1 = ListTaskLog()

    # Attempt 1 is stopped (lease lost) right after publishing, before moving the alias.
    def stop_after_publish() -> bool:
        return any(": published version" in text for _s, _l, text in attempt1.lines)

    with pytest.raises(DeployCancelled):
        deploy(
            p,
            aws=world.aws,
            source=second.source,
            log=attempt1,
            render_secrets=render_secrets,
            mask=mask,
            should_stop=stop_after_publish,
        )
    assert [v.version for v in world.lambda_.list_versions(name)] == ["1", "2"]
    assert {a.name: a.function_version for a in world.lambda_.list_aliases(name)} == {"dev": "1"}

    attempt2 = ListTaskLog()
    result = run(world, p, second.source, attempt2)

    assert [v.version for v in world.lambda_.list_versions(name)] == ["1", "2"]
    [fn] = result.functions
    assert (fn.version, fn.changed, fn.aliases) == ("2", True, {"dev": "2"})
    assert any("published by an earlier attempt of this execution" in line for line in lines(attempt2))


def test_retried_attempt_after_create_still_counts_the_function_as_created(world: World) -> None:
    name = unique("fn")
    art = world.artifact(app_zip("v1"))
    p = payload("exec-9", art.resolved, art.source, [spec(name, world.role)], rollbackOnFailure=False)
    attempt1 = ListTaskLog()
    with pytest.raises(DeployCancelled):
        deploy(
            p,
            aws=world.aws,
            source=art.source,
            log=attempt1,
            render_secrets=render_secrets,
            mask=mask,
            should_stop=lambda: any(": published version" in t for _s, _l, t in attempt1.lines),
        )

    result = run(world, p, art.source, ListTaskLog())

    [fn] = result.functions
    assert (fn.version, fn.created, fn.aliases) == ("1", True, {"dev": "1"})
    assert [v.version for v in world.lambda_.list_versions(name)] == ["1"]
    # Still "did not exist" for rollback purposes: `outrider rollback exec-9` deletes it.
    assert [(s.name, s.exists) for s in result.snapshots] == [(name, False)]


def test_cancel_before_anything_changes_leaves_aws_untouched(world: World, aws: AwsFactory) -> None:
    name = unique("fn")
    art = world.artifact(app_zip("v1"))
    with pytest.raises(DeployCancelled) as raised:
        deploy(
            payload("exec-1", art.resolved, art.source, [spec(name, world.role)]),
            aws=aws,
            source=art.source,
            log=ListTaskLog(),
            render_secrets=render_secrets,
            mask=mask,
            should_stop=lambda: True,
        )
    assert world.lambda_.get_function(name) is None
    assert raised.value.result.rollback is None
    assert raised.value.result.error == "cancelled before the snapshot"


@pytest.mark.parametrize("roll_back", [True, False])
def test_stop_mid_run_rolls_back_only_when_asked(world: World, roll_back: bool) -> None:
    name = unique("fn")
    art = world.artifact(app_zip("v1"))
    log = ListTaskLog()

    with pytest.raises(DeployCancelled) as raised:
        deploy(
            payload("exec-1", art.resolved, art.source, [spec(name, world.role)]),
            aws=world.aws,
            source=art.source,
            log=log,
            render_secrets=render_secrets,
            mask=mask,
            should_stop=lambda: any(": published version" in t for _s, _l, t in log.lines),
            rollback_when_stopped=lambda: roll_back,  # operator cancel: yes; lease in doubt: no
        )

    report = raised.value.result.rollback
    if roll_back:
        assert report is not None
        assert report.deleted == [name]
        assert world.lambda_.get_function(name) is None
    else:
        assert report is None
        assert [v.version for v in world.lambda_.list_versions(name)] == ["1"]  # left for the next attempt
        assert any("Stopped without rollback" in line for line in lines(log))
