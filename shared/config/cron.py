"""Five-field cron expressions (minute hour day-of-month month day-of-week, UTC) for Trigger documents.

The accepted syntax is the portable core of Vixie cron: `*`, `N`, `A-B`, `*/S`, `A-B/S` and comma lists
of those; month and day-of-week also take three-letter English names (`JAN`, `MON`), and day-of-week 7 is
Sunday like 0. `@daily`-style macros and Quartz extensions (`?`, `L`, `W`, `#`) are rejected.

`parse_cron` also translates day-of-week into names, because schedulers disagree on numbers (APScheduler
counts 0 as Monday where cron counts 0 as Sunday): a scheduler given `sun,mon` cannot misread it.
Pure: no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


@dataclass(frozen=True, slots=True)
class _Field:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()  # names[i] stands for low + i


_FIELDS = (
    _Field("minute", 0, 59),
    _Field("hour", 0, 23),
    _Field("day of month", 1, 31),
    _Field("month", 1, 12, _MONTHS),
    _Field("day of week", 0, 7, _DAYS),
)
_ITEM = re.compile(r"(?P<range>\*|[A-Za-z0-9]+(?:-[A-Za-z0-9]+)?)(?:/(?P<step>[0-9]+))?")


@dataclass(frozen=True, slots=True)
class CronSchedule:
    """A validated expression split into fields; `day_of_week` is `*` or a list of day names."""

    minute: str
    hour: str
    day: str
    month: str
    day_of_week: str


def parse_cron(expression: str) -> CronSchedule:
    """Validate a five-field cron expression; raise `ValueError` saying which field is wrong."""
    fields = expression.split()
    if len(fields) != 5:
        raise ValueError(
            f"cron expression {expression!r} must have 5 fields (minute hour day-of-month month day-of-week)"
        )
    values = [_expand(text, field) for text, field in zip(fields, _FIELDS, strict=True)]
    dow = values[4]
    day_of_week = "*" if fields[4] == "*" else ",".join(_DAYS[d] for d in sorted({d % 7 for d in dow}))
    return CronSchedule(fields[0], fields[1], fields[2], fields[3], day_of_week)


def check_cron(expression: str) -> str:
    parse_cron(expression)
    return expression


def _expand(text: str, field: _Field) -> set[int]:
    result: set[int] = set()
    for item in text.split(","):
        match = _ITEM.fullmatch(item)
        if not match:
            raise ValueError(f"cron {field.name} field {text!r}: cannot read {item!r}")
        low, high = field.low, field.high
        if match["range"] != "*":
            first, _, last = match["range"].partition("-")
            low = _value(first, field)
            high = _value(last, field) if last else low
            if low > high:
                raise ValueError(f"cron {field.name} field {text!r}: range {match['range']} is backwards")
        step = 1
        if match["step"] is not None:
            step = int(match["step"])
            if not 1 <= step <= field.high - field.low + 1:
                raise ValueError(f"cron {field.name} field {text!r}: step {step} is out of range")
            if match["range"] != "*" and "-" not in match["range"]:
                raise ValueError(f"cron {field.name} field {text!r}: a step needs * or a range, as in 0-59/{step}")
        result.update(range(low, high + 1, step))
    return result


def _value(token: str, field: _Field) -> int:
    if token.isdigit():
        number = int(token)
        if not field.low <= number <= field.high:
            raise ValueError(f"cron {field.name} value {number} is out of range {field.low}-{field.high}")
        return number
    lowered = token.lower()
    if lowered in field.names:
        return field.low + field.names.index(lowered)
    raise ValueError(f"cron {field.name} value {token!r} is not a number or a valid name")
