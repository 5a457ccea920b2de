"""Documents as `outrider get` prints them: the YAML shape, camelCase, defaults filled in.

The output of `documents_to_yaml` is valid input for `outrider apply` and reads back to the same
documents. Pure: no I/O.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import yaml

from shared.config.models import DocumentBase

__all__ = ["documents_to_json", "documents_to_yaml"]


def documents_to_json(documents: Sequence[DocumentBase]) -> str:
    """A JSON array of the documents (`-o json`: one JSON document on stdout)."""
    return json.dumps([doc.to_dict() for doc in documents], indent=2, ensure_ascii=False)


def documents_to_yaml(documents: Sequence[DocumentBase]) -> str:
    """A multi-document YAML stream, documents separated by `---`."""
    return yaml.safe_dump_all(
        [doc.to_dict() for doc in documents], sort_keys=False, allow_unicode=True, explicit_start=True
    )
