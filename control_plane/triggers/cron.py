"""Cron triggers: one apscheduler job per `cron` Trigger, in UTC.

Translation (`cron_trigger`, pure). `shared.config.parse_cron` validates the expression and names the
days of the week, because apscheduler counts Monday as 0 where cron counts Sunday as 0. Two more
differences are handled here:
- cron fires when EITHER day-of-month or day-of-week matches if both are restricted (neither field
  starts with `*`), apscheduler only when both match: such an expression becomes an OrTrigger of
  the two (a minute both would fire is still one fire);
- apscheduler does not take steps over month names (`jan-jun/2`): months are given as numbers.

Firing. Every replica runs the same jobs; a fire only queues a start (see starter.py) for the minute
it belongs to, with compare-and-set on the trigger's `cronSlot`, so one replica wins each minute. A
minute during which no control plane was running is not caught up afterwards (as with cron).
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Awaitable, Callable

import structlog
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.combining import OrTrigger
from apscheduler.triggers.cron import CronTrigger

from control_plane.triggers.starter import TriggerRef
from shared.config import parse_cron

log = structlog.get_logger("triggers")

JOB_PREFIX = "trigger-cron:"
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")


def _month_numbers(text: str) -> str:
    return re.sub(r"[A-Za-z]+", lambda m: str(_MONTHS.index(m.group(0).lower()) + 1), text)


def cron_trigger(expression: str) -> BaseTrigger:
    """The apscheduler trigger firing when `expression` (five fields, UTC) would fire in cron."""
    schedule = parse_cron(expression)
    fields = expression.split()
    month = _month_numbers(schedule.month)

    def make(day: str, day_of_week: str) -> CronTrigger:
        return CronTrigger(
            minute=schedule.minute,
            hour=schedule.hour,
            day=day,
            month=month,
            day_of_week=day_of_week,
            timezone=datetime.UTC,
        )

    if not fields[2].startswith("*") and not fields[4].startswith("*"):
        return OrTrigger([make(schedule.day, "*"), make("*", schedule.day_of_week)])
    return make(schedule.day, schedule.day_of_week)


def next_fire(expression: str, after: datetime.datetime) -> datetime.datetime | None:
    fire: datetime.datetime | None = cron_trigger(expression).get_next_fire_time(None, after)
    return fire


class CronJobs:
    """Keeps the scheduler's cron jobs equal to the stored cron Triggers."""

    def __init__(self, scheduler: BaseScheduler, fire: Callable[[TriggerRef, int], Awaitable[None]]) -> None:
        self._scheduler = scheduler
        self._fire = fire
        self._jobs: dict[str, TriggerRef] = {}

    def sync(self, refs: list[TriggerRef]) -> None:
        wanted = {ref.key: ref for ref in refs if ref.kind == "cron" and ref.cron}
        for key in list(self._jobs):
            if key not in wanted:
                self._remove(key)
        for key, ref in wanted.items():
            current = self._jobs.get(key)
            if current == ref:
                continue
            if current is not None and current.cron == ref.cron:
                self._jobs[key] = ref  # same schedule; the job reads the ref when it fires
                continue
            assert ref.cron is not None
            try:
                trigger = cron_trigger(ref.cron)
            except ValueError as exc:  # validated at apply; an old row might predate a rule
                log.warning("cron trigger has an invalid schedule", trigger=ref.label, error=str(exc))
                continue
            self._scheduler.add_job(
                self._run,
                trigger,
                args=[key],
                id=JOB_PREFIX + key,
                replace_existing=True,
                max_instances=1,
                coalesce=True,
                misfire_grace_time=30,
            )
            self._jobs[key] = ref
            log.info("cron trigger scheduled", trigger=ref.label, cron=ref.cron)

    def _remove(self, key: str) -> None:
        self._jobs.pop(key, None)
        if self._scheduler.get_job(JOB_PREFIX + key) is not None:
            self._scheduler.remove_job(JOB_PREFIX + key)

    async def _run(self, key: str) -> None:
        ref = self._jobs.get(key)
        if ref is None:
            return
        now = datetime.datetime.now(datetime.UTC)
        slot = int(now.replace(second=0, microsecond=0).timestamp() * 1000)
        try:
            await self._fire(ref, slot)
        except Exception:
            log.exception("cron trigger fire failed", trigger=ref.label)
