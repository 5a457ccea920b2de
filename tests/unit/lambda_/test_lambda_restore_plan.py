"""Restore plans and snapshot payloads: what a rollback would do, and what leaves the delegate."""

from __future__ import annotations

from delegate.aws.lambda_types import FunctionInfo
from delegate.lambda_.actions import DeleteAlias, DeleteFunction, Note, SetAlias, SyncTags, UpdateConfiguration
from delegate.lambda_.rollback import plan_restore
from delegate.lambda_.snapshot import MASK, settings_from_dict, target_from_payload
from tests.unit.lambda_.lambda_unit_kit import alias, config, sha, snapshot


def test_function_that_did_not_exist_is_deleted() -> None:
    target = snapshot(None).restore_target()
    plan = plan_restore(target, FunctionInfo(config(), {}), [alias("dev", "1")])
    assert [type(a) for a in plan.actions] == [DeleteFunction]


def test_function_created_by_an_earlier_attempt_counts_as_missing() -> None:
    target = snapshot(config(), existed_before=False).restore_target()
    assert not target.exists
    assert not snapshot(config(), existed_before=False).to_payload(lambda v: v).exists


def test_aliases_configuration_and_tags_go_back_traffic_first() -> None:
    before = snapshot(
        config(MemorySize=128),
        aliases={"dev": alias("dev", "1", {"2": 0.1}), "live": alias("live", "1")},
        tags={"team": "orders", "aws:cloudformation:stack-name": "s"},
    ).restore_target()
    now = FunctionInfo(
        config(MemorySize=512, code_text="new"), {"team": "x", "extra": "1", "aws:cloudformation:stack-name": "s"}
    )

    plan = plan_restore(before, now, [alias("dev", "3"), alias("canary", "3")], delete_aliases={"canary"})

    mutating = [a for a in plan.actions if a.mutates]
    assert [type(a).__name__ for a in mutating] == [
        "SetAlias",
        "SetAlias",
        "DeleteAlias",
        "UpdateConfiguration",
        "SyncTags",
    ]
    dev, live = mutating[0], mutating[1]
    assert isinstance(dev, SetAlias)
    assert (dev.alias, dev.version, dict(dev.routing)) == ("dev", "1", {"2": 0.1})
    assert isinstance(live, SetAlias)
    assert (live.alias, live.current) == ("live", None)
    assert isinstance(mutating[2], DeleteAlias)
    update = mutating[3]
    assert isinstance(update, UpdateConfiguration)
    assert update.update.to_request() == {"MemorySize": 128}
    tags = mutating[4]
    assert isinstance(tags, SyncTags)
    assert (dict(tags.set_tags), tags.remove) == ({"team": "orders"}, ("extra",))
    notes = [a.describe() for a in plan.actions if isinstance(a, Note)]
    assert any("$LATEST code stays at sha256" in n for n in notes)


def test_alias_not_in_snapshot_is_left_alone_by_a_manual_rollback() -> None:
    before = snapshot(config(), aliases={"dev": alias("dev", "1")}).restore_target()
    plan = plan_restore(before, FunctionInfo(config(), {"team": "orders"}), [alias("dev", "1"), alias("other", "2")])
    assert not any(a.mutates for a in plan.actions)
    assert any("alias other is not in the snapshot; left as it is" in a.describe() for a in plan.actions)


def test_payload_masks_secret_values_and_round_trips() -> None:
    live = config(Environment={"Variables": {"LOG_LEVEL": "info", "PW": "hunter2", "URL": "pg://u:hunter2@h"}})
    snap = snapshot(live, aliases={"dev": alias("dev", "3", {"2": 0.5})})

    payload = snap.to_payload(lambda v: v.replace("hunter2", MASK), secret_keys=frozenset({"URL"}))

    assert payload.configuration["Environment"] == {"Variables": {"LOG_LEVEL": "info", "PW": MASK, "URL": MASK}}
    assert payload.code_sha256 == sha("v1")
    assert payload.aliases["dev"].routing == {"2": 0.5}
    target = target_from_payload(payload)
    assert target.settings is not None
    assert target.settings.memory_size == 128
    assert dict(target.aliases["dev"].routing) == {"2": 0.5}
    assert settings_from_dict(payload.configuration).differing_fields(live.settings) == ("environment",)
