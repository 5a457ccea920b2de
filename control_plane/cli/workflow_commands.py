"""`apply`, `get`, `schema`, `deploy`, `rollback`, `executions`, `logs`, `cancel`, `artifacts`."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import click
import grpc

from control_plane.cli.client import Connection
from control_plane.cli.common import call, handle_errors, operator_options, output_option
from control_plane.cli.errors import EXIT_FAILED, EXIT_INVALID, EXIT_OK, CliError
from control_plane.cli.output import emit_json, emit_yaml, note, stderr, stdout, table
from control_plane.cli.render import LogPrinter, summary
from shared.pb.outrider.v1 import operator_pb2

YAML_SUFFIXES = {".yaml", ".yml"}
ENDED = {"SUCCEEDED", "FAILED", "CANCELLED", "ROLLED_BACK"}


def _read_sources(paths: tuple[Path, ...]) -> list[operator_pb2.ConfigDocument]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.suffix in YAML_SUFFIXES and p.is_file())
            if not found:
                raise CliError(f"-f {path}: no .yaml or .yml files in this directory")
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            raise CliError(f"-f {path}: no such file or directory")
    docs = []
    for f in files:
        try:
            docs.append(operator_pb2.ConfigDocument(source=str(f), text=f.read_text()))
        except (OSError, UnicodeDecodeError) as exc:
            raise CliError(f"{f}: cannot read: {exc}") from exc
    return docs


@click.command()
@click.option(
    "-f",
    "--filename",
    "paths",
    multiple=True,
    required=True,
    type=click.Path(path_type=Path),
    help="YAML file or directory (repeatable).",
)
@click.option("--dry-run", is_flag=True, help="Validate everything, store nothing.")
@output_option("json")
@operator_options
@handle_errors
def apply(paths: tuple[Path, ...], dry_run: bool, output: str | None, conn: Connection) -> None:
    """Validate and store configuration documents: all of them or none."""
    resp = call(conn, "Apply", operator_pb2.ApplyRequest(files=_read_sources(paths), dry_run=dry_run))
    doc = json.loads(resp.json)
    if output == "json":
        emit_json(doc)
        return
    for a in doc["applied"]:
        scope = f"{a['application']}/" if a.get("application") else ""
        click.echo(f"{a['kind']} {scope}{a['name']} {a['action']}" + (" (dry run)" if dry_run else ""))


@click.command()
@click.argument("kind")
@click.argument("name", required=False)
@click.option("--app", "application", help="Application of application-scoped kinds.")
@output_option("json", "yaml")
@operator_options
@handle_errors
def get(kind: str, name: str | None, application: str | None, output: str | None, conn: Connection) -> None:
    """Show stored configuration documents of one kind (or one document)."""
    resp = call(
        conn, "GetObjects", operator_pb2.GetObjectsRequest(kind=kind, name=name or "", application=application or "")
    )
    docs: list[dict[str, Any]] = json.loads(resp.json)
    shown: Any = docs[0] if name and len(docs) == 1 else docs
    if output == "json":
        emit_json(shown)
    elif output == "yaml":
        emit_yaml(shown)
    else:
        table(["KIND", "APPLICATION", "NAME"], [[d["kind"], d.get("application", ""), d["name"]] for d in docs])


@click.command()
def schema() -> None:
    """Print the JSON Schema of one configuration document (for editors)."""
    from shared.config import json_schema

    sys.stdout.write(json.dumps(json_schema(), indent=2) + "\n")


def _parse_sets(values: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise CliError(f"--set {item!r}: expected KEY=VALUE")
        out[key] = value
    return out


def _follow(conn: Connection, execution_id: str, show_logs: bool, json_mode: bool) -> None:
    """Stream an execution's log and status until it ends; resumes from the cursor after a disconnect."""
    console = stderr if json_mode else stdout
    printer = LogPrinter(console)
    cursor = ""
    failures = 0
    while True:
        channel, stub = conn.stub()
        try:
            for event in stub.WatchExecution(
                operator_pb2.WatchExecutionRequest(execution_id=execution_id, cursor=cursor),
                metadata=conn.metadata,
            ):
                cursor = event.cursor or cursor
                failures = 0
                if event.HasField("line"):
                    if show_logs:
                        printer.line(event.line)
                elif event.status and not show_logs and not json_mode:
                    note(f"{execution_id}: {event.status}")
                if event.done:
                    return
            return
        except grpc.RpcError as exc:
            if exc.code() not in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED) or failures > 30:
                raise
            failures += 1
            note(f"connection lost ({exc.code().name}); reconnecting…")
            time.sleep(min(0.5 * failures, 5))
        finally:
            channel.close()


def _finish(conn: Connection, doc: dict[str, Any], follow: bool, wait: bool, output: str | None) -> None:
    if doc["status"] not in ENDED and wait:
        if not output:
            note(
                f"{'Rollback' if doc.get('kind') == 'rollback' else 'Deployment'} {doc['id']} started"
                + ("" if follow else "; waiting for it to finish (--follow shows the log)")
            )
        _follow(conn, doc["id"], show_logs=follow, json_mode=output == "json")
        doc = json.loads(call(conn, "GetExecution", operator_pb2.GetExecutionRequest(execution_id=doc["id"])).json)
    if output == "json":
        emit_json(doc)
    else:
        summary(stdout, doc)
    if doc["status"] in ENDED:
        if doc.get("errorKind") == "invalid_input":
            click.echo(f"error: {doc.get('error')}", err=True)
            sys.exit(EXIT_INVALID)
        sys.exit(EXIT_OK if doc["status"] == "SUCCEEDED" else EXIT_FAILED)


@click.command()
@click.argument("workflow")
@click.option("--app", "application", required=True, help="Application of the workflow.")
@click.option("--artifact", "version", help="Artifact version to deploy. [default: the latest]")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help="Workflow variable (repeatable).")
@click.option("--follow", is_flag=True, help="Stream the log while it runs.")
@click.option("--no-wait", is_flag=True, help="Return as soon as the execution is queued.")
@output_option("json")
@operator_options
@handle_errors
def deploy(
    workflow: str,
    application: str,
    version: str | None,
    sets: tuple[str, ...],
    follow: bool,
    no_wait: bool,
    output: str | None,
    conn: Connection,
) -> None:
    """Deploy a workflow; waits for the end and exits 0 (succeeded) or 1 (failed/rolled back/cancelled)."""
    resp = call(
        conn,
        "Deploy",
        operator_pb2.DeployRequest(
            workflow=workflow, application=application, artifact_version=version or "", variables=_parse_sets(sets)
        ),
    )
    _finish(conn, json.loads(resp.json), follow, not no_wait, output)


@click.command()
@click.argument("execution_id")
@click.option("--follow", is_flag=True, help="Stream the log while it runs.")
@click.option("--no-wait", is_flag=True, help="Return as soon as the rollback is queued.")
@output_option("json")
@operator_options
@handle_errors
def rollback(execution_id: str, follow: bool, no_wait: bool, output: str | None, conn: Connection) -> None:
    """Restore what execution EXECUTION_ID changed (aliases, configuration, tags), as a new execution."""
    resp = call(conn, "Rollback", operator_pb2.RollbackRequest(execution_id=execution_id))
    _finish(conn, json.loads(resp.json), follow, not no_wait, output)


@click.group()
def executions() -> None:
    """Deployment and rollback executions."""


@executions.command("list")
@click.option("--app", "application", help="Only this application.")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@output_option("json")
@operator_options
@handle_errors
def executions_list(application: str | None, limit: int, output: str | None, conn: Connection) -> None:
    """List recent executions, newest first."""
    resp = call(conn, "ListExecutions", operator_pb2.ListExecutionsRequest(application=application or "", limit=limit))
    docs = json.loads(resp.json)
    if output == "json":
        emit_json(docs)
        return
    table(
        ["ID", "APP", "WORKFLOW", "KIND", "STATUS", "ARTIFACT", "CAUSE"],
        [
            [
                d["id"],
                d["application"],
                d["workflow"],
                d["kind"],
                d["status"],
                (d.get("artifact") or {}).get("version", "-"),
                d["cause"].get("trigger") or d["cause"].get("type"),
            ]
            for d in docs
        ],
    )


@executions.command("get")
@click.argument("execution_id")
@output_option("json")
@operator_options
@handle_errors
def executions_get(execution_id: str, output: str | None, conn: Connection) -> None:
    """Show one execution: status, artifact, functions, versions, aliases, steps, rollback."""
    doc = json.loads(call(conn, "GetExecution", operator_pb2.GetExecutionRequest(execution_id=execution_id)).json)
    if output == "json":
        emit_json(doc)
    else:
        summary(stdout, doc)


@click.command()
@click.argument("execution_id")
@click.option("--follow", "-f", is_flag=True, help="Keep streaming until the execution ends.")
@operator_options
@handle_errors
def logs(execution_id: str, follow: bool, conn: Connection) -> None:
    """Print an execution's log, section by section."""
    printer = LogPrinter(stdout)
    if follow:
        _follow(conn, execution_id, show_logs=True, json_mode=False)
        return
    channel, stub = conn.stub()
    try:
        for event in stub.WatchExecution(
            operator_pb2.WatchExecutionRequest(execution_id=execution_id, no_follow=True),
            metadata=conn.metadata,
            timeout=60,
        ):
            if event.HasField("line"):
                printer.line(event.line)
    finally:
        channel.close()


@click.command()
@click.argument("execution_id")
@output_option("json")
@operator_options
@handle_errors
def cancel(execution_id: str, output: str | None, conn: Connection) -> None:
    """Cancel an execution; a running step stops at its next safe point (and rolls back)."""
    doc = json.loads(call(conn, "CancelExecution", operator_pb2.CancelExecutionRequest(execution_id=execution_id)).json)
    if output == "json":
        emit_json(doc)
    else:
        note(f"{execution_id}: cancellation requested (status {doc['status']})")


@click.group()
def artifacts() -> None:
    """Artifact versions of a service, as its source reports them (listed by a delegate)."""


@artifacts.command("list")
@click.argument("service")
@click.option("--app", "application", required=True)
@output_option("json")
@operator_options
@handle_errors
def artifacts_list(service: str, application: str, output: str | None, conn: Connection) -> None:
    """List a service's artifact versions, oldest first (the last one is what `deploy` takes by default)."""
    resp = call(
        conn, "ListArtifacts", operator_pb2.ListArtifactsRequest(application=application, service=service), timeout=90
    )
    docs = json.loads(resp.json)
    if output == "json":
        emit_json(docs)
        return
    table(
        ["VERSION", "SIZE", "SHA256", "CREATED"],
        [[d["version"], d.get("size") or "-", (d.get("sha256") or "-")[:16], d.get("createdAt") or "-"] for d in docs],
    )
