"""Cron expressions fire exactly when cron would, through apscheduler (pure: no I/O, no waiting).

The reference below is cron's own rule, written out minute by minute: each field matches, and when
both day-of-month and day-of-week are restricted (neither starts with `*`) a day matches if EITHER
does. apscheduler's trigger must produce exactly the same minutes.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable

import pytest

from control_plane.triggers import cron_trigger

UTC = datetime.UTC
MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]


def _field(text: str, low: int, high: int, names: list[str] | None = None) -> set[int]:
    values: set[int] = set()
    for item in text.lower().split(","):
        spec, _, step_text = item.partition("/")
        step = int(step_text) if step_text else 1
        if spec == "*":
            first, last = low, high
        else:
            a, _, b = spec.partition("-")

            def number(token: str) -> int:
                return names.index(token) + low if names and token in names else int(token)

            first = number(a)
            last = number(b) if b else first
        values.update(range(first, last + 1, step))
    return values


def cron_matcher(expression: str) -> Callable[[datetime.datetime], bool]:
    minute, hour, dom, month, dow = expression.split()
    minutes, hours = _field(minute, 0, 59), _field(hour, 0, 23)
    days, months = _field(dom, 1, 31), _field(month, 1, 12, MONTHS)
    days_of_week = {d % 7 for d in _field(dow, 0, 7, DAYS)}
    either = not dom.startswith("*") and not dow.startswith("*")

    def matches(at: datetime.datetime) -> bool:
        dom_ok, dow_ok = at.day in days, (at.isoweekday() % 7) in days_of_week
        day_ok = (dom_ok or dow_ok) if either else (dom_ok and dow_ok)
        return at.minute in minutes and at.hour in hours and at.month in months and day_ok

    return matches


EXPRESSIONS = [
    "0 3 * * *",  # the CONTRACT's example: 03:00 UTC daily
    "*/15 * * * *",
    "30 3 * * 1-5",  # weekdays: cron's 1 is Monday, apscheduler's 0 is Monday
    "0 12 * * 0",  # Sunday as 0
    "0 12 * * 7",  # ... and as 7
    "0 0 * * SUN,wed",
    "0 6 1,15 * 1",  # both restricted: the 1st, the 15th AND every Monday
    "5 4 13 * fri",  # Friday the 13th is NOT the meaning: every 13th or every Friday
    "0 0 */2 * 1",  # day-of-month starts with *: both must match
    "0 9 * jan-jun/2 *",  # steps over month names
    "10-20/5 8-10 * * *",
    "0 0 29 2 *",  # leap day only
]


@pytest.mark.parametrize("expression", EXPRESSIONS)
def test_fire_times_equal_cron(expression: str) -> None:
    start = datetime.datetime(2024, 1, 1, tzinfo=UTC)  # 2024 is a leap year
    end = start + datetime.timedelta(days=75)
    matches = cron_matcher(expression)
    expected = []
    at = start
    while at < end:
        if matches(at):
            expected.append(at)
        at += datetime.timedelta(minutes=1)

    trigger = cron_trigger(expression)
    fired: list[datetime.datetime] = []
    previous: datetime.datetime | None = None
    now = start - datetime.timedelta(microseconds=1)
    while True:
        fire = trigger.get_next_fire_time(previous, now)
        if fire is None or fire >= end:
            break
        fired.append(fire.astimezone(UTC))
        previous, now = fire, fire + datetime.timedelta(seconds=1)
    assert fired == expected
    assert expected, "the window should contain fire times for every example"


def test_fire_times_are_utc_whatever_the_local_zone() -> None:
    fire = cron_trigger("0 3 * * *").get_next_fire_time(None, datetime.datetime(2024, 3, 10, 12, tzinfo=UTC))
    assert fire == datetime.datetime(2024, 3, 11, 3, tzinfo=UTC)
    assert fire.utcoffset() == datetime.timedelta(0)


def test_invalid_expressions_are_refused() -> None:
    for bad in ("* * *", "61 * * * *", "0 0 L * *", "@daily"):
        with pytest.raises(ValueError, match="cron"):
            cron_trigger(bad)
