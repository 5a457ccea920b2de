"""Hostile-input unit tests record their hypothesis example counts (tests/support/example_counts.py)."""

from tests.support.example_counts import (  # noqa: F401 - fixture and hooks used by pytest
    pytest_runtest_logreport,
    pytest_terminal_summary,
    record_examples,
)
