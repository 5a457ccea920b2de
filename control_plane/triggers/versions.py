"""Which listed versions are new for a trigger, and how each is named and pinned. Pure: no I/O.

Identity. A version's *name* is not always stable: in a versioned S3 bucket the current object of a
key is named after the key, and becomes `KEY@VERSIONID` once a newer object is written over it. So a
version is remembered by an identity that never changes: `KEY@VERSIONID` when S3 reports a version
id, `KEY#LASTMODIFIED` in an unversioned bucket (an overwrite is a new version), and the source's
own version string for every other source (Jenkins build, repository path).

Pinning. A trigger deploys exactly the object it saw: for S3 it asks for `KEY@VERSIONID`, so an
upload landing between collection and deployment cannot swap the bytes.

Baseline. The first listing a trigger sees (and the first after its workflow starts reading another
source) is recorded without deploying anything: people expect a new trigger to deploy what is
uploaded from now on, not every artifact already in the bucket.

Safety valve. If a listing shares no version at all with a non-empty seen set and offers more than
one "new" version, the source's naming changed under us (for instance the role lost
s3:ListBucketVersions and listing fell back to current objects only); the listing is recorded as a
new baseline, with a note, instead of redeploying everything it contains.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from control_plane.triggers.state import PendingStart, TriggerState
from shared.config import RenderedSource
from shared.payloads import (
    ArtifactorySource,
    ArtifactSource,
    CustomSource,
    JenkinsSource,
    NexusSource,
    ResolvedArtifact,
    S3Source,
)

VERSION_SEPARATOR = "@"  # the delegate's S3 source names older object versions KEY@VERSIONID


def identity(artifact: ResolvedArtifact) -> str:
    if artifact.s3_key and artifact.s3_version_id:
        return f"{artifact.s3_key}{VERSION_SEPARATOR}{artifact.s3_version_id}"
    if artifact.s3_key:
        return f"{artifact.s3_key}#{artifact.created_at or ''}"
    return artifact.version


def deploy_version(artifact: ResolvedArtifact) -> str:
    """The `--artifact` value that deploys exactly this version."""
    if artifact.s3_key and artifact.s3_version_id and VERSION_SEPARATOR not in artifact.version:
        return f"{artifact.s3_key}{VERSION_SEPARATOR}{artifact.s3_version_id}"
    return artifact.version


def _digest(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:20]


def job_key(source: RenderedSource) -> str:
    """One collection job per distinct (source, credentials, selectors): triggers sharing all three
    share a job and a listing."""
    return _digest({"source": source.source.model_dump(mode="json", by_alias=True), "selectors": source.selectors})


def content_fingerprint(source: ArtifactSource) -> str:
    """What is being listed, without how it is reached: a new role or region is not a new source."""
    data = source.model_dump(mode="json", by_alias=True, exclude={"credentials", "region", "timeout_seconds"})
    server = data.get("server")
    if isinstance(server, dict):
        data["server"] = {"url": server.get("url")}
    return _digest(data)


def describe(source: ArtifactSource) -> str:
    if isinstance(source, S3Source):
        return f"s3://{source.bucket}/{source.key}"
    if isinstance(source, JenkinsSource):
        return f"jenkins {source.server.name} job {source.job} ({source.path})"
    if isinstance(source, ArtifactorySource):
        return f"artifactory {source.server.name} {source.repository}/{source.path}"
    if isinstance(source, NexusSource):
        what = source.path if source.format == "raw" else f"{source.group_id}:{source.artifact_id}"
        return f"nexus {source.server.name} {source.repository} {what}"
    if isinstance(source, CustomSource):
        return "custom script " + " ".join(source.script)[:60]
    raise TypeError(f"unknown artifact source {source!r}")  # pragma: no cover - the union is closed


@dataclass
class ListingOutcome:
    started: list[PendingStart] = field(default_factory=list)
    """Starts queued by this listing, oldest first."""
    baseline: int | None = None
    """Set when the listing became the baseline: how many versions it recorded."""
    skipped: int = 0
    """New versions recorded without deploying because the trigger is paused."""
    note: str | None = None


def apply_listing(
    state: TriggerState,
    fingerprint: str,
    artifacts: Sequence[ResolvedArtifact],
    *,
    paused: bool,
    now: int,
    new_token: Callable[[], str],
) -> ListingOutcome:
    """Fold one listing (oldest first) into a trigger's state; returns what it changed."""
    ids = list(dict.fromkeys(identity(a) for a in artifacts))
    if not state.baselined or state.source != fingerprint:
        first = not state.baselined
        state.seen = []
        state.remember(ids)
        state.baselined, state.source, state.baseline_at = True, fingerprint, now
        state.note = (
            f"baseline: {len(ids)} existing version(s) recorded, not deployed"
            if first
            else f"artifact source changed: {len(ids)} version(s) recorded as the new baseline, not deployed"
        )
        return ListingOutcome(baseline=len(ids), note=state.note)
    seen = set(state.seen)
    fresh: list[ResolvedArtifact] = []
    fresh_ids: set[str] = set()
    for artifact in artifacts:
        ident = identity(artifact)
        if ident not in seen and ident not in fresh_ids:
            fresh.append(artifact)
            fresh_ids.add(ident)
    if not fresh:
        return ListingOutcome()
    if len(fresh) > 1 and seen and seen.isdisjoint(ids):
        state.remember(ids)
        state.note = (
            f"the source's listing shared no version with those seen before; {len(ids)} version(s) "
            "recorded as a new baseline, not deployed"
        )
        return ListingOutcome(baseline=len(ids), note=state.note)
    state.remember([identity(a) for a in fresh])
    state.note = None  # past the baseline: the note has served its purpose
    if paused:
        state.skipped_while_paused += len(fresh)
        return ListingOutcome(skipped=len(fresh))
    outcome = ListingOutcome()
    for artifact in fresh:
        start = PendingStart(
            token=new_token(),
            version=deploy_version(artifact),
            display=artifact.version,
            reason="newArtifact",
            detail=f"new artifact {artifact.version}",
            queued_at=now,
        )
        state.pending.append(start)
        outcome.started.append(start)
    return outcome
