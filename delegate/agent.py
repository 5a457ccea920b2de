"""The delegate agent: register, long-poll, run tasks, renew leases, ship logs, deliver results.

Shutdown order (SIGTERM): stop polling -> let in-flight tasks finish for up to the grace period
-> ask the rest to stop at their next safe point (their leases lapse and the control plane hands
them to another delegate) -> deliver spooled logs and results for a few seconds -> exit. A second
signal exits at once; everything undelivered stays in the spool for the next start.

Errors: every RPC failure goes through shared.retry. Retryable ones back off exponentially with
full jitter (tenacity); UNAUTHENTICATED / PERMISSION_DENIED stop the agent with a clear message.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import socket
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import grpc
import structlog
from tenacity import AsyncRetrying, retry_if_exception, wait_random_exponential

from delegate.attempt import Attempt
from delegate.config import DelegateConfig
from delegate.cp_client import ControlPlaneClient
from delegate.log_stream import LogStream
from delegate.spool import AttemptSpool, Spool, SpooledResult
from delegate.task_runner import TaskRunner
from delegate.tasks.registry import TaskFailed, TaskRegistry, TaskStopped
from shared.pb.outrider.v1 import common_pb2, delegate_pb2
from shared.retry import Decision, is_fatal, is_retryable, verdict
from shared.version import __version__

log = structlog.get_logger("delegate")
T = TypeVar("T")

STATE_ENUM = {
    "SUCCEEDED": common_pb2.TASK_STATE_SUCCEEDED,
    "FAILED": common_pb2.TASK_STATE_FAILED,
    "CANCELLED": common_pb2.TASK_STATE_CANCELLED,
}
FLUSH_INTERVAL_S = 0.5
DRAIN_ON_EXIT_S = 5.0


class DelegateFatal(Exception):
    """The agent cannot go on (credentials refused, incompatible server); the message says why."""


class Stopping(Exception):
    """Raised inside retry loops when the agent is shutting down."""


def jitter(seconds: float, spread: float = 0.2) -> float:
    return seconds * (1 - spread * random.random())


class Agent:
    def __init__(
        self,
        config: DelegateConfig,
        client: ControlPlaneClient,
        registry: TaskRegistry,
        spool: Spool,
        mask: Callable[[str], str],
        runner: TaskRunner,
    ) -> None:
        self._config = config
        self._client = client
        self._registry = registry
        self._spool = spool
        self._mask = mask
        self._runner = runner
        self._attempts: dict[tuple[str, int], Attempt] = {}
        self._running: dict[tuple[str, int], asyncio.Task[None]] = {}
        self._delivering: set[asyncio.Task[None]] = set()
        self._stop = asyncio.Event()
        self._force = asyncio.Event()
        self._slot_freed = asyncio.Event()
        self._poll_call: grpc.aio.UnaryUnaryCall | None = None
        self._fatal: DelegateFatal | None = None
        self.delegate_id = ""
        self.poll_timeout_ms = 30_000
        self.lease_duration_s = 30.0
        self.heartbeat_interval_s = 5.0
        self.tasks_completed = 0

    # --- lifecycle ---------------------------------------------------------------------------
    def request_stop(self) -> None:
        if self._stop.is_set():
            self._force.set()
            log.warning("second signal: exiting now; undelivered work stays in the spool")
        self._stop.set()
        if self._poll_call is not None:
            self._poll_call.cancel()

    async def run(self) -> int:
        """Runs until stopped; returns the process exit code."""
        try:
            await self._register()
        except DelegateFatal as exc:
            log.error("delegate cannot start", reason=str(exc))
            return 3
        except Stopping:
            return 0
        background = [
            asyncio.create_task(self._heartbeat_loop(), name="heartbeat"),
            asyncio.create_task(self._replay_spool(), name="spool-replay"),
        ]
        try:
            await self._poll_loop()
        except DelegateFatal as exc:
            self._fatal = exc
        finally:
            await self._shutdown()
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)
        if self._fatal is not None:
            log.error("delegate stopped", reason=str(self._fatal))
            return 3
        log.info("delegate stopped", tasks_completed=self.tasks_completed)
        return 0

    async def _register(self) -> None:
        cfg = self._config
        request = delegate_pb2.RegisterRequest(
            name=cfg.name,
            hostname=cfg.hostname or socket.gethostname(),
            version=__version__,
            install_kind=cfg.install_kind,
            selectors=list(cfg.selectors),
            max_tasks=cfg.max_tasks,
            task_types=list(self._registry.types),
        )
        response = await self._call("register", lambda: self._client.register(request))
        self.delegate_id = response.delegate_id
        self.poll_timeout_ms = response.poll_timeout_ms or 30_000
        self.lease_duration_s = (response.lease_duration_ms or 30_000) / 1000
        self.heartbeat_interval_s = (response.heartbeat_interval_ms or 5_000) / 1000
        self._runner.set_server_key(response.task_signing_public_key)
        log.info(
            "registered",
            delegate=cfg.name,
            delegate_id=response.delegate_id,
            selectors=list(cfg.selectors),
            task_types=list(self._registry.types),
            lease_s=self.lease_duration_s,
            heartbeat_s=self.heartbeat_interval_s,
        )
        if response.recommended_version and response.recommended_version != __version__:
            log.warning("a newer delegate version is recommended", have=__version__, want=response.recommended_version)

    async def _call(self, what: str, fn: Callable[[], Awaitable[T]]) -> T:
        """Run an RPC until it succeeds, backing off on retryable errors; fatal ones raise DelegateFatal."""

        async def sleep(seconds: float) -> None:
            try:
                await asyncio.wait_for(self._stop.wait(), seconds)
            except TimeoutError:
                return
            raise Stopping

        retrying = AsyncRetrying(
            retry=retry_if_exception(is_retryable),
            wait=wait_random_exponential(multiplier=0.25, max=15),
            sleep=sleep,
            reraise=True,
            before_sleep=lambda state: log.warning(
                "control plane call failed; retrying",
                call=what,
                attempt=state.attempt_number,
                reason=_describe(state.outcome.exception() if state.outcome else None),
            ),
        )
        try:
            async for attempt in retrying:
                with attempt:
                    return await fn()
        except grpc.RpcError as exc:
            if is_fatal(exc):
                raise DelegateFatal(
                    f"{what}: {exc.details() or exc.code().name} ({verdict(exc.code()).reason})"
                ) from exc
            raise
        raise AssertionError("unreachable")  # pragma: no cover

    # --- polling -----------------------------------------------------------------------------
    async def _poll_loop(self) -> None:
        while not self._stop.is_set():
            free = self._config.max_tasks - len(self._running)
            if free <= 0:
                self._slot_freed.clear()
                await _wait_any(self._slot_freed, self._stop)
                continue
            try:
                response = await self._call("poll", lambda free=free: self._poll(free))  # type: ignore[misc]
            except Stopping:
                return
            except grpc.RpcError as exc:
                if exc.code() == grpc.StatusCode.NOT_FOUND:
                    log.warning("session unknown to the control plane; registering again")
                    await self._register()
                    continue
                log.error("poll failed", reason=_describe(exc))
                await _sleep_or(self._stop, jitter(1.0))
                continue
            if response is None or not response.HasField("task"):
                # Jitter even the empty loop so many delegates do not poll in lockstep.
                await _sleep_or(self._stop, random.uniform(0, 0.05))
                continue
            self._start(response.task)  # no wait after a task: poll again at once

    async def _poll(self, free: int) -> delegate_pb2.PollTaskResponse | None:
        call = self._client.poll(free, self.poll_timeout_ms)
        self._poll_call = call
        try:
            response: delegate_pb2.PollTaskResponse = await call
            return response
        except asyncio.CancelledError:
            if self._stop.is_set():
                return None
            raise
        except grpc.RpcError as exc:
            if exc.code() == grpc.StatusCode.CANCELLED and self._stop.is_set():
                return None
            raise
        finally:
            self._poll_call = None

    # --- running -----------------------------------------------------------------------------
    def _start(self, task: delegate_pb2.Task) -> None:
        spool = self._spool.open_attempt(
            task.task_id, task.attempt, task.lease_token, {"type": task.type, "execution_id": task.execution_id}
        )
        attempt = self._new_attempt(task.task_id, task.attempt, task.lease_token, task.type, task.execution_id, spool)
        attempt.unavailability_policy = task.unavailability_policy or "continue"
        attempt.unavailability_deadline_s = task.unavailability_deadline_ms / 1000
        key = (task.task_id, task.attempt)
        self._attempts[key] = attempt
        self._running[key] = asyncio.create_task(self._run(attempt, task), name=f"task-{task.task_id}")
        log.info("task started", task=task.task_id, type=task.type, attempt=task.attempt)

    def _new_attempt(
        self, task_id: str, attempt_no: int, token: str, task_type: str, execution_id: str, spool: AttemptSpool
    ) -> Attempt:
        flush = asyncio.Event()
        loop = asyncio.get_running_loop()

        def on_full() -> None:
            loop.call_soon_threadsafe(flush.set)

        stream = LogStream(spool, self._mask, on_full=on_full)
        return Attempt(
            task_id=task_id,
            attempt=attempt_no,
            lease_token=token,
            type=task_type,
            execution_id=execution_id,
            spool=spool,
            stream=stream,
            lease_duration_s=self.lease_duration_s,
            safety_margin_s=self.heartbeat_interval_s,
            flush=flush,
        )

    async def _run(self, attempt: Attempt, task: delegate_pb2.Task) -> None:
        key = (attempt.task_id, attempt.attempt)
        shipper = asyncio.create_task(self._ship_loop(attempt))
        try:
            outcome = await self._runner.run(attempt, task)
            attempt.finished = True
            if outcome is None:
                log.warning(
                    "task stopped without reporting",
                    task=task.task_id,
                    attempt=task.attempt,
                    reason=attempt.stop_reason(),
                )
            attempt.stream.cut()
            if outcome is not None:
                state, result, error = outcome
                attempt.spool.write_result(
                    SpooledResult(state, json.dumps(result).encode(), error, attempt.stream.last_seq)
                )
        finally:
            shipper.cancel()
            await asyncio.gather(shipper, return_exceptions=True)
            self._running.pop(key, None)
            self._slot_freed.set()
        delivery = asyncio.create_task(self._deliver(attempt))
        self._delivering.add(delivery)
        delivery.add_done_callback(self._delivering.discard)

    async def _ship_loop(self, attempt: Attempt) -> None:
        flush = attempt.flush
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(flush.wait(), jitter(FLUSH_INTERVAL_S))
            flush.clear()
            attempt.stream.cut()
            await self._send_logs(attempt)

    async def _send_logs(self, attempt: Attempt) -> bool:
        """Send pending batches once; True when nothing is left. Failures are counted, not fatal."""
        stream = attempt.stream
        while batches := stream.pending():
            try:
                acked = await self._client.append_logs(attempt.lease_ref, batches)
            except grpc.RpcError as exc:
                decision = verdict(exc.code()).decision
                if decision is Decision.RETRY:
                    attempt.unavailable_since = attempt.unavailable_since or time.monotonic()
                    return False
                if decision is Decision.FATAL:
                    self._fatal = DelegateFatal(f"logs: {exc.details()}")
                    self.request_stop()
                    return False
                log.warning("log batches refused; dropping them", task=attempt.task_id, reason=_describe(exc))
                stream.drop_pending()
                return True
            stream.ack(acked)
            if acked < batches[-1].seq:
                # The server lacks an earlier batch (lost in flight); the next round resends from acked+1.
                return False
        return True

    async def _deliver(self, attempt: Attempt) -> None:
        """Send the attempt's remaining logs and its result until the control plane has both."""
        delay = 0.2
        while True:
            logs_done = await self._send_logs(attempt)
            result = attempt.spool.result()
            if logs_done:
                if result is None:
                    attempt.spool.remove()  # lease lost or abandoned: nothing to report
                    self._attempts.pop((attempt.task_id, attempt.attempt), None)
                    return
                try:
                    await self._client.complete(
                        attempt.lease_ref, STATE_ENUM[result.state], result.result, result.error, result.last_log_seq
                    )
                    self.tasks_completed += 1
                    log.info("task reported", task=attempt.task_id, attempt=attempt.attempt, state=result.state)
                    attempt.spool.remove()
                    self._attempts.pop((attempt.task_id, attempt.attempt), None)
                    return
                except grpc.RpcError as exc:
                    decision = verdict(exc.code()).decision
                    if decision is Decision.FAIL:
                        log.warning("result refused", task=attempt.task_id, reason=_describe(exc))
                        attempt.spool.remove()
                        self._attempts.pop((attempt.task_id, attempt.attempt), None)
                        return
                    if decision is Decision.FATAL:
                        self._fatal = DelegateFatal(f"complete: {exc.details()}")
                        self.request_stop()
                        return
            if self._force.is_set():
                return
            await asyncio.sleep(jitter(delay))
            delay = min(delay * 2, 10.0)

    async def _replay_spool(self) -> None:
        """Deliver what an earlier run of this delegate left in the spool."""
        for spool in self._spool.pending():
            lease = spool.lease
            key = (lease["task_id"], int(lease["attempt"]))
            if key in self._attempts:
                continue
            attempt = self._new_attempt(
                lease["task_id"],
                int(lease["attempt"]),
                lease["lease_token"],
                lease.get("type", ""),
                lease.get("execution_id", ""),
                spool,
            )
            attempt.finished = True
            attempt.stream.restore(spool.batches())
            if spool.result() is None:
                steps = [e.get("step", "") for e in spool.journal()]
                where = f" during step {steps[-1]!r}" if steps and steps[-1] else ""
                attempt.stream.warn(
                    f"the delegate restarted: attempt {key[1]} was interrupted{where} and will not report; "
                    "the control plane hands the task to another attempt when its lease expires"
                )
                attempt.stream.cut()
            self._attempts[key] = attempt
            log.info("re-sending spooled work", task=key[0], attempt=key[1], has_result=spool.result() is not None)
            delivery = asyncio.create_task(self._deliver(attempt))
            self._delivering.add(delivery)
            delivery.add_done_callback(self._delivering.discard)

    # --- checkpoints -------------------------------------------------------------------------
    def checkpointer(self, attempt: Attempt) -> Callable[[bytes], None]:
        """A blocking `save_checkpoint` for task code running in a worker thread."""
        loop = asyncio.get_running_loop()

        async def save(data: bytes) -> None:
            # Retried for as long as the lease holds (a control plane restart extends it); if it does not,
            # the task stops unreported and the next attempt starts from the same, unchanged state.
            delay = 0.2
            while True:
                try:
                    await self._client.save_checkpoint(attempt.lease_ref, data)
                    return
                except grpc.RpcError as exc:
                    if verdict(exc.code()).decision is not Decision.RETRY:
                        raise TaskFailed(f"could not checkpoint with the control plane: {_describe(exc)}") from exc
                reason = attempt.stop_reason()
                if reason is not None:
                    raise TaskStopped(reason, cancelled=attempt.cancelled())
                await asyncio.sleep(jitter(delay))
                delay = min(delay * 2, 2.0)

        def blocking(data: bytes) -> None:
            asyncio.run_coroutine_threadsafe(save(data), loop).result()

        return blocking

    # --- heartbeats --------------------------------------------------------------------------
    async def _heartbeat_loop(self) -> None:
        while not self._force.is_set():
            interval = self.heartbeat_interval_s
            live = [a for a in self._attempts.values() if not a.finished or a.spool.result() is not None]
            if live:
                sent_at = time.monotonic()
                try:
                    response = await self._client.heartbeat([a.lease_ref for a in live])
                except grpc.RpcError as exc:
                    if is_fatal(exc):
                        self._fatal = DelegateFatal(f"heartbeat: {exc.details()}")
                        self.request_stop()
                        return
                    for a in live:
                        a.unavailable_since = a.unavailable_since or time.monotonic()
                    log.warning("heartbeat failed; leases not renewed", reason=_describe(exc), tasks=len(live))
                    interval = min(1.0, interval)  # try again soon: the lease clock is running
                else:
                    self._apply_heartbeat(response, sent_at)
            await asyncio.sleep(jitter(interval))

    def _apply_heartbeat(self, response: delegate_pb2.HeartbeatResponse, sent_at: float) -> None:
        for state in response.leases:
            attempt = self._attempts.get((state.task_id, state.attempt))
            if attempt is None:
                continue
            if state.status == delegate_pb2.LEASE_STATUS_LOST:
                if not attempt.lost:
                    log.warning("lease lost; stopping at the next safe point", task=state.task_id)
                attempt.lost = True
            else:
                attempt.renewed(sent_at)
                if state.status == delegate_pb2.LEASE_STATUS_CANCEL_REQUESTED and not attempt.cancel_requested:
                    log.info("cancellation requested", task=state.task_id)
                    attempt.cancel_requested = True

    # --- shutdown ----------------------------------------------------------------------------
    async def _shutdown(self) -> None:
        running = list(self._running.values())
        if running:
            log.info("waiting for in-flight tasks", tasks=len(running), grace_s=self._config.grace_seconds)
            _, pending = await asyncio.wait(running, timeout=self._config.grace_seconds)
            if pending:
                log.warning("grace period over; stopping tasks at their next safe point", tasks=len(pending))
                for attempt in self._attempts.values():
                    attempt.shutting_down = True
                await asyncio.wait(pending, timeout=10)
        if self._delivering and not self._force.is_set():
            await asyncio.wait(list(self._delivering), timeout=DRAIN_ON_EXIT_S)
        for task in [*self._delivering, *self._running.values()]:
            task.cancel()


async def _wait_any(*events: asyncio.Event) -> None:
    waiters = [asyncio.create_task(e.wait()) for e in events]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waiters:
            w.cancel()


async def _sleep_or(event: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), seconds)


def _describe(exc: BaseException | None) -> str:
    if isinstance(exc, grpc.RpcError):
        return f"{exc.code().name}: {exc.details()}"
    return repr(exc)
