"""`outrider-delegate`: the agent installed inside a customer VPC (CONTRACT.md §2)."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import NoReturn

import click

from delegate.config import DelegateConfig
from shared.logging_setup import configure_logging
from shared.version import __version__


def _default_spool(name: str) -> Path:
    base = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    return base / "outrider" / "delegate" / name / "spool"


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="outrider-delegate")
def main() -> None:
    """Outrider delegate: runs deployment tasks inside your network, outbound connections only."""


@main.command()
@click.option(
    "--control-plane",
    envvar="OUTRIDER_CONTROL_PLANE",
    required=True,
    metavar="HOST:PORT",
    help="Control plane gRPC address. [env OUTRIDER_CONTROL_PLANE]",
)
@click.option(
    "--token-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="File holding the delegate token. [else env OUTRIDER_DELEGATE_TOKEN]",
)
@click.option(
    "--name", envvar="OUTRIDER_DELEGATE_NAME", required=True, help="Unique delegate name. [env OUTRIDER_DELEGATE_NAME]"
)
@click.option(
    "--selector",
    "selectors",
    multiple=True,
    help="Selector this delegate offers (repeatable). [env OUTRIDER_SELECTORS, comma-separated]",
)
@click.option(
    "--max-tasks",
    type=click.IntRange(1, 256),
    default=4,
    show_default=True,
    help="Tasks run at once; polls only while a slot is free.",
)
@click.option(
    "--spool-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Durable spool for unacknowledged logs and results. [default ~/.local/state/outrider/...]",
)
@click.option("--spool-max-mb", type=click.IntRange(1, 1_000_000), default=256, show_default=True)
@click.option(
    "--secrets-dir", type=click.Path(file_okay=False, path_type=Path), help="Directory of files named after secrets."
)
@click.option("--insecure", is_flag=True, help="Plaintext gRPC (only on a trusted network).")
@click.option("--ca-cert", type=click.Path(dir_okay=False, path_type=Path), help="CA bundle to verify the server.")
@click.option("--client-cert", type=click.Path(dir_okay=False, path_type=Path), help="Client certificate (mTLS).")
@click.option("--client-key", type=click.Path(dir_okay=False, path_type=Path), help="Client key (mTLS).")
@click.option(
    "--task-signing-key",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Pinned Ed25519 public key; only tasks signed by it run.",
)
@click.option("--require-signed-tasks", is_flag=True, help="Refuse unsigned tasks.")
@click.option(
    "--grace-seconds",
    type=click.FloatRange(0, 3600),
    default=30.0,
    show_default=True,
    help="On SIGTERM, how long in-flight tasks may finish.",
)
@click.option(
    "--install-kind",
    envvar="OUTRIDER_INSTALL_KIND",
    default="shell",
    show_default=True,
    type=click.Choice(["shell", "ecs", "docker", "dev"]),
)
@click.option("--log-level", default="info", show_default=True)
@click.option("--debug", is_flag=True, help="Show tracebacks.")
def run(
    control_plane: str,
    token_file: Path | None,
    name: str,
    selectors: tuple[str, ...],
    max_tasks: int,
    spool_dir: Path | None,
    spool_max_mb: int,
    secrets_dir: Path | None,
    insecure: bool,
    ca_cert: Path | None,
    client_cert: Path | None,
    client_key: Path | None,
    task_signing_key: Path | None,
    require_signed_tasks: bool,
    grace_seconds: float,
    install_kind: str,
    log_level: str,
    debug: bool,
) -> None:
    """Register with the control plane and run tasks until stopped (SIGTERM: graceful)."""
    configure_logging(log_level)
    token = _read_token(token_file)
    if not selectors and os.environ.get("OUTRIDER_SELECTORS"):
        selectors = tuple(s.strip() for s in os.environ["OUTRIDER_SELECTORS"].split(",") if s.strip())
    if bool(client_cert) != bool(client_key):
        _usage("--client-cert and --client-key go together")
    config = DelegateConfig(
        control_plane=control_plane,
        token=token,
        name=name,
        selectors=tuple(sorted(set(selectors))),
        max_tasks=max_tasks,
        spool_dir=spool_dir or _default_spool(name),
        spool_max_bytes=spool_max_mb * 1024 * 1024,
        secrets_dir=secrets_dir,
        insecure=insecure,
        ca_cert=ca_cert,
        client_cert=client_cert,
        client_key=client_key,
        task_signing_key=task_signing_key,
        require_signed_tasks=require_signed_tasks,
        grace_seconds=grace_seconds,
        install_kind=install_kind,
        aws_endpoint_url=os.environ.get("AWS_ENDPOINT_URL"),
    )
    from delegate.main import run_delegate

    try:
        code = asyncio.run(run_delegate(config))
    except Exception as exc:
        if debug:
            raise
        click.echo(f"outrider-delegate: {exc}", err=True)
        sys.exit(1)
    sys.exit(code)


def _read_token(token_file: Path | None) -> str:
    if token_file is not None:
        try:
            token = token_file.read_text().strip()
        except OSError as exc:
            _usage(f"--token-file: cannot read {token_file}: {exc.strerror}")
    else:
        token = os.environ.get("OUTRIDER_DELEGATE_TOKEN", "").strip()
    if not token:
        _usage("no delegate token: pass --token-file F or set OUTRIDER_DELEGATE_TOKEN")
    return token


def _usage(message: str) -> NoReturn:
    click.echo(f"outrider-delegate: {message}", err=True)
    sys.exit(2)
