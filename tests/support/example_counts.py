"""Counts of hypothesis examples tried by the hostile-input tests, printed in the terminal summary.

A test asks for the `record_examples` fixture and calls it with a case name and a count. The count
rides on the test report's user properties, so it reaches the pytest-xdist controller too; the
summary is printed when a conftest importing these hooks is loaded there (for example when
`tests/integration/security` or `tests/unit/security` is among the paths given to pytest).
Both security conftests import the hooks; entries are keyed by test and case so nothing is counted
twice.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

PROPERTY = "hypothesis_examples"
_counts: dict[tuple[str, str], int] = {}
_printed: list[bool] = []


@pytest.fixture
def record_examples(record_property: Callable[[str, object], None]) -> Callable[[str, int], None]:
    """Record that `count` hypothesis examples were tried for hostile-input `case`."""

    def record(case: str, count: int) -> None:
        record_property(PROPERTY, [case, count])
        print(f"hostile-input examples: {case}: {count}")

    return record


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when != "call":
        return
    for name, value in report.user_properties:
        if name == PROPERTY and isinstance(value, tuple | list) and len(value) == 2:
            _counts[(report.nodeid.rpartition("::")[2], str(value[0]))] = int(value[1])


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _counts or _printed:
        return
    _printed.append(True)
    terminalreporter.section("hostile-input examples (hypothesis)")
    for (test, case), count in sorted(_counts.items()):
        terminalreporter.write_line(f"{count:6d}  {case}  [{test}]")
    terminalreporter.write_line(f"{sum(_counts.values()):6d}  total")
