"""The planner's rules, on synthetic snapshots: what changes, what is skipped, what is published."""

from __future__ import annotations

from delegate.aws.lambda_types import NO_VPC, VpcSettings
from delegate.lambda_.actions import (
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
)
from delegate.lambda_.planner import plan_deploy, tag_changes
from tests.unit.lambda_.lambda_unit_kit import MARKER, alias, code, config, desired, sha, snapshot


def kinds(plan: object) -> list[str]:
    return [type(a).__name__ for a in plan.actions if not isinstance(a, Note)]  # type: ignore[attr-defined]


def test_missing_function_is_created_waited_for_published_and_aliased() -> None:
    plan = plan_deploy(desired(aliases=["dev", "live"]), snapshot(None), code(), execution_id="exec-7")

    assert kinds(plan) == ["CreateFunction", "WaitUntilReady", "PublishVersion", "SetAlias", "SetAlias"]
    create = plan.actions[0]
    assert isinstance(create, CreateFunction)
    assert create.description == MARKER
    assert dict(create.tags) == {"team": "orders"}
    publish = plan.actions[2]
    assert isinstance(publish, PublishVersion)
    assert publish.description == "outrider execution exec-7"


def test_identical_code_and_configuration_plans_no_change_and_keeps_the_alias() -> None:
    published = config("4", description="outrider execution exec-1")
    snap = snapshot(config(), versions=(config("3", code_text="old"), published), aliases={"dev": alias("dev", "4")})

    plan = plan_deploy(desired(), snap, code(), execution_id="exec-7")

    assert not plan.has_changes
    assert kinds(plan) == ["UseVersion", "KeepAlias"]
    use = plan.actions[2]
    assert isinstance(use, UseVersion)
    assert (use.version, use.published_by_this_execution) == ("4", False)
    notes = [a.describe() for a in plan.actions if isinstance(a, Note)]
    assert notes[0] == f"Function shop-orders-dev: code unchanged (sha256 {code().sha256_hex[:12]}…), skipping update"
    assert "configuration unchanged" in notes[1]


def test_no_change_but_alias_elsewhere_moves_it_to_the_matching_version() -> None:
    snap = snapshot(
        config(),
        versions=(config("1"), config("2", MemorySize=256)),
        aliases={"dev": alias("dev", "2", {"1": 0.1})},
    )

    plan = plan_deploy(desired(), snap, code(), execution_id="exec-7")

    set_alias = next(a for a in plan.actions if isinstance(a, SetAlias))
    assert (set_alias.version, dict(set_alias.routing)) == ("1", {})
    assert set_alias.current is not None
    assert set_alias.current.version == "2"


def test_latest_matching_but_never_published_is_published() -> None:
    plan = plan_deploy(
        desired(), snapshot(config(), versions=(config("1", code_text="old"),)), code(), execution_id="e"
    )

    assert kinds(plan) == ["PublishVersion", "SetAlias"]


def test_version_published_by_this_execution_is_recognised() -> None:
    snap = snapshot(config(), versions=(config("5", description=MARKER),))

    plan = plan_deploy(desired(), snap, code(), execution_id="exec-7")

    use = next(a for a in plan.actions if isinstance(a, UseVersion))
    assert use.published_by_this_execution


def test_new_code_is_uploaded_waited_for_and_published() -> None:
    snap = snapshot(config(code_text="old"), aliases={"dev": alias("dev", "1")})

    plan = plan_deploy(desired(), snap, code("new"), execution_id="exec-7")

    assert kinds(plan) == ["UpdateCode", "WaitUntilReady", "PublishVersion", "SetAlias"]
    update = plan.actions[0]
    assert isinstance(update, UpdateCode)
    assert (update.previous_sha256, update.architecture) == (sha("old"), None)
    set_alias = plan.actions[-2] if isinstance(plan.actions[-1], Note) else plan.actions[-1]
    assert isinstance(set_alias, SetAlias)
    assert set_alias.version is None  # the version this plan publishes


def test_only_the_differing_configuration_fields_are_sent() -> None:
    plan = plan_deploy(desired(memorySize=256, timeout=30), snapshot(config()), code(), execution_id="e")

    assert kinds(plan) == ["UpdateConfiguration", "WaitUntilReady", "PublishVersion", "SetAlias"]
    update = plan.actions[1]
    assert isinstance(update, UpdateConfiguration)
    assert update.fields == ("memory_size", "timeout")
    assert update.update.to_request() == {"MemorySize": 256, "Timeout": 30}


def test_environment_is_compared_after_rendering_secrets() -> None:
    live = config(Environment={"Variables": {"LOG_LEVEL": "info", "PW": "hunter2"}})
    same = desired(environment={"LOG_LEVEL": "info", "PW": "${secrets.PW}"})

    assert not plan_deploy(
        same,
        snapshot(
            live,
            versions=(config("1", Environment={"Variables": {"LOG_LEVEL": "info", "PW": "hunter2"}}),),
            aliases={"dev": alias("dev", "1")},
        ),
        code(),
        execution_id="e",
    ).has_changes
    changed = desired(environment={"LOG_LEVEL": "info", "PW": "${secrets.PW}-2"})
    update = next(
        a
        for a in plan_deploy(changed, snapshot(live), code(), execution_id="e").actions
        if isinstance(a, UpdateConfiguration)
    )
    assert update.fields == ("environment",)
    assert "hunter2" not in update.describe()


def test_architecture_change_goes_through_update_code_with_the_same_code() -> None:
    plan = plan_deploy(desired(architecture="arm64"), snapshot(config()), code(), execution_id="e")

    update = plan.actions[0]
    assert isinstance(update, UpdateCode)
    assert update.architecture == "arm64"
    assert not any(isinstance(a, UpdateConfiguration) for a in plan.actions)
    assert isinstance(plan.actions[1], WaitUntilReady)


def test_vpc_removal_sends_empty_lists_and_vpc_order_does_not_matter() -> None:
    in_vpc = config(VpcConfig={"SubnetIds": ["subnet-b", "subnet-a"], "SecurityGroupIds": ["sg-1"], "VpcId": "vpc-1"})
    same = desired(vpc={"subnetIds": ["subnet-a", "subnet-b"], "securityGroupIds": ["sg-1"]})
    assert not any(
        isinstance(a, UpdateConfiguration)
        for a in plan_deploy(same, snapshot(in_vpc), code(), execution_id="e").actions
    )

    update = next(
        a
        for a in plan_deploy(desired(), snapshot(in_vpc), code(), execution_id="e").actions
        if isinstance(a, UpdateConfiguration)
    )
    assert update.update.vpc == NO_VPC
    assert update.update.to_request() == {"VpcConfig": {"SubnetIds": [], "SecurityGroupIds": []}}
    assert VpcSettings.of(["b", "a"], []) == VpcSettings(("a", "b"), ())


def test_tags_are_synced_without_touching_aws_keys() -> None:
    live_tags = {"team": "old", "stale": "1", "aws:cloudformation:stack-name": "s"}
    plan = plan_deploy(
        desired(tags={"team": "orders", "new": "x"}), snapshot(config(), tags=live_tags), code(), execution_id="e"
    )

    sync = next(a for a in plan.actions if isinstance(a, SyncTags))
    assert dict(sync.set_tags) == {"team": "orders", "new": "x"}
    assert sync.remove == ("stale",)
    assert sync.arn == "arn:aws:lambda:us-east-1:123456789012:function:shop-orders-dev"
    assert tag_changes({"aws:x": "1"}, {"aws:x": "2"}) == ({}, ())


def test_alias_already_right_is_kept() -> None:
    snap = snapshot(config(), versions=(config("2"),), aliases={"dev": alias("dev", "2")})
    plan = plan_deploy(desired(), snap, code(), execution_id="e")
    assert next(a for a in plan.actions if isinstance(a, KeepAlias)).version == "2"
    assert plan.describe()[-2] == "Function shop-orders-dev: alias dev already at version 2"
