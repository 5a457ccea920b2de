"""Printing: `-o json` puts one JSON document on stdout and nothing else; human text goes to stderr.

Tables for people use rich on stdout when not in JSON mode.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

import yaml
from rich.console import Console
from rich.table import Table

stderr = Console(stderr=True, highlight=False, soft_wrap=True)
stdout = Console(highlight=False, soft_wrap=True)


def emit_json(doc: Any) -> None:
    sys.stdout.write(json.dumps(doc, indent=2, sort_keys=False) + "\n")
    sys.stdout.flush()


def emit_yaml(doc: Any) -> None:
    if isinstance(doc, list):
        sys.stdout.write(yaml.safe_dump_all(doc, sort_keys=False))
    else:
        sys.stdout.write(yaml.safe_dump(doc, sort_keys=False))


def note(text: str) -> None:
    """Progress and human messages: always stderr, so stdout stays machine-readable."""
    stderr.print(text)


def table(columns: Sequence[str], rows: Sequence[Sequence[Any]], title: str | None = None) -> None:
    t = Table(title=title, show_edge=False, header_style="bold", box=None, pad_edge=False)
    for col in columns:
        t.add_column(col)
    for row in rows:
        t.add_row(*("" if v is None else str(v) for v in row))
    stdout.print(t)
