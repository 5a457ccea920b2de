"""`outrider server`, `admin init`, `token`, `apikey`, `delegates`, `certs`, `audit`, `tasks`."""

from __future__ import annotations

import asyncio
import datetime
import json
import os
import signal
from pathlib import Path
from typing import Any

import click

from control_plane.cli.client import Connection
from control_plane.cli.common import call, handle_errors, operator_options, output_option
from control_plane.cli.errors import EXIT_INVALID, CliError
from control_plane.cli.output import emit_json, note, table
from shared.pb.outrider.v1 import common_pb2, operator_pb2


def _ms(ts: int) -> str:
    if not ts:
        return "-"
    return datetime.datetime.fromtimestamp(ts / 1000, datetime.UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def default_signing_key(db_url: str) -> Path:
    if db_url.startswith("sqlite:///"):
        return Path(db_url[len("sqlite:///") :]).with_suffix(".signing-key.pem")
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "outrider" / "signing-key.pem"


# --- server ----------------------------------------------------------------------------------
@click.command()
@click.option("--listen", default="127.0.0.1:7600", show_default=True, metavar="HOST:PORT")
@click.option("--db", "db_url", envvar="OUTRIDER_DB", required=True, help="sqlite:///ABS/PATH.db or postgresql://...")
@click.option("--insecure", is_flag=True, help="Plaintext gRPC (only on a trusted network).")
@click.option("--tls-cert", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--tls-key", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--client-ca",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Require client certificates signed by this CA (mTLS).",
)
@click.option("--http-listen", metavar="HOST:PORT", help="Serve /metrics, /healthz, /readyz here.")
@click.option(
    "--artifact-poll-interval",
    type=click.FloatRange(1, 86400),
    default=60.0,
    show_default=True,
    help="Seconds between artifact collections for newArtifact triggers.",
)
@click.option("--lease-seconds", type=click.FloatRange(1, 3600), default=30.0, show_default=True)
@click.option("--heartbeat-seconds", type=click.FloatRange(0.1, 600), default=5.0, show_default=True)
@click.option("--poll-timeout-seconds", type=click.FloatRange(1, 300), default=30.0, show_default=True)
@click.option(
    "--signing-key",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Ed25519 key that signs tasks (created if missing). [default: beside the SQLite file]",
)
@click.option("--no-task-signing", is_flag=True, help="Do not sign tasks (not recommended).")
@click.option(
    "--sweep-seconds",
    type=click.FloatRange(0.05, 3600),
    default=1.0,
    hidden=True,
    help="How often expired leases are swept and idle pollers nudged.",
)
@click.option(
    "--port-file",
    type=click.Path(dir_okay=False, path_type=Path),
    hidden=True,
    help="Write the bound port here once serving (with --listen HOST:0).",
)
@click.option("--log-level", default="info", show_default=True)
def server(
    listen: str,
    db_url: str,
    insecure: bool,
    tls_cert: Path | None,
    tls_key: Path | None,
    client_ca: Path | None,
    http_listen: str | None,
    artifact_poll_interval: float,
    lease_seconds: float,
    heartbeat_seconds: float,
    poll_timeout_seconds: float,
    signing_key: Path | None,
    no_task_signing: bool,
    sweep_seconds: float,
    port_file: Path | None,
    log_level: str,
) -> None:
    """Run the control plane (gRPC for delegates and operators)."""
    from control_plane.server.app import serve_forever
    from control_plane.server.settings import ServerSettings
    from shared.logging_setup import configure_logging

    configure_logging(log_level)
    if not insecure and not (tls_cert and tls_key):
        _fail("TLS is on by default: pass --tls-cert and --tls-key (see `outrider certs dev`), or --insecure")
    if insecure and (tls_cert or tls_key or client_ca):
        _fail("--insecure cannot be combined with --tls-cert/--tls-key/--client-ca")
    try:
        settings = ServerSettings(
            listen=listen,
            db_url=db_url,
            insecure=insecure,
            tls_cert=tls_cert,
            tls_key=tls_key,
            client_ca=client_ca,
            http_listen=http_listen,
            lease_ms=int(lease_seconds * 1000),
            heartbeat_ms=int(heartbeat_seconds * 1000),
            poll_timeout_ms=int(poll_timeout_seconds * 1000),
            artifact_poll_interval_s=artifact_poll_interval,
            signing_key=None if no_task_signing else (signing_key or default_signing_key(db_url)),
            port_file=port_file,
            sweep_ms=int(sweep_seconds * 1000),
        )
    except ValueError as exc:
        _fail(str(exc))

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await serve_forever(settings, stop)

    try:
        asyncio.run(main())
    except OSError as exc:
        _fail(str(exc), code=3)


def _fail(message: str, code: int = EXIT_INVALID) -> None:
    click.echo(f"error: {message}", err=True)
    raise SystemExit(code)


# --- admin init ------------------------------------------------------------------------------
@click.group()
def admin() -> None:
    """Administration that talks to the database directly."""


@admin.command("init")
@click.option("--db", "db_url", envvar="OUTRIDER_DB", required=True, help="sqlite:///ABS/PATH.db or postgresql://...")
@click.option("--name", default="admin", show_default=True, help="Name of the first admin API key.")
@output_option("json")
def admin_init(db_url: str, name: str, output: str | None) -> None:
    """Create the schema and print the first admin API key (once)."""
    from control_plane.server.hashing import hash_secret, new_api_key
    from control_plane.store import open_store
    from control_plane.store.base import StoreError
    from control_plane.store.models import ApiKeyRow
    from shared.clock import now_ms

    try:
        store = open_store(db_url)
        try:
            version = store.migrate()
            if store.count_api_keys() > 0:
                _fail("already initialised: an API key exists; create more with `outrider apikey create`")
            key = new_api_key()
            store.create_api_key(ApiKeyRow(name, hash_secret(key), "admin", (), now_ms(), False))
        finally:
            store.close()
    except StoreError as exc:
        _fail(str(exc))
    except Exception as exc:  # database unreachable, bad DSN: psycopg raises its own types
        if isinstance(exc, SystemExit):
            raise
        _fail(f"--db: {exc}".splitlines()[0], code=3)
    if output == "json":
        emit_json({"apiKey": key, "name": name, "role": "admin", "schemaVersion": version})
    else:
        note(f"Schema at version {version}. Admin API key {name!r} (shown once, store it now):")
        click.echo(key)


# --- tokens ----------------------------------------------------------------------------------
@click.group()
def token() -> None:
    """Delegate tokens: create, list, rotate, revoke."""


@token.command("create")
@click.argument("name")
@click.option("--selector", "selectors", multiple=True, help="Delegates using this token may only offer these.")
@click.option(
    "--rotate", is_flag=True, help="Replace the secret of an existing token; the old one stays valid a while."
)
@click.option("--grace-seconds", type=click.IntRange(0, 30 * 86400), default=3600, show_default=True)
@output_option("json")
@operator_options
@handle_errors
def token_create(
    name: str, selectors: tuple[str, ...], rotate: bool, grace_seconds: int, output: str | None, conn: Connection
) -> None:
    """Create a delegate token and print it once, with install snippets."""
    resp = call(
        conn,
        "CreateToken",
        operator_pb2.CreateTokenRequest(
            name=name, selectors=list(selectors), rotate=rotate, grace_seconds=grace_seconds
        ),
    )
    snippets = install_snippets(conn.server, resp.token, list(resp.info.selectors), conn.insecure)
    if output == "json":
        emit_json({"token": resp.token, "name": name, "selectors": list(resp.info.selectors), "install": snippets})
        return
    note(f"Delegate token {name!r} (shown once, store it now):")
    click.echo(resp.token)
    note("\nInstall a delegate with it:")
    for kind, text in snippets.items():
        note(f"\n# {kind}\n{text}")


def install_snippets(server: str, secret: str, selectors: list[str], insecure: bool = False) -> dict[str, str]:
    """Ready-to-paste installs; the token goes to a 0600 file or a secret store, never a command line
    that `ps` shows to every user of the host."""
    sel = ",".join(selectors)
    sel_flags = "".join(f" --selector {s}" for s in selectors)
    tls = " --insecure" if insecure else ""
    return {
        "shell": (
            f"(umask 077 && echo '{secret}' > delegate.token)\n"
            f"bash deploy/shell/install.sh --control-plane {server} --token-file delegate.token "
            f"--name $(hostname){sel_flags}{tls}\n"
            "/opt/outrider-delegate/start.sh"
        ),
        "docker": (
            f"(umask 077 && printf 'OUTRIDER_DELEGATE_TOKEN=%s\\n' '{secret}' > delegate.env)\n"
            f"docker run -d --name outrider-delegate --env-file delegate.env -e OUTRIDER_CONTROL_PLANE={server} "
            f"-e OUTRIDER_DELEGATE_NAME=$(hostname) -e OUTRIDER_SELECTORS={sel} --stop-timeout 45 "
            "-v outrider-spool:/var/lib/outrider/spool outrider-delegate:latest"
        ),
        "ecs": (
            "ARN=$(aws secretsmanager create-secret --name outrider/delegate-token "
            f"--secret-string '{secret}' --query ARN --output text)\n"
            "aws cloudformation deploy --template-file deploy/ecs/delegate.yaml --stack-name outrider-delegate "
            f"--capabilities CAPABILITY_IAM --parameter-overrides ControlPlane={server} TokenSecretArn=$ARN "
            f"Selectors={sel} Image=<image> Cluster=<cluster> Subnets=<subnet-ids> SecurityGroups=<sg-ids>"
        ),
    }


@token.command("list")
@output_option("json")
@operator_options
@handle_errors
def token_list(output: str | None, conn: Connection) -> None:
    """List delegate tokens (never their secrets)."""
    resp = call(conn, "ListTokens", operator_pb2.ListTokensRequest())
    docs = [
        {
            "name": t.name,
            "selectors": list(t.selectors),
            "createdAt": _ms(t.created_at_ms),
            "lastUsedAt": _ms(t.last_used_at_ms),
            "revoked": t.revoked,
            "delegates": list(t.delegates),
        }
        for t in resp.tokens
    ]
    if output == "json":
        emit_json(docs)
        return
    table(
        ["NAME", "SELECTORS", "CREATED", "LAST USED", "REVOKED", "DELEGATES"],
        [
            [
                d["name"],
                ",".join(d["selectors"]),
                d["createdAt"],
                d["lastUsedAt"],
                d["revoked"],
                ",".join(d["delegates"]),
            ]
            for d in docs
        ],
    )


@token.command("revoke")
@click.argument("name")
@output_option("json")
@operator_options
@handle_errors
def token_revoke(name: str, output: str | None, conn: Connection) -> None:
    """Revoke a token; delegates using it are refused on their next call."""
    call(conn, "RevokeToken", operator_pb2.RevokeTokenRequest(name=name))
    if output == "json":
        emit_json({"name": name, "revoked": True})
    else:
        note(f"token {name!r} revoked")


# --- api keys --------------------------------------------------------------------------------
@click.group()
def apikey() -> None:
    """Operator API keys with roles."""


@apikey.command("create")
@click.argument("name")
@click.option("--role", type=click.Choice(["admin", "operator", "viewer"]), required=True)
@click.option("--app", "applications", multiple=True, help="Limit an operator key to these applications.")
@output_option("json")
@operator_options
@handle_errors
def apikey_create(name: str, role: str, applications: tuple[str, ...], output: str | None, conn: Connection) -> None:
    """Create an API key and print it once."""
    resp = call(
        conn, "CreateApiKey", operator_pb2.CreateApiKeyRequest(name=name, role=role, applications=list(applications))
    )
    if output == "json":
        emit_json({"apiKey": resp.api_key, "name": resp.name, "role": resp.role})
    else:
        note(f"API key {name!r} with role {role} (shown once):")
        click.echo(resp.api_key)


# --- delegates -------------------------------------------------------------------------------
@click.group()
def delegates() -> None:
    """Delegates known to the control plane."""


@delegates.command("list")
@output_option("json")
@operator_options
@handle_errors
def delegates_list(output: str | None, conn: Connection) -> None:
    """List delegates with version, selectors, load and whether they are outdated."""
    resp = call(conn, "ListDelegates", operator_pb2.ListDelegatesRequest())
    docs = [
        {
            "id": d.delegate_id,
            "name": d.name,
            "hostname": d.hostname,
            "version": d.version,
            "installKind": d.install_kind,
            "selectors": list(d.selectors),
            "maxTasks": d.max_tasks,
            "runningTasks": d.running_tasks,
            "lastSeen": _ms(d.last_seen_ms),
            "connected": d.connected,
            "token": d.token_name,
            "outdated": d.outdated,
        }
        for d in resp.delegates
    ]
    if output == "json":
        emit_json(docs)
        return
    table(
        ["NAME", "STATUS", "VERSION", "KIND", "SELECTORS", "TASKS", "LAST SEEN", "TOKEN"],
        [
            [
                d["name"],
                "connected" if d["connected"] else "disconnected",
                f"{d['version']} (outdated; recommended {resp.recommended_version})" if d["outdated"] else d["version"],
                d["installKind"],
                ",".join(d["selectors"]) or "-",
                f"{d['runningTasks']}/{d['maxTasks']}",
                d["lastSeen"],
                d["token"],
            ]
            for d in docs
        ],
    )


# --- certs -----------------------------------------------------------------------------------
@click.group()
def certs() -> None:
    """Certificates for TLS and mTLS."""


@certs.command("dev")
@click.option(
    "--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("certs"), show_default=True
)
@click.option("--host", "hosts", multiple=True, help="Names/IPs for the server certificate. [localhost, 127.0.0.1]")
def certs_dev(out_dir: Path, hosts: tuple[str, ...]) -> None:
    """Generate a throwaway CA, a server and a delegate client certificate for local use."""
    from shared.tls import generate_dev_certs

    made = generate_dev_certs(out_dir, list(hosts) or ["localhost", "127.0.0.1"])
    for field_name, path in vars(made).items():
        note(f"{field_name}: {path}")


# --- audit -----------------------------------------------------------------------------------
@click.command()
@click.option("--limit", type=click.IntRange(1, 10_000), default=100, show_default=True)
@output_option("json")
@operator_options
@handle_errors
def audit(limit: int, output: str | None, conn: Connection) -> None:
    """Show the audit log of mutating calls (who, what, when, result)."""
    resp = call(conn, "ListAudit", operator_pb2.ListAuditRequest(limit=limit))
    docs: list[dict[str, Any]] = json.loads(resp.json)
    if output == "json":
        emit_json(docs)
        return
    table(
        ["WHEN", "WHO", "ACTION", "TARGET", "RESULT"],
        [[d["at"], d["actor"], d["action"], d["target"], d["result"]] for d in docs],
    )


# --- tasks (diagnostics) ---------------------------------------------------------------------
@click.group()
def tasks() -> None:
    """Low-level tasks: submit diagnostics, inspect any task."""


@tasks.command("submit")
@click.argument("task_type", type=click.Choice(["diagnostic.noop", "diagnostic.sleep"]))
@click.option("--payload", default="{}", help="JSON payload.")
@click.option("--selector", "selectors", multiple=True)
@click.option("--max-attempts", type=click.IntRange(1, 100), default=3, show_default=True)
@output_option("json")
@operator_options
@handle_errors
def tasks_submit(
    task_type: str, payload: str, selectors: tuple[str, ...], max_attempts: int, output: str | None, conn: Connection
) -> None:
    """Queue a diagnostic task."""
    try:
        json.loads(payload)
    except ValueError as exc:
        raise CliError(f"--payload: not JSON: {exc}") from exc
    info = call(
        conn,
        "SubmitTask",
        operator_pb2.SubmitTaskRequest(
            type=task_type, payload=payload.encode(), selectors=list(selectors), max_attempts=max_attempts
        ),
    )
    if output == "json":
        emit_json(task_doc(info))
    else:
        click.echo(info.task_id)


@tasks.command("get")
@click.argument("task_id")
@output_option("json")
@operator_options
@handle_errors
def tasks_get(task_id: str, output: str | None, conn: Connection) -> None:
    """Show one task."""
    info = call(conn, "GetTask", operator_pb2.GetTaskRequest(task_id=task_id))
    doc = task_doc(info)
    if output == "json":
        emit_json(doc)
    else:
        for k, v in doc.items():
            click.echo(f"{k}: {v}")


def task_doc(info: operator_pb2.TaskInfo) -> dict[str, Any]:
    return {
        "id": info.task_id,
        "type": info.type,
        "state": common_pb2.TaskState.Name(info.state).removeprefix("TASK_STATE_"),
        "attempt": info.attempt,
        "maxAttempts": info.max_attempts,
        "delegateId": info.delegate_id,
        "error": info.error,
        "result": json.loads(info.result) if info.result else None,
        "executionId": info.execution_id,
    }
