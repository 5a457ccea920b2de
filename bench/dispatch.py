"""Benchmark (b): dispatch latency, from a task being queued to a long-polling delegate receiving it.

One bare delegate (bench.clients.BareDelegate) registers and long-polls over real gRPC. For each
sample: start a PollTask, wait until the control plane reports the poll parked (its
`outrider_polls_waiting` gauge), submit one no-op task, and stamp three moments in this one event
loop: SubmitTask sent (t0), SubmitTask returned (t1), PollTask returned the task (t2). The task is
then completed (untimed) so the queue is empty for the next sample.

t2 - t1 is the dispatch latency as specified. The server wakes the poller inside SubmitTask, before
it writes the audit row and answers, so the task can reach the delegate before SubmitTask returns:
those samples are counted (`overtook_submit`) and their latency is negative. t2 - t0 bounds the
latency from above (it includes the whole SubmitTask call).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from bench.clients import AsyncOperator, BareDelegate, channel
from bench.procs import ControlPlane
from bench.stats import Latency
from bench.waits import poll_until

POLL_WAIT_MS = 60_000
WARMUP_SAMPLES = 20
PARK_TIMEOUT_S = 10.0
SETTLE_S = 0.005
"""After the gauge shows the poll, let its first (empty) claim finish so the task meets a parked poll."""


@dataclass(frozen=True)
class DispatchResult:
    store: str
    after_submit: Latency
    """SubmitTask returned -> PollTask returned the task (t2 - t1)."""
    from_submit_start: Latency
    """SubmitTask sent -> PollTask returned the task (t2 - t0)."""
    submit: Latency
    """SubmitTask round trip (t1 - t0)."""
    overtook_submit: int
    """Samples where the task arrived before SubmitTask returned."""


async def measure_dispatch(cp: ControlPlane, store: str, samples: int) -> DispatchResult:
    # Two connections, as an operator and a delegate would have.
    op_chan, delegate_chan = channel(cp.address), channel(cp.address)
    try:
        operator = AsyncOperator(op_chan, cp.api_key)
        delegate = BareDelegate(delegate_chan, await operator.create_token("bench-dispatch"))
        await delegate.register("bench-dispatch")
        after, start, submit = [], [], []
        overtook = 0
        for i in range(WARMUP_SAMPLES + samples):
            t0, t1, t2 = await _one_sample(cp, operator, delegate)
            if i < WARMUP_SAMPLES:
                continue
            after.append(t2 - t1)
            start.append(t2 - t0)
            submit.append(t1 - t0)
            overtook += t2 < t1
        return DispatchResult(store, Latency.of(after), Latency.of(start), Latency.of(submit), overtook)
    finally:
        await op_chan.close()
        await delegate_chan.close()


async def _one_sample(cp: ControlPlane, operator: AsyncOperator, delegate: BareDelegate) -> tuple[float, float, float]:
    call = delegate.poll(POLL_WAIT_MS)

    async def receive() -> tuple[object, float]:
        response = await call
        return response, time.perf_counter()

    received = asyncio.create_task(receive())
    try:
        await _until_parked(cp)
        t0 = time.perf_counter()
        task_id = await operator.submit_noop()
        t1 = time.perf_counter()
        response, t2 = await asyncio.wait_for(received, PARK_TIMEOUT_S)
    finally:
        call.cancel()  # a no-op once it returned; otherwise the poll must not outlive the sample
        await asyncio.gather(received, return_exceptions=True)
    task = response.task  # type: ignore[attr-defined]
    if task.task_id != task_id:
        raise RuntimeError(f"delegate received {task.task_id or 'nothing'}, expected {task_id}")
    await delegate.succeed(task)
    return t0, t1, t2


async def _until_parked(cp: ControlPlane) -> None:
    await poll_until(lambda: cp.polls_waiting() >= 1, PARK_TIMEOUT_S, "the PollTask to reach the control plane", 0.001)
    await asyncio.sleep(SETTLE_S)
