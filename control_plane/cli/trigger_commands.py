"""`triggers list|pause|resume|fire`: what starts deployments automatically, and how it is doing."""

from __future__ import annotations

import json
import time
from typing import Any

import click

from control_plane.cli.client import Connection
from control_plane.cli.common import call, handle_errors, operator_options, output_option
from control_plane.cli.output import emit_json, note, table
from shared.pb.outrider.v1 import operator_pb2


def when(ms: int | None, now_ms: int | None = None) -> str:
    """Epoch milliseconds as people read them next to a clock: `12s ago`, `in 3m`, `-` for never."""
    if not ms:
        return "-"
    now = now_ms if now_ms is not None else int(time.time() * 1000)
    seconds = (ms - now) / 1000
    span = abs(seconds)
    if span < 1:
        return "now"
    if span < 120:
        text = f"{span:.0f}s"
    elif span < 7200:
        text = f"{span / 60:.0f}m"
    elif span < 172_800:
        text = f"{span / 3600:.0f}h"
    else:
        return time.strftime("%Y-%m-%d %H:%MZ", time.gmtime(ms / 1000))
    return f"in {text}" if seconds > 0 else f"{text} ago"


def _paused(doc: dict[str, Any]) -> str:
    if not doc["paused"]:
        return "no"
    return f"yes ({doc['pausedBy']})" if doc.get("pausedBy") else "yes"


def _next(doc: dict[str, Any]) -> str:
    if doc.get("collecting"):
        return "collecting"
    return when(doc.get("nextRun"))


def _error(doc: dict[str, Any]) -> str:
    error = str(doc.get("lastError") or "")
    if not error:
        return "-"
    failures = doc.get("consecutiveFailures") or 0
    prefix = f"[{failures}x] " if failures > 1 else ""
    return prefix + (error if len(error) <= 100 else error[:97] + "...")


@click.group()
def triggers() -> None:
    """Triggers: deploy on each new artifact version, or on a cron schedule (UTC)."""


@triggers.command("list")
@click.option("--app", "application", help="Only this application.")
@output_option("json")
@operator_options
@handle_errors
def triggers_list(application: str | None, output: str | None, conn: Connection) -> None:
    """Each trigger with its schedule and health: last run, last success, last error, next run."""
    docs = json.loads(call(conn, "ListTriggers", operator_pb2.ListTriggersRequest(application=application or "")).json)
    if output == "json":
        emit_json(docs)
        return
    table(
        [
            "APP",
            "NAME",
            "WORKFLOW",
            "KIND",
            "SCHEDULE",
            "PAUSED",
            "STATUS",
            "LAST RUN",
            "LAST SUCCESS",
            "NEXT RUN",
            "SEEN",
            "LAST ERROR",
        ],
        [
            [
                d["application"],
                d["name"],
                d["workflow"],
                d["kind"],
                d["schedule"],
                _paused(d),
                d["status"],
                when(d.get("lastRun")),
                when(d.get("lastSuccess")),
                _next(d),
                "-" if d.get("seenVersions") is None else d["seenVersions"],
                _error(d),
            ]
            for d in docs
        ],
    )
    for d in docs:
        if d.get("note"):
            note(f"{d['application']}/{d['name']}: {d['note']}")


def _set_paused(name: str, application: str, paused: bool, output: str | None, conn: Connection) -> None:
    request = operator_pb2.SetTriggerPausedRequest(application=application, name=name, paused=paused)
    doc = json.loads(call(conn, "SetTriggerPaused", request).json)
    if output == "json":
        emit_json(doc)
    elif paused:
        note(f"Trigger {application}/{name} paused: it starts nothing until `outrider triggers resume`.")
    else:
        note(f"Trigger {application}/{name} resumed: versions that appeared while it was paused are not deployed.")


@triggers.command("pause")
@click.argument("name")
@click.option("--app", "application", required=True, help="Application of the trigger.")
@output_option("json")
@operator_options
@handle_errors
def triggers_pause(name: str, application: str, output: str | None, conn: Connection) -> None:
    """Stop a trigger from starting deployments (its source is still watched)."""
    _set_paused(name, application, True, output, conn)


@triggers.command("resume")
@click.argument("name")
@click.option("--app", "application", required=True, help="Application of the trigger.")
@output_option("json")
@operator_options
@handle_errors
def triggers_resume(name: str, application: str, output: str | None, conn: Connection) -> None:
    """Let a paused trigger start deployments again (for versions that appear from now on)."""
    _set_paused(name, application, False, output, conn)


@triggers.command("fire")
@click.argument("name")
@click.option("--app", "application", required=True, help="Application of the trigger.")
@output_option("json")
@operator_options
@handle_errors
def triggers_fire(name: str, application: str, output: str | None, conn: Connection) -> None:
    """Start the trigger's workflow now with the latest artifact version; returns once it is queued."""
    doc = json.loads(
        call(conn, "FireTrigger", operator_pb2.FireTriggerRequest(application=application, name=name)).json
    )
    if output == "json":
        emit_json(doc)
        return
    note(
        f"Trigger {application}/{name} fired: execution {doc['id']} {doc['status']} "
        f"(follow it with `outrider logs {doc['id']} --follow`)"
    )
