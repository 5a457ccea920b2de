"""Turn pydantic's validation errors into (field path, problem) pairs in the user's vocabulary.

Pydantic locations use aliases (the YAML's camelCase), but they also contain steps that are not in the
user's file: the tag of a discriminated union (`spec.artifact.s3.bucket`), `[key]` for dictionary keys,
and nothing at all for the discriminator itself. `user_path` walks the location alongside the raw YAML data
and keeps only the steps that exist there. Messages are rewritten from the error type so they read like
"must be an integer, got "big"" and, for unknown fields, suggest the field the user probably meant.
"""

from __future__ import annotations

import difflib
import json
import re
import types
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic_core import ErrorDetails

_TYPE_NOUNS = {
    "string_type": "a string",
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "float_type": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
}
_DISCRIMINATOR = "source"  # the one tagged union in the documents: the artifact block


def describe(value: object) -> str:
    """A value as an error message quotes it."""
    if value is None:
        return "null"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 80 else text[:77] + "..."


def user_path(error: ErrorDetails, raw: object) -> list[str | int]:
    """The error's location as the user wrote it: steps absent from the input are dropped, except the
    last step of a `missing` error (the field the user has to add)."""
    loc = list(error["loc"])
    out: list[str | int] = []
    current: object = raw
    for position, step in enumerate(loc):
        last = position == len(loc) - 1
        if _contains(current, step):
            out.append(step)
            current = current[step]  # type: ignore[index]
        elif last and error["type"] == "missing":
            out.append(step)
        elif isinstance(current, Mapping) and current.get(_DISCRIMINATOR) == step:
            continue  # a union tag pydantic inserted: the data's `source` value
        # Anything else (`[key]` for dictionary keys) is pydantic's bookkeeping, not a field.
    ctx = error.get("ctx") or {}
    if error["type"] in ("union_tag_invalid", "union_tag_not_found"):
        out.append(_DISCRIMINATOR)
    out.extend(ctx.get("subpath", []))
    return out


def _contains(data: object, step: str | int) -> bool:
    if isinstance(data, Mapping):
        return step in data
    return isinstance(data, list) and isinstance(step, int) and 0 <= step < len(data)


def message(error: ErrorDetails, model: type[BaseModel]) -> str:
    """The problem, without location."""
    kind = error["type"]
    ctx: dict[str, Any] = dict(error.get("ctx") or {})
    value = error.get("input")
    if kind == "outrider_config":
        return str(ctx["message"])
    if kind in ("value_error", "assertion_error"):
        return str(ctx.get("error", error["msg"]))
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        return _unknown_field(error, model)
    if kind == "union_tag_invalid":
        expected = re.sub(r"'([^']*)'", r'"\1"', str(ctx["expected_tags"]))
        return f"must be one of {expected}, got {describe(ctx['tag'])}"
    if kind == "union_tag_not_found":
        return "required field is missing"
    if kind == "literal_error":
        expected = re.sub(r"'([^']*)'", r'"\1"', str(ctx["expected"]))
        return f"must be {expected}, got {describe(value)}"
    if kind == "too_short":
        minimum = ctx.get("min_length", 1)
        return "must not be empty" if minimum == 1 else f"must have at least {minimum} items"
    if kind == "too_long":
        return f"must have at most {ctx.get('max_length')} items, got {ctx.get('actual_length')}"
    if kind in _TYPE_NOUNS:
        return f"must be {_TYPE_NOUNS[kind]}, got {describe(value)}"
    text = error["msg"]
    return text[:1].lower() + text[1:]


def _unknown_field(error: ErrorDetails, model: type[BaseModel]) -> str:
    loc = list(error["loc"])
    allowed = _allowed_fields(model, loc[:-1])
    if loc == ["application"] and allowed is not None:
        return f"unknown field: {model.__name__} is not application-scoped"
    if not allowed:
        return "unknown field"
    close = difflib.get_close_matches(str(loc[-1]), allowed, n=1, cutoff=0.6)
    if close:
        return f"unknown field (did you mean {close[0]}?)"
    return f"unknown field (expected one of: {', '.join(allowed)})"


def _allowed_fields(model: type[BaseModel], loc: Sequence[str | int]) -> list[str] | None:
    """The field names (aliases) of the model found by following loc through the annotations."""
    current: Any = model
    for step in loc:
        current = _step(current, step)
        if current is None:
            return None
    current = _strip(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return [info.alias or name for name, info in current.model_fields.items()]
    return None


def _strip(annotation: Any) -> Any:
    """Unwrap Annotated[...] and `X | None` down to the type that describes the data."""
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            members = [a for a in get_args(annotation) if a is not type(None)]
            if len(members) != 1:
                return annotation
            annotation = members[0]
        else:
            return annotation


def _step(annotation: Any, step: str | int) -> Any:
    current = _strip(annotation)
    origin = get_origin(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        for name, info in current.model_fields.items():
            if step in (name, info.alias):
                return info.annotation
        return None
    if origin is list and isinstance(step, int):
        return get_args(current)[0]
    if origin is dict and isinstance(step, str):
        return get_args(current)[1]
    if origin in (Union, types.UnionType):
        # A discriminated union: the step is the tag; pick the member whose `source` literal matches.
        for member in get_args(current):
            if isinstance(member, type) and issubclass(member, BaseModel):
                source = member.model_fields.get(_DISCRIMINATOR)
                literal = source is not None and get_origin(source.annotation) is Literal
                if literal and source is not None and step in get_args(source.annotation):
                    return member
    return None
