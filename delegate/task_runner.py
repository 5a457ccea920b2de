"""Runs one task attempt: verify its signature, find its handler, run it, map the outcome.

The outcome is (state, result, error) to report, or None when the attempt must not report at all
(its lease was lost: the control plane already moved on, and a report would be refused anyway).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import structlog

from delegate.attempt import Attempt
from delegate.secrets import Masker
from delegate.tasks.registry import TaskCancelled, TaskContext, TaskFailed, TaskRegistry, TaskStopped
from shared.pb.outrider.v1 import delegate_pb2

log = structlog.get_logger("task_runner")
Outcome = tuple[str, dict[str, Any], str] | None


class SignatureCheck:
    """Verifies task signatures against a pinned key, or the key the server announced at Register.

    Once a key is known (pinned, or announced by a server that signs), every task must carry a valid
    signature: an unsigned or altered task is refused before any of its content is acted on. Only a
    server started with --no-task-signing and no pinned key leaves tasks unverified.
    """

    def __init__(self, pinned_key: bytes | None, required: bool) -> None:
        self._pinned = pinned_key
        self._required = required or pinned_key is not None
        self._server_key = b""
        self._verifier: Any = None
        self._verifier_key = b""

    def set_server_key(self, key: bytes) -> None:
        self._server_key = key

    def problem(self, task: delegate_pb2.Task) -> str | None:
        key = self._pinned or self._server_key
        if not key:
            return "task is not signed and no signing key is known" if self._required else None
        if not task.signature:
            return "task is not signed"
        from shared.signing import InvalidTaskSignature, TaskVerifier

        try:
            if self._verifier is None or self._verifier_key != key:
                self._verifier, self._verifier_key = TaskVerifier(key), key  # parsed once, not per task
            self._verifier.verify(
                task.signature,
                task_id=task.task_id,
                type=task.type,
                payload=task.payload,
                execution_id=task.execution_id,
                timeout_ms=task.timeout_ms,
            )
        except InvalidTaskSignature:
            return "task signature does not verify: the task was altered or signed by another key"
        return None


class TaskRunner:
    def __init__(
        self,
        registry: TaskRegistry,
        signatures: SignatureCheck,
        services_factory: Callable[[Attempt], dict[str, Any]] | None = None,
        checkpointer: Callable[[Attempt], Callable[[bytes], None]] | None = None,
    ) -> None:
        self._checkpointer = checkpointer
        self._registry = registry
        self._signatures = signatures
        self._services_factory = services_factory

    def set_server_key(self, key: bytes) -> None:
        self._signatures.set_server_key(key)

    async def run(self, attempt: Attempt, task: delegate_pb2.Task) -> Outcome:
        services = self._services_factory(attempt) if self._services_factory else {}
        outcome = await self._run(attempt, task, services)
        masker = services.get("masker")
        if outcome is None or not isinstance(masker, Masker):
            return outcome
        # The result and the error leave the delegate like log lines do, so they are masked the same
        # way: an AWS error message can quote a request value (Lambda's "environment variables exceed
        # 4 KB" error quotes them all), and an exception's text can carry anything it was given.
        state, result, error = outcome
        return (state, masker.mask_obj(result), masker.mask(error))

    async def _run(self, attempt: Attempt, task: delegate_pb2.Task, services: dict[str, Any]) -> Outcome:
        stream = attempt.stream
        problem = self._signatures.problem(task)
        if problem:
            log.error("refusing task", task=task.task_id, reason=problem)
            stream.section("Verify task")
            stream.error(f"refused: {problem}")
            return ("FAILED", {}, f"refused: {problem}")
        handler = self._registry.get(task.type)
        if handler is None:
            return ("FAILED", {}, f"this delegate does not support task type {task.type!r}")
        try:
            payload = json.loads(task.payload or b"{}")
        except ValueError:
            return ("FAILED", {}, "payload is not valid JSON")
        ctx = TaskContext(
            task_id=task.task_id,
            attempt=task.attempt,
            execution_id=task.execution_id,
            type=task.type,
            payload=payload if isinstance(payload, dict) else {"value": payload},
            log=stream,
            stop_reason=attempt.stop_reason,
            cancelled=attempt.cancelled,
            services=services,
            checkpoint=task.checkpoint,
            save_checkpoint=self._checkpointer(attempt) if self._checkpointer else None,
        )
        try:
            timeout = task.timeout_ms / 1000 if task.timeout_ms > 0 else None
            result = await asyncio.wait_for(handler(ctx), timeout)
        except TaskStopped as exc:
            if exc.cancelled:
                stream.warn(f"stopped: {exc}")
                return ("CANCELLED", {}, str(exc))
            stream.warn(f"stopped without reporting: {exc}")
            return None
        except TaskCancelled as exc:
            stream.warn(f"cancelled: {exc}")
            return ("CANCELLED", exc.result, str(exc))
        except TaskFailed as exc:
            stream.error(str(exc))
            return ("FAILED", exc.result, str(exc))
        except TimeoutError:
            stream.error(f"timed out after {task.timeout_ms // 1000}s")
            return ("FAILED", {}, f"timed out after {task.timeout_ms // 1000}s")
        except Exception as exc:
            log.exception("task crashed", task=task.task_id)
            stream.error(f"{type(exc).__name__}: {exc}")
            return ("FAILED", {}, f"{type(exc).__name__}: {exc}")
        return ("SUCCEEDED", dict(result), "")
