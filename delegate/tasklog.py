"""What task code sees of logging: named sections and lines, safe to call from worker threads.

Task implementations (the Lambda engine, artifact sources) depend on this protocol only; the
agent supplies the implementation that masks secrets, sequences lines and ships them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol


class TaskLog(Protocol):
    def section(self, name: str) -> None:
        """Start a named section ("Fetch artifact", "Update code"); later lines belong to it."""

    def info(self, text: str) -> None: ...

    def warn(self, text: str) -> None: ...

    def error(self, text: str) -> None: ...


class ListTaskLog:
    """A TaskLog that keeps (section, level, text) tuples in memory; for tests and local runs."""

    def __init__(self, echo: Callable[[str], None] | None = None) -> None:
        self.lines: list[tuple[str, str, str]] = []
        self._section = ""
        self._echo = echo

    def section(self, name: str) -> None:
        self._section = name
        if self._echo:
            self._echo(f"== {name}")

    def _add(self, level: str, text: str) -> None:
        self.lines.append((self._section, level, text))
        if self._echo:
            self._echo(f"[{level}] {text}")

    def info(self, text: str) -> None:
        self._add("INFO", text)

    def warn(self, text: str) -> None:
        self._add("WARN", text)

    def error(self, text: str) -> None:
        self._add("ERROR", text)
