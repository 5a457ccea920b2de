"""A task's result and error leave the delegate masked, like its log lines (no I/O: in-memory spool).

Whatever a handler returns or raises (an AWS error quoting a request, an exception carrying a
value), every registered secret and its encodings are masked in the (state, result, error) the
delegate reports to the control plane.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import pytest

from delegate.attempt import Attempt
from delegate.log_stream import LogStream
from delegate.secrets import MASK, Masker
from delegate.task_runner import SignatureCheck, TaskRunner
from delegate.tasks.registry import TaskCancelled, TaskContext, TaskFailed, TaskRegistry
from shared.pb.outrider.v1 import delegate_pb2

SECRET = "hunter2-db-p@ss/word"
TOKEN = "ordt_delegate-token-value"
Handler = Callable[[TaskContext], Awaitable[Mapping[str, Any]]]


class MemorySpool:
    """The one spool method LogStream uses on this path."""

    def __init__(self) -> None:
        self.batches: list[tuple[int, list[dict[str, Any]]]] = []

    def write_batch(self, seq: int, lines: list[dict[str, Any]]) -> None:
        self.batches.append((seq, lines))


def _run(handler: Handler) -> tuple[Any, MemorySpool]:
    masker = Masker()
    masker.add(SECRET)
    masker.add(TOKEN)
    registry = TaskRegistry()
    registry.register("test.task", handler)
    runner = TaskRunner(registry, SignatureCheck(None, required=False), lambda attempt: {"masker": masker})
    spool = MemorySpool()

    async def scenario() -> Any:
        stream = LogStream(spool, masker.mask)  # type: ignore[arg-type]
        attempt = Attempt("t-1", 1, "lease", "test.task", "", spool, stream, 30.0, 1.0)  # type: ignore[arg-type]
        outcome = await runner.run(attempt, delegate_pb2.Task(task_id="t-1", attempt=1, type="test.task"))
        stream.cut()
        return outcome

    return asyncio.run(scenario()), spool


async def _fails(ctx: TaskContext) -> Mapping[str, Any]:
    raise TaskFailed(
        f'lambda:UpdateFunctionConfiguration failed: String measured: {{"DB": "{SECRET}"}}',
        {"functions": [{"error": f"quoted {SECRET}"}], "auth": base64.b64encode(SECRET.encode()).decode()},
    )


async def _crashes(ctx: TaskContext) -> Mapping[str, Any]:
    raise RuntimeError(f"unexpected: token {TOKEN} and secret {SECRET}")


async def _cancelled(ctx: TaskContext) -> Mapping[str, Any]:
    raise TaskCancelled(f"cancelled while using {SECRET}", {"partial": [SECRET]})


async def _succeeds(ctx: TaskContext) -> Mapping[str, Any]:
    ctx.log.info(f"using {SECRET}")
    return {"echo": SECRET, "nested": [{"url": f"https://u:{SECRET}@host/"}], SECRET: "as a key"}


@pytest.mark.parametrize(
    ("handler", "state"),
    [(_fails, "FAILED"), (_crashes, "FAILED"), (_cancelled, "CANCELLED"), (_succeeds, "SUCCEEDED")],
)
def test_results_errors_and_log_lines_are_masked(handler: Handler, state: str) -> None:
    outcome, spool = _run(handler)
    assert outcome is not None
    reported_state, result, error = outcome
    assert reported_state == state
    reported = repr(result) + error + repr(spool.batches)
    for value in (SECRET, TOKEN, base64.b64encode(SECRET.encode()).decode().rstrip("=")):
        assert value not in reported
    assert MASK in reported  # something was there to mask: the test is not vacuous
