"""Plain `${name}` substitution in configuration strings: no code is ever evaluated.

Syntax (CONTRACT §3), scanned left to right:

- `${NAME}` is replaced by the value of NAME from a flat context such as
  `{"app.name": "shop", "workflow.variables.suffix": "blue"}`. Known names are `KNOWN_NAMES` plus
  `workflow.variables.X`. An unknown name is an `ExpressionError` naming it.
- `${secrets.NAME}` is never resolved by the control plane: `render` leaves it verbatim, and the delegate
  replaces it with the secret's value (secret values never reach the control plane).
- `$${` is an escape for a literal `${`: `$${app.name}` renders as the text `${app.name}`.
  A `$` not followed by `{` is an ordinary character.
- Substitution is not recursive: a substituted value is inserted as-is and never scanned again.

Text bound for the delegate (`allow_secrets=True`; Lambda environment values) is scanned once more there,
by a resolver that replaces every `${secrets.NAME}` it finds. So in that text the only `${secrets.` the
control plane may emit is a reference the user wrote: a `--set` value, an artifact version or an escape
that would produce the characters `${secrets.` is an error rather than a secret the delegate would
resolve without anyone having configured it. In text that is final on the control plane (function names,
aliases, tags; `allow_secrets=False`) a secret reference is an error.

Secret names follow the delegate's rule (`SECRET_NAME`, no `..` path segment), so a reference that
passes `apply` also resolves on the delegate. This module is pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
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
    "is_secret_name",
    "render",
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
# Secret names as the delegate's resolver accepts them: letters, digits and _ . / - (SSM paths such as
# /prod/db-password included), at most Secrets Manager's 512 characters, never a `..` path segment.
SECRET_NAME = re.compile(r"[A-Za-z0-9_./-]{1,512}")
_SECRET_REFERENCE = _OPEN + SECRET_PREFIX
_DELEGATE_WOULD_RESOLVE = "the delegate would resolve it as a secret"


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


def is_secret_name(name: str) -> bool:
    """Whether name is acceptable as NAME in `${secrets.NAME}` (and as a `...Secret` field)."""
    return bool(SECRET_NAME.fullmatch(name)) and ".." not in name.split("/")


def _check_syntax(name: str) -> str:
    if name.startswith(SECRET_PREFIX):
        if not is_secret_name(name[len(SECRET_PREFIX) :]):
            raise ExpressionError(
                f"invalid secret reference ${{{name}}}: a secret name is 1..512 of letters, digits and _ . / -"
                " without '..' segments",
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
    for part in _scan(text):
        if isinstance(part, _Escape) and part.secret and allow_secrets:
            raise _literal_secret_error()
        if not isinstance(part, _Expr):
            continue
        name = part.name
        if name.startswith(SECRET_PREFIX):
            if not allow_secrets:
                raise _secret_not_allowed(name)
        elif not name.startswith(VARIABLE_PREFIX) and name not in allowed:
            raise ExpressionError(f"${{{name}}} is not available here", name)


def render(text: str, context: Mapping[str, str], *, allow_secrets: bool = True) -> str:
    """Substitute every `${NAME}` from context. See the module docstring for secrets and escapes.

    Raises `ExpressionError` naming the first unknown name (one absent from context), or when text for
    the delegate would contain a `${secrets.` that is not a reference written in the template.
    """
    out: list[str] = []
    references = 0
    for part in _scan(text):
        if isinstance(part, str):
            out.append(part)
        elif isinstance(part, _Escape):
            if allow_secrets and part.secret:
                raise _literal_secret_error()
            out.append(_OPEN)
        elif part.name.startswith(SECRET_PREFIX):
            if not allow_secrets:
                raise _secret_not_allowed(part.name)
            out.append(_OPEN + part.name + "}")
            references += 1
        else:
            try:
                value = context[part.name]
            except KeyError:
                raise ExpressionError(f"unknown expression ${{{part.name}}}", part.name) from None
            if allow_secrets and _SECRET_REFERENCE in value:
                raise ExpressionError(
                    f"the value of ${{{part.name}}} contains '{_SECRET_REFERENCE}'; {_DELEGATE_WOULD_RESOLVE}",
                    part.name,
                )
            out.append(value)
    rendered = "".join(out)
    # Backstop for pieces that only form `${secrets.` once joined (a value ending in "$" before "{secrets.").
    if allow_secrets and rendered.count(_SECRET_REFERENCE) != references:
        raise ExpressionError(
            f"renders to text containing a '{_SECRET_REFERENCE}' that is not a secret reference; "
            + _DELEGATE_WOULD_RESOLVE
        )
    return rendered


def _secret_not_allowed(name: str) -> ExpressionError:
    return ExpressionError(f"${{{name}}} is not allowed here: secrets are resolved only in environment values", name)


def _literal_secret_error() -> ExpressionError:
    return ExpressionError(
        f"a literal '{_SECRET_REFERENCE}' (written $${{{SECRET_PREFIX}) cannot be used here; {_DELEGATE_WOULD_RESOLVE}"
    )


def escape(text: str) -> str:
    """Text that renders back to exactly `text` with `allow_secrets=False`: every `${` becomes `$${`.
    (With `allow_secrets=True`, text containing `${secrets.` cannot be expressed; see above.)"""
    return text.replace(_OPEN, _ESCAPE)
