"""Durable trigger state in the store's `trigger_state` table, changed only by compare-and-set.

Two kinds of rows, both JSON documents:

- `trigger:APP/NAME` (`TriggerState`): the versions a newArtifact trigger has seen, the executions it
  still has to start (`pending`, oldest first), the last ones it started, the operator's pause and
  the last cron slot fired.
- `source:KEY` (`SourceState`): one artifact source's collection: the `artifact.list` task in flight,
  when the next round is due, last success, last error and consecutive failures.

`StateStore.mutate` reads a row, applies a pure change function to a fresh copy and writes it back
with compare-and-set on `updated_at`; when another writer (a task of this process, or another
replica) got there first it reads again and re-applies the change. Change functions therefore
look only at the state they are given (and values captured before the call), and report what
they did through the return value of the attempt that won. Every call is blocking: run it
through `ServerContext.db`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from control_plane.store import Store
from control_plane.store.models import TriggerStateRow
from shared.clock import Clock

SEEN_CAP = 5000
"""Identities remembered per trigger. A source lists at most 100 versions, newest last, so a version
forgotten here would have to outlive 4900 newer uploads before it could be mistaken for a new one."""
HISTORY_CAP = 20
CAS_ATTEMPTS = 50


class _Model(BaseModel):
    # Unknown keys are dropped rather than refused: a newer replica may have written the row.
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class PendingStart(_Model):
    """An execution the trigger has decided to start and has not yet recorded as started."""

    token: str
    """Idempotency key; also written into the execution's cause, so a started execution can be found."""
    version: str | None = None
    """What `--artifact` to deploy; None for the latest."""
    display: str = ""
    """The version as people read it (the source's own name for it)."""
    reason: Literal["newArtifact", "cron"] = "newArtifact"
    detail: str = ""
    queued_at: int = Field(default=0, alias="queuedAt")
    claimed_by: str = Field(default="", alias="claimedBy")
    claimed_at: int = Field(default=0, alias="claimedAt")
    """Set the first time someone tried to start it; from then on, look for its execution first."""
    claimed_until: int = Field(default=0, alias="claimedUntil")
    attempts: int = 0


class StartRecord(_Model):
    """What became of a start: the execution it created, or why none was created."""

    token: str
    version: str | None = None
    display: str = ""
    reason: str = ""
    execution_id: str | None = Field(default=None, alias="executionId")
    error: str | None = None
    at: int = 0


class TriggerState(_Model):
    baselined: bool = False
    """The first successful collection records what exists without deploying it."""
    source: str = ""
    """Fingerprint of the listed source when the baseline was taken; another one means re-baseline."""
    baseline_at: int = Field(default=0, alias="baselineAt")
    seen: list[str] = Field(default_factory=list)
    pending: list[PendingStart] = Field(default_factory=list)
    history: list[StartRecord] = Field(default_factory=list)
    last_execution_id: str | None = Field(default=None, alias="lastExecutionId")
    paused: bool = False
    """Paused by an operator (`outrider triggers pause`); `spec.paused` in the document also pauses."""
    paused_by: str = Field(default="", alias="pausedBy")
    paused_at: int = Field(default=0, alias="pausedAt")
    skipped_while_paused: int = Field(default=0, alias="skippedWhilePaused")
    cron_slot: int = Field(default=0, alias="cronSlot")
    """Start of the last cron minute handled (by any replica)."""
    last_run: int = Field(default=0, alias="lastRun")
    last_success: int = Field(default=0, alias="lastSuccess")
    error: str | None = None
    """The last failure to start an execution; cleared by the next successful start."""
    error_at: int = Field(default=0, alias="errorAt")
    note: str | None = None
    """Something worth telling the operator that is not an error (e.g. a re-baseline)."""

    def remember(self, identities: list[str]) -> None:
        known = set(self.seen)
        self.seen.extend(i for i in dict.fromkeys(identities) if i not in known)
        del self.seen[:-SEEN_CAP]

    def finish(self, record: StartRecord) -> None:
        """Move a pending start into the history."""
        self.pending = [p for p in self.pending if p.token != record.token]
        self.history.append(record)
        del self.history[:-HISTORY_CAP]


class SourceState(_Model):
    in_flight: str | None = Field(default=None, alias="inFlight")
    """The `artifact.list` task of the round under way."""
    in_flight_since: int = Field(default=0, alias="inFlightSince")
    next_run: int = Field(default=0, alias="nextRun")
    last_run: int = Field(default=0, alias="lastRun")
    last_success: int = Field(default=0, alias="lastSuccess")
    last_error: str | None = Field(default=None, alias="lastError")
    last_error_at: int = Field(default=0, alias="lastErrorAt")
    consecutive_failures: int = Field(default=0, alias="consecutiveFailures")
    versions: int = 0
    latest: str | None = None


M = TypeVar("M", bound=_Model)
R = TypeVar("R")


class StateContention(Exception):
    """A row kept changing under us for CAS_ATTEMPTS rounds; the caller retries on its next tick."""


def trigger_key(application: str, name: str) -> str:
    return f"trigger:{application}/{name}"


def source_key(job_key: str) -> str:
    return f"source:{job_key}"


class StateStore:
    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    def read(self, key: str, model: type[M]) -> M:
        row = self._store.get_trigger_state(key)
        return model.model_validate_json(row.document) if row else model()

    def mutate(self, key: str, model: type[M], change: Callable[[M], R | None]) -> R | None:
        """Apply `change` to the current state and store it; None from `change` means "nothing to write".

        Returns what the winning attempt of `change` returned.
        """
        for _ in range(CAS_ATTEMPTS):
            row = self._store.get_trigger_state(key)
            state = model.model_validate_json(row.document) if row else model()
            outcome = change(state)
            if outcome is None:
                return None
            # updated_at is the CAS version: it must move even when the clock did not.
            updated_at = max(self._clock(), row.updated_at + 1) if row else self._clock()
            document = state.model_dump_json(by_alias=True)
            if self._store.put_trigger_state(
                TriggerStateRow(key, document, updated_at), row.updated_at if row else None
            ):
                return outcome
        raise StateContention(f"trigger state {key} kept changing; will try again")
