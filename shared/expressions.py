"""Plain `${name}` substitution in configuration strings: no code is ever evaluated.

Syntax (CONTRACT §3), scanned left to right:

- `${NAME}` is replaced by the value of NAME from a flat context such as
  `{"app.name": "shop", "workflow.variables.suffix": "blue"}`. Known names are `KNOWN_NAMES` plus
  `workflow.variables.X`. An unknown name is an `ExpressionError` naming it.
- `${secrets.NAME}` is never resolved by the control plane: `render` leaves it verbatim and the delegate
  resolves it with `resolve_secrets` (secret values never reach the control plane).
- `$${` is an escape for a literal `${`: `$${app.name}` renders as the text `${app.name}`.
  A `$` not followed by `{` is an ordinary character.
- Substitution is not recursive: a substituted value is inserted as-is and never scanned again.

Two rendering phases share this syntax. The control plane calls `render`; in text bound for the delegate
(`allow_secrets=True`, used for Lambda environment values) it must keep secret references and literal
`${secrets.` text apart, so there:

- `${secrets.NAME}` stays as is (a reference the delegate resolves);
- an escaped `$${secrets.` stays escaped, and any `${secrets.` inside a substituted value (for example a
  `--set` value) is escaped to `$${secrets.`, so the delegate never resolves a secret nobody configured.

The delegate then calls `resolve_secrets`, which replaces `${secrets.NAME}` and turns `$${secrets.` into
`${secrets.`, leaving every other character alone. In text that is final on the control plane (function
names, aliases, tags; `allow_secrets=False`) a secret reference is an error and every `$${` becomes `${`.

This module is pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

__all__ = [
    "KNOWN_NAMES",
    "SECRET_PREFIX",
    "VARIABLE_PREFIX",
    "ExpressionError",
    "check_names",
    "escape",
    "find_expressions",
    "is_known_name",
    "render",
    "resolve_secrets",
    "secret_names",
]

KNOWN_NAMES: frozenset[str] = frozenset(
    {
        "app.name",
        "service.name",
        "env.name",
        "env.type",
        "infra.name",
        "infra.region",
        "artifact.version",
        "execution.id",
    }
)
VARIABLE_PREFIX = "workflow.variables."
SECRET_PREFIX = "secrets."  # noqa: S105 - the syntax of a reference, not a password

_OPEN = "${"
_ESCAPE = "$${"
# A workflow variable name; the same rule the Workflow document applies to the keys of spec.variables.
VARIABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Secret names as AWS Secrets Manager and SSM allow them (paths such as /prod/db-password included).
SECRET_NAME = re.compile(r"[A-Za-z0-9/_+=.@-]{1,512}")


class ExpressionError(ValueError):
    """A malformed expression or an unknown name; `name` is the offending name when there is one."""

    def __init__(self, message: str, name: str | None = None) -> None:
        super().__init__(message)
        self.name = name


@dataclass(frozen=True, slots=True)
class _Expr:
    name: str


@dataclass(frozen=True, slots=True)
class _Escape:
    """A `$${` in the source text; `secret` when `secrets.` follows it."""

    secret: bool


def _scan(text: str) -> Iterator[str | _Expr | _Escape]:
    """Split text into literal runs, expressions and escapes; raise on `${` without a closing `}`."""
    i = 0
    literal_start = 0
    while True:
        j = text.find("$", i)
        if j < 0:
            break
        if text.startswith(_ESCAPE, j):
            if j > literal_start:
                yield text[literal_start:j]
            yield _Escape(secret=text.startswith(SECRET_PREFIX, j + len(_ESCAPE)))
            i = literal_start = j + len(_ESCAPE)
        elif text.startswith(_OPEN, j):
            end = text.find("}", j + len(_OPEN))
            if end < 0:
                raise ExpressionError(f"unterminated expression {text[j : j + 40]!r}: missing '}}'")
            if j > literal_start:
                yield text[literal_start:j]
            yield _Expr(_check_syntax(text[j + len(_OPEN) : end]))
            i = literal_start = end + 1
        else:
            i = j + 1
    if literal_start < len(text):
        yield text[literal_start:]


def _check_syntax(name: str) -> str:
    if name.startswith(SECRET_PREFIX):
        if not SECRET_NAME.fullmatch(name[len(SECRET_PREFIX) :]):
            raise ExpressionError(
                f"invalid secret reference ${{{name}}}: a secret name is 1..512 of letters, digits and /_+=.@-",
                name,
            )
    elif name.startswith(VARIABLE_PREFIX):
        if not VARIABLE_NAME.fullmatch(name[len(VARIABLE_PREFIX) :]):
            raise ExpressionError(
                f"invalid expression ${{{name}}}: a variable name is a letter or _ then letters, digits, _",
                name,
            )
    elif name not in KNOWN_NAMES:
        raise ExpressionError(f"unknown expression ${{{name}}} ({_known_list()})", name)
    return name


def _known_list() -> str:
    return "known: " + ", ".join(sorted(KNOWN_NAMES)) + ", workflow.variables.X, secrets.NAME"


def find_expressions(text: str) -> list[str]:
    """Every name inside `${...}` in text, in order of appearance, duplicates included; escaped `$${`
    are not expressions. Raises `ExpressionError` on a malformed or unknown expression."""
    return [part.name for part in _scan(text) if isinstance(part, _Expr)]


def secret_names(text: str) -> list[str]:
    """The secret NAMEs that text references through `${secrets.NAME}`, first occurrence order, unique."""
    names = (n[len(SECRET_PREFIX) :] for n in find_expressions(text) if n.startswith(SECRET_PREFIX))
    return list(dict.fromkeys(names))


def is_known_name(name: str) -> bool:
    """Whether name is a syntactically valid expression name (a secret, a variable or a known name)."""
    try:
        _check_syntax(name)
    except ExpressionError:
        return False
    return True


def check_names(text: str, allowed: frozenset[str], *, allow_secrets: bool) -> None:
    """Raise unless every expression in text is in `allowed`, a `workflow.variables.X`, or (when
    `allow_secrets`) a secret. Used to validate a template before any context exists."""
    for name in find_expressions(text):
        if name.startswith(SECRET_PREFIX):
            if not allow_secrets:
                raise ExpressionError(
                    f"${{{name}}} is not allowed here: secrets are resolved only in environment values",
                    name,
                )
        elif not name.startswith(VARIABLE_PREFIX) and name not in allowed:
            raise ExpressionError(f"${{{name}}} is not available here", name)


def render(text: str, context: Mapping[str, str], *, allow_secrets: bool = True) -> str:
    """Substitute every `${NAME}` from context. See the module docstring for secrets and escapes.

    Raises `ExpressionError` naming the first unknown name (one absent from context).
    """
    out: list[str] = []
    for part in _scan(text):
        if isinstance(part, str):
            out.append(part)
        elif isinstance(part, _Escape):
            # Keep `$${secrets.` escaped for the delegate's pass; anything else is final here.
            out.append(_ESCAPE if allow_secrets and part.secret else _OPEN)
        elif part.name.startswith(SECRET_PREFIX):
            if not allow_secrets:
                raise ExpressionError(
                    f"${{{part.name}}} is not allowed here: secrets are resolved only in environment values",
                    part.name,
                )
            out.append(_OPEN + part.name + "}")
        else:
            try:
                value = context[part.name]
            except KeyError:
                raise ExpressionError(f"unknown expression ${{{part.name}}}", part.name) from None
            out.append(_escape_secrets(value) if allow_secrets else value)
    return "".join(out)


def _escape_secrets(value: str) -> str:
    return value.replace(_OPEN + SECRET_PREFIX, _ESCAPE + SECRET_PREFIX)


def escape(text: str) -> str:
    """Text that renders back to exactly `text`: every `${` becomes `$${`."""
    return text.replace(_OPEN, _ESCAPE)


def resolve_secrets(text: str, lookup: Callable[[str], str]) -> str:
    """Delegate side: replace `${secrets.NAME}` by `lookup(NAME)` and `$${secrets.` by `${secrets.`.

    Everything else is left as is: text reaching the delegate has already been rendered by the control
    plane, so other `${`, `$${` and `$` are literal by now. Errors raised by lookup propagate.
    """
    out: list[str] = []
    i = 0
    while True:
        j = text.find("$", i)
        if j < 0:
            out.append(text[i:])
            return "".join(out)
        out.append(text[i:j])
        if text.startswith(_ESCAPE + SECRET_PREFIX, j):
            out.append(_OPEN + SECRET_PREFIX)
            i = j + len(_ESCAPE + SECRET_PREFIX)
        elif text.startswith(_OPEN + SECRET_PREFIX, j):
            end = text.find("}", j)
            if end < 0:
                raise ExpressionError(f"unterminated secret reference {text[j : j + 40]!r}")
            name = text[j + len(_OPEN + SECRET_PREFIX) : end]
            if not SECRET_NAME.fullmatch(name):
                raise ExpressionError(f"invalid secret name {name!r}", name)
            out.append(lookup(name))
            i = end + 1
        else:
            out.append("$")
            i = j + 1
