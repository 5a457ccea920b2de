"""Benchmark (d): many idle delegate sessions long-polling one control plane; its resident memory.

Each session is a bare delegate (bench.clients.BareDelegate) that registers under its own name and
then keeps one PollTask outstanding, polling again whenever one comes back, as a real idle delegate
does. Sessions share a few dozen channels (HTTP/2 connections), many calls per channel. Once the
server's `outrider_polls_waiting` gauge shows every session parked, the bench reads VmRSS (and the
peak, VmHWM) of the server process from /proc.

Registration is bounded: the sessions registered within REGISTER_LIMIT_S go on to poll, and a
shortfall shows in the result (and fails the target) instead of stretching the run.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from dataclasses import dataclass, field

import grpc

from bench.clients import AsyncOperator, BareDelegate, channel
from bench.procs import ControlPlane
from shared.retry import is_retryable

PARK_TIMEOUT_S = 180.0
SETTLE_S = 1.0
REGISTER_CONCURRENCY = 64
REGISTER_LIMIT_S = 120.0
BACKOFF_BASE_S = 0.25
BACKOFF_MAX_S = 15.0


@dataclass(frozen=True)
class IdleResult:
    sessions: int
    """Sessions asked for."""
    registered: int
    """Sessions that registered within REGISTER_LIMIT_S (only these poll)."""
    channels: int
    parked: int
    rss_idle_kib: int
    """Server RSS after start, before any session."""
    rss_kib: int
    """Server RSS with every session parked."""
    peak_rss_kib: int
    register_seconds: float
    register_concurrency: int
    park_seconds: float
    refused_polls: dict[str, int] = field(default_factory=dict)
    """Polls that failed with a retryable status and were retried after a jittered backoff."""

    @property
    def per_session_kib(self) -> float:
        return (self.rss_kib - self.rss_idle_kib) / max(self.parked, 1)


async def measure_idle_sessions(cp: ControlPlane, *, sessions: int, channels: int, wait_ms: int) -> IdleResult:
    rss_idle = cp.rss_kib()
    chans = [channel(cp.address) for _ in range(channels)]
    fleet = _Fleet(wait_ms)
    try:
        token = await AsyncOperator(chans[0], cp.api_key).create_token("bench-idle")
        delegates = [BareDelegate(chans[i % channels], token) for i in range(sessions)]
        started = time.perf_counter()
        gate = asyncio.Semaphore(REGISTER_CONCURRENCY)

        async def register(i: int) -> None:
            async with gate:
                await delegates[i].register(f"bench-idle-{i:05d}")

        registering = [asyncio.create_task(register(i)) for i in range(sessions)]
        done, late = await asyncio.wait(registering, timeout=REGISTER_LIMIT_S)
        for task in late:
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)
        for task in done:
            task.result()  # a refused registration is an error, not a shortfall
        register_seconds = time.perf_counter() - started
        registered = [d for d in delegates if d.session_id]

        started = time.perf_counter()
        fleet.start(registered)
        await _until_parked(cp, len(registered), fleet)
        park_seconds = time.perf_counter() - started
        await asyncio.sleep(SETTLE_S)
        parked = await asyncio.to_thread(cp.polls_waiting)
        rss, peak = cp.rss_kib(), cp.peak_rss_kib()
        return IdleResult(
            sessions,
            len(registered),
            channels,
            parked,
            rss_idle,
            rss,
            peak,
            register_seconds,
            REGISTER_CONCURRENCY,
            park_seconds,
            dict(fleet.refused),
        )
    finally:
        await fleet.stop()
        for chan in chans:
            await chan.close()


class _Fleet:
    """Idle sessions: each keeps one PollTask outstanding, like an idle delegate."""

    def __init__(self, wait_ms: int) -> None:
        self._wait_ms = wait_ms
        self._stopping = False
        self._calls: dict[int, grpc.aio.UnaryUnaryCall] = {}
        self.runners: list[asyncio.Task[None]] = []
        self.refused: Counter[str] = Counter()

    def start(self, delegates: list[BareDelegate]) -> None:
        self.runners = [asyncio.create_task(self._session(i, d)) for i, d in enumerate(delegates)]

    def failure(self) -> BaseException | None:
        return next((r.exception() for r in self.runners if r.done() and not r.cancelled() and r.exception()), None)

    async def _session(self, i: int, delegate: BareDelegate) -> None:
        failures = 0
        while not self._stopping:
            self._calls[i] = delegate.poll(self._wait_ms)
            try:
                response = await self._calls[i]
            except grpc.RpcError as exc:
                if self._stopping:
                    return
                if not is_retryable(exc):
                    raise
                # As the agent does: note it, back off with full jitter, poll again.
                self.refused[exc.code().name] += 1
                failures += 1
                await asyncio.sleep(random.uniform(0, min(BACKOFF_MAX_S, BACKOFF_BASE_S * 2**failures)))
                continue
            failures = 0
            if response.HasField("task"):
                raise RuntimeError("an idle session was handed a task; nothing should be queued")

    async def stop(self) -> None:
        self._stopping = True
        for call in self._calls.values():
            call.cancel()
        for runner in self.runners:
            runner.cancel()
        await asyncio.gather(*self.runners, return_exceptions=True)


async def _until_parked(cp: ControlPlane, sessions: int, fleet: _Fleet) -> None:
    deadline = time.monotonic() + PARK_TIMEOUT_S
    while True:
        failure = fleet.failure()
        if failure is not None:
            raise RuntimeError(f"an idle session failed: {failure}")
        parked = await asyncio.to_thread(cp.polls_waiting)
        if parked >= sessions:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {parked} of {sessions} sessions parked after {PARK_TIMEOUT_S:.0f}s")
        await asyncio.sleep(0.25)
