"""Which listed versions are new for a trigger (pure: no I/O)."""

from __future__ import annotations

import itertools

from control_plane.triggers.state import SEEN_CAP, TriggerState
from control_plane.triggers.versions import (
    ListingOutcome,
    apply_listing,
    content_fingerprint,
    deploy_version,
    identity,
    job_key,
)
from shared.config import RenderedSource
from shared.payloads import AssumeRoleCredentials, ResolvedArtifact, S3Source

_tokens = (f"ti-{n}" for n in itertools.count())


def s3(
    key: str, version_id: str | None, *, latest: bool = True, created: str = "2024-01-01T00:00:00"
) -> ResolvedArtifact:
    version = key if latest or version_id is None else f"{key}@{version_id}"
    return ResolvedArtifact(version=version, s3_bucket="b", s3_key=key, s3_version_id=version_id, created_at=created)


def fold(
    state: TriggerState, listing: list[ResolvedArtifact], *, paused: bool = False, fp: str = "fp"
) -> ListingOutcome:
    return apply_listing(state, fp, listing, paused=paused, now=1, new_token=lambda: next(_tokens))


def test_first_listing_is_a_baseline_then_new_versions_start_in_order() -> None:
    state = TriggerState()
    first = fold(state, [s3("a.zip", "1")])
    assert first.baseline == 1 and first.started == [] and state.pending == []
    assert state.note and "not deployed" in state.note

    outcome = fold(state, [s3("a.zip", "1"), s3("b.zip", "2"), s3("c.zip", "3")])
    assert [p.version for p in outcome.started] == ["b.zip@2", "c.zip@3"]
    assert [p.display for p in state.pending] == ["b.zip", "c.zip"]
    assert fold(state, [s3("a.zip", "1"), s3("b.zip", "2"), s3("c.zip", "3")]) == ListingOutcome()


def test_an_overwritten_key_is_a_new_version_and_its_old_name_is_not() -> None:
    state = TriggerState()
    fold(state, [s3("app.zip", "1")])
    # The old object is now listed as app.zip@1 and the new one as app.zip: only the new one is new.
    outcome = fold(state, [s3("app.zip", "1", latest=False), s3("app.zip", "2")])
    assert [p.version for p in outcome.started] == ["app.zip@2"]
    assert [p.display for p in outcome.started] == ["app.zip"]


def test_unversioned_bucket_overwrite_is_new_by_its_modification_time() -> None:
    state = TriggerState()
    fold(state, [s3("app.zip", None, created="2024-01-01T00:00:00")])
    outcome = fold(state, [s3("app.zip", None, created="2024-01-02T00:00:00")])
    assert [p.version for p in outcome.started] == ["app.zip"]  # nothing to pin: the current object


def test_other_sources_are_known_by_their_version_string() -> None:
    state = TriggerState()
    fold(state, [ResolvedArtifact(version="41", url="http://j/41.zip")])
    outcome = fold(state, [ResolvedArtifact(version="41"), ResolvedArtifact(version="42")])
    assert [p.version for p in outcome.started] == ["42"]
    assert identity(ResolvedArtifact(version="42")) == "42" and deploy_version(ResolvedArtifact(version="42")) == "42"


def test_paused_trigger_records_new_versions_without_starting_them() -> None:
    state = TriggerState()
    fold(state, [s3("a.zip", "1")])
    outcome = fold(state, [s3("a.zip", "1"), s3("b.zip", "2")], paused=True)
    assert outcome.skipped == 1 and state.pending == [] and state.skipped_while_paused == 1
    assert fold(state, [s3("a.zip", "1"), s3("b.zip", "2")]) == ListingOutcome()  # not deployed on resume


def test_another_source_is_a_new_baseline() -> None:
    state = TriggerState()
    fold(state, [s3("a.zip", "1")], fp="one")
    outcome = fold(state, [s3("x.zip", "7"), s3("y.zip", "8")], fp="two")
    assert outcome.baseline == 2 and state.pending == [] and state.note and "source changed" in state.note


def test_safety_valve_when_no_listed_version_was_ever_seen() -> None:
    state = TriggerState()
    fold(state, [s3("a.zip", "1"), s3("b.zip", "2")])
    # e.g. the role lost s3:ListBucketVersions: every identity changes at once.
    outcome = fold(state, [s3("a.zip", None), s3("b.zip", None)])
    assert outcome.started == [] and outcome.baseline == 2 and state.note and "shared no version" in state.note
    # A single new version with nothing else listed is a normal replacement, and deploys.
    state = TriggerState()
    fold(state, [s3("a.zip", "1")])
    assert [p.version for p in fold(state, [s3("b.zip", "2")]).started] == ["b.zip@2"]


def test_seen_set_is_bounded() -> None:
    state = TriggerState()
    state.remember([f"k{n}" for n in range(SEEN_CAP + 10)])
    assert len(state.seen) == SEEN_CAP and state.seen[-1] == f"k{SEEN_CAP + 9}"


def test_fingerprints_ignore_how_a_source_is_reached_but_jobs_do_not() -> None:
    plain = S3Source(bucket="b", key="k/*.zip", region="us-east-1")
    role = S3Source(
        bucket="b",
        key="k/*.zip",
        region="eu-west-1",
        credentials=AssumeRoleCredentials(role_arn="arn:aws:iam::1:role/r"),
    )
    assert content_fingerprint(plain) == content_fingerprint(role)
    assert content_fingerprint(plain) != content_fingerprint(
        S3Source(bucket="b", key="other/*.zip", region="us-east-1")
    )
    assert job_key(RenderedSource(plain, ["aws"])) != job_key(RenderedSource(role, ["aws"]))
    assert job_key(RenderedSource(plain, ["aws"])) != job_key(RenderedSource(plain, ["aws", "prod"]))
