"""The configuration layer's exceptions and the one-line error format.

Every problem is reported as one line, the shape CONTRACT §2 asks of every error:

    services.yaml: document 2 (Service shop/orders): spec.functions[0].memorySize: must be between ...

that is `<file>: document <n> (<Kind> <app>/<name>): <field path>: <problem>`, where the field path uses the
YAML's camelCase spelling. Documents read back from storage have no file; their lines start at the
parenthesised part's content (`Service shop/orders: spec...`).

`ConfigError` is the root; its subclasses say what went wrong so a caller can pick wording or an exit code,
although all of them are "invalid input" to the CLI (exit code 2). An exception carries every problem it
found in `.errors`; `str()` is the first of them, so a caller that prints one line prints a useful one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "ConfigError",
    "ConfigSyntaxError",
    "ConfigValidationError",
    "Origin",
    "UnknownObjectError",
    "format_error",
    "format_path",
    "missing_object",
]


class ConfigError(Exception):
    """Root of this package's errors; `errors` holds one line per problem, `str()` is the first."""

    def __init__(self, errors: str | Sequence[str]) -> None:
        self.errors: list[str] = [errors] if isinstance(errors, str) else list(errors)
        if not self.errors:
            raise ValueError("ConfigError needs at least one message")
        super().__init__(self.errors[0])


class ConfigSyntaxError(ConfigError):
    """A file is not valid YAML (the message names the file and line)."""


class ConfigValidationError(ConfigError):
    """Documents are well-formed YAML but break a rule: schema, reference, or a value after rendering."""


class UnknownObjectError(ConfigError):
    """A lookup named an object (workflow, application...) that is not in the configuration."""


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a document was read: the source name given to the loader and its 1-based position in the
    file's YAML stream (empty documents count, so the number matches what a reader counts)."""

    source: str
    index: int


_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Everything str.splitlines() splits on, and the other control characters.
_LINE_BREAKS = re.compile("[\x00-\x1f\x7f\x85\u2028\u2029]+")


def format_path(parts: Sequence[str | int]) -> str:
    """`("spec", "functions", 0, "environment", "bad-key")` -> `spec.functions[0].environment["bad-key"]`."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _IDENTIFIER.fullmatch(part):
            out += f".{part}" if out else part
        else:
            out += "[" + json.dumps(part, ensure_ascii=False) + "]"
    return out


def missing_object(kind: str, name: str, application: str = "") -> str:
    """The problem text for a reference to an object that does not exist."""
    return f"{kind} {application}/{name} does not exist" if application else f'{kind} "{name}" does not exist'


def format_error(origin: Origin | None, label: str | None, path: str | None, message: str) -> str:
    """One line: origin and label locate the document, path the field inside it."""
    where: list[str] = []
    if origin is not None:
        doc = f"document {origin.index}" + (f" ({label})" if label else "")
        where += [origin.source, doc]
    elif label:
        where.append(label)
    if path:
        where.append(path)
    # Names and values come from user input and may hold line breaks; the contract promises one line.
    return _LINE_BREAKS.sub(" ", ": ".join([*where, message]))
