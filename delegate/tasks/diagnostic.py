"""Diagnostic task types for tests and benchmarks: no-op and sleep. No arbitrary command execution."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from delegate.tasks.registry import TaskContext, TaskFailed, TaskRegistry
from shared.payloads import TASK_NOOP, TASK_SLEEP, SleepPayload


async def noop(ctx: TaskContext) -> Mapping[str, Any]:
    ctx.log.section("No-op")
    ctx.log.info(f"diagnostic no-op, attempt {ctx.attempt}")
    return {"ok": True}


async def sleep(ctx: TaskContext) -> Mapping[str, Any]:
    spec = SleepPayload.model_validate(ctx.payload)
    ctx.log.section("Sleep")
    steps = max(spec.lines, 1)
    for i in range(spec.lines):
        ctx.log.info(f"line {i + 1} of {spec.lines}")
        await ctx.sleep(spec.seconds / steps)
    if not spec.lines:
        await ctx.sleep(spec.seconds)
    if spec.fail:
        raise TaskFailed("failed on purpose (diagnostic.sleep fail=true)", {"slept": spec.seconds})
    return {"slept": spec.seconds, "lines": spec.lines}


def register(registry: TaskRegistry) -> None:
    registry.register(TASK_NOOP, noop)
    registry.register(TASK_SLEEP, sleep)
