"""JSON Schema (draft 2020-12) for one configuration document, for editors and linters.

Generated from the pydantic models, so it cannot drift from what `apply` accepts: a `oneOf` over the kinds,
each fixing `kind` to a constant. The schema states structure, types, enums, ranges and name patterns;
rules that need code (cron syntax, S3 bucket details, unknown expressions, references between documents)
are only enforced by `outrider apply`. Pure: no I/O.
"""

from __future__ import annotations

from typing import Any

from pydantic.json_schema import models_json_schema

from shared.config.models import KINDS

__all__ = ["SCHEMA_ID", "json_schema"]

SCHEMA_ID = "https://outrider.dev/schemas/config-document.json"


def json_schema() -> dict[str, Any]:
    """The schema of one YAML document of any kind."""
    refs, top = models_json_schema(
        [(model, "validation") for model in KINDS.values()],
        by_alias=True,
        ref_template="#/$defs/{model}",
    )
    definitions: dict[str, Any] = top.get("$defs", {})
    for name, definition in definitions.items():
        # pydantic titles fields from Python names ("Memorysize"); the descriptions say more, so drop them.
        for prop in definition.get("properties", {}).values():
            prop.pop("title", None)
        if name in KINDS:
            # `kind` has a Python default (the class fixes it) but a document must state it.
            definition["required"] = ["kind", *[r for r in definition.get("required", []) if r != "kind"]]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "Outrider configuration document",
        "description": "One document of an Outrider configuration file (CONTRACT §3).",
        "type": "object",
        "required": ["kind"],
        "properties": {"kind": {"enum": list(KINDS)}},
        "oneOf": [refs[(model, "validation")] for model in KINDS.values()],
        "$defs": definitions,
    }
