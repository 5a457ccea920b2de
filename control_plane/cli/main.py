"""`outrider`: the control plane and the operator CLI (CONTRACT.md §2)."""

from __future__ import annotations

import click

from control_plane.cli import admin_commands, trigger_commands, workflow_commands
from shared.version import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="outrider")
def main() -> None:
    """Outrider: continuous delivery for AWS Lambda through delegates inside your VPC.

    Operator commands find the server in --server or OUTRIDER_SERVER (default 127.0.0.1:7600),
    the API key in --api-key or OUTRIDER_API_KEY; --insecure or OUTRIDER_INSECURE=1 for plaintext.
    Exit codes: 0 ok, 1 deployment failed/cancelled, 2 invalid input, 3 control plane unreachable/auth.
    """


for command in (
    admin_commands.server,
    admin_commands.admin,
    admin_commands.token,
    admin_commands.apikey,
    admin_commands.delegates,
    admin_commands.certs,
    admin_commands.audit,
    admin_commands.tasks,
    workflow_commands.apply,
    workflow_commands.get,
    workflow_commands.schema,
    workflow_commands.deploy,
    workflow_commands.rollback,
    workflow_commands.executions,
    workflow_commands.logs,
    workflow_commands.cancel,
    workflow_commands.artifacts,
    trigger_commands.triggers,
):
    main.add_command(command)
