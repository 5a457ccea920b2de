"""Options every operator command takes, and the wrapper that turns failures into one line + exit code."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
import grpc

from control_plane.cli.client import Connection
from control_plane.cli.errors import EXIT_INVALID, CliError, from_grpc

F = TypeVar("F", bound=Callable[..., Any])


def operator_options(fn: F) -> F:
    """--server/--api-key/--insecure/TLS/--debug on each command, so they work after the subcommand too."""
    decorators = [
        click.option(
            "--server", metavar="HOST:PORT", help="Control plane address. [env OUTRIDER_SERVER; 127.0.0.1:7600]"
        ),
        click.option("--api-key", metavar="KEY", help="API key. [env OUTRIDER_API_KEY]"),
        click.option("--insecure", is_flag=True, default=None, help="Plaintext gRPC. [env OUTRIDER_INSECURE=1]"),
        click.option("--ca-cert", type=click.Path(dir_okay=False, path_type=Path), help="CA to verify the server."),
        click.option("--client-cert", type=click.Path(dir_okay=False, path_type=Path), help="Client cert (mTLS)."),
        click.option("--client-key", type=click.Path(dir_okay=False, path_type=Path), help="Client key (mTLS)."),
        click.option("--debug", is_flag=True, help="Show tracebacks."),
    ]
    for decorator in reversed(decorators):
        fn = decorator(fn)
    return fn


def output_option(*choices: str) -> Callable[[F], F]:
    return click.option(
        "-o", "--output", type=click.Choice(list(choices)), default=None, help="Machine-readable output on stdout."
    )


CONNECTION_KEYS = ("server", "api_key", "insecure", "ca_cert", "client_cert", "client_key")


def handle_errors(fn: F) -> F:
    """Pops the connection options into a Connection and maps every failure to a line and an exit code."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        debug = kwargs.pop("debug", False)
        options = {k: kwargs.pop(k, None) for k in CONNECTION_KEYS}
        conn = Connection.from_options(options)
        try:
            return fn(*args, conn=conn, **kwargs)
        except CliError as exc:
            if debug:
                raise
            click.echo(f"error: {exc}", err=True)
            sys.exit(exc.code)
        except grpc.RpcError as exc:
            if debug:
                raise
            err = from_grpc(exc, conn.server)
            click.echo(f"error: {err}", err=True)
            sys.exit(err.code)
        except (OSError, ValueError) as exc:
            if debug:
                raise
            click.echo(f"error: {exc}", err=True)
            sys.exit(EXIT_INVALID)

    return wrapper  # type: ignore[return-value]


def call(conn: Connection, method: str, request: Any, timeout: float = 30.0) -> Any:
    channel, stub = conn.stub()
    try:
        return getattr(stub, method)(request, metadata=conn.metadata, timeout=timeout)
    finally:
        channel.close()
