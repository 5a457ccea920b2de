"""The table and JSON file every Lambda benchmark (deploy_vs_boto3, large_artifact, soak) ends with.

Pure formatting except `write_json`, which writes `.bench/<name>.json`. Each row is one metric with
the baseline measured in the same run, their ratio, the target and PASS/FAIL (or `info` for a figure
without a target), so a busy machine moves both sides of a ratio together.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

OUT_DIR = Path(".bench")
HEADER = ("metric", "value", "baseline", "ratio", "target", "result")
PASS, FAIL, INFO = "PASS", "FAIL", "info"


@dataclass(frozen=True)
class Row:
    metric: str
    value: str
    baseline: str = "-"
    ratio: str = "-"
    target: str = "-"
    result: str = INFO


def judged(ok: bool) -> str:
    return PASS if ok else FAIL


def seconds(value: float) -> str:
    return f"{value * 1000:.0f} ms" if value < 10 else f"{value:.1f} s"


def render(rows: Sequence[Row]) -> str:
    cells = [HEADER, *((r.metric, r.value, r.baseline, r.ratio, r.target, r.result) for r in rows)]
    widths = [max(len(c[i]) for c in cells) for i in range(len(HEADER))]
    lines = ["  ".join(c[i].ljust(widths[i]) for i in range(len(HEADER))).rstrip() for c in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def say(name: str, message: str) -> None:
    print(f"[bench.{name}] {message}", file=sys.stderr, flush=True)


def write_json(name: str, rows: Sequence[Row], details: dict[str, Any]) -> Path:
    """`.bench/<name>.json`: the rows, the raw measurements behind them, and where they were taken."""
    OUT_DIR.mkdir(exist_ok=True)
    load = os.getloadavg()
    doc = {
        "benchmark": name,
        "at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "load_1min_at_end": load[0]},
        "rows": [asdict(r) for r in rows],
        "passed": all(r.result != FAIL for r in rows),
        "details": details,
    }
    path = OUT_DIR / f"{name}.json"
    path.write_text(json.dumps(doc, indent=2, default=str) + "\n")
    return path
