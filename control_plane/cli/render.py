"""Human rendering of executions and log lines (stdout), kept apart from the JSON documents."""

from __future__ import annotations

import datetime
from typing import Any

from rich.console import Console
from rich.text import Text

from shared.pb.outrider.v1 import common_pb2

STATUS_STYLE = {
    "SUCCEEDED": "bold green",
    "FAILED": "bold red",
    "ROLLED_BACK": "bold yellow",
    "CANCELLED": "yellow",
    "RUNNING": "cyan",
    "QUEUED": "dim",
}
LEVEL_STYLE = {"ERROR": "red", "WARN": "yellow"}


class LogPrinter:
    """Prints log lines with a header whenever the section changes (as Harness shows command units)."""

    def __init__(self, console: Console) -> None:
        self._console = console
        self._section: str | None = None

    def line(self, line: common_pb2.LogLine) -> None:
        if line.section != self._section:
            self._section = line.section
            if line.section:
                self._console.print(Text(f"── {line.section} ", style="bold"))
        ts = datetime.datetime.fromtimestamp(line.ts_ms / 1000, datetime.UTC).strftime("%H:%M:%S")
        text = Text(f"{ts}  ", style="dim")
        text.append(line.text, style=LEVEL_STYLE.get(line.level, ""))
        self._console.print(text)

    def status(self, status: str) -> None:
        self._console.print(Text(f"● {status}", style=STATUS_STYLE.get(status, "")))


def summary(console: Console, doc: dict[str, Any]) -> None:
    status = doc["status"]
    kind = "Rollback" if doc.get("kind") == "rollback" else "Deployment"
    title = Text(f"{kind} {doc['id']} ", style="bold")
    title.append(status, style=STATUS_STYLE.get(status, ""))
    title.append(f"   {doc['application']}/{doc['workflow']}", style="dim")
    console.print(title)
    if doc.get("targetExecutionId"):
        console.print(f"  restores the state from before {doc['targetExecutionId']}")
    artifact = doc.get("artifact")
    if artifact:
        sha = (artifact.get("sha256") or "")[:12]
        console.print(f"  artifact  {artifact['version']}" + (f"  (sha256 {sha}…)" if sha else ""))
    for f in doc.get("functions", []):
        aliases = ", ".join(f"{a} → {v}" for a, v in f.get("aliases", {}).items()) or "no aliases"
        change = "changed" if f.get("changed") else "no changes"
        console.print(f"  λ {f['name']}  version {f.get('version') or '-'}  [{aliases}]  {change}")
    for step in doc.get("steps", []):
        mark = {"SUCCEEDED": "✓", "FAILED": "✗", "SKIPPED": "-", "CANCELLED": "⊘"}.get(step["status"], "…")
        console.print(
            f"  {mark} {step['name']}: {step['status']}" + (f" — {step['error']}" if step.get("error") else "")
        )
    rollback = doc.get("rollback")
    if rollback:
        console.print(
            f"  rollback {rollback.get('status')}: restored {', '.join(rollback.get('functions', [])) or '-'}"
            + (f"; deleted {', '.join(rollback['deleted'])}" if rollback.get("deleted") else "")
        )
    if doc.get("changed") is False and status == "SUCCEEDED" and doc.get("kind") == "deploy":
        console.print("  no changes: code and configuration already matched; nothing published")
    if doc.get("error") and status != "SUCCEEDED":
        console.print(Text(f"  error: {doc['error']}", style="red"))
