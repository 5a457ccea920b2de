"""One root error for the CLI and the mapping of every failure to one line and an exit code.

Exit codes (CONTRACT.md §2): 0 ok; 1 the deployment/rollback ran and failed or was cancelled;
2 invalid input; 3 cannot reach or authenticate to the control plane.
"""

from __future__ import annotations

import grpc

EXIT_OK, EXIT_FAILED, EXIT_INVALID, EXIT_UNREACHABLE = 0, 1, 2, 3

_GRPC_EXIT = {
    grpc.StatusCode.UNAVAILABLE: EXIT_UNREACHABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED: EXIT_UNREACHABLE,
    grpc.StatusCode.UNAUTHENTICATED: EXIT_UNREACHABLE,
    grpc.StatusCode.PERMISSION_DENIED: EXIT_UNREACHABLE,
    grpc.StatusCode.INVALID_ARGUMENT: EXIT_INVALID,
    grpc.StatusCode.NOT_FOUND: EXIT_INVALID,
    grpc.StatusCode.ALREADY_EXISTS: EXIT_INVALID,
    grpc.StatusCode.FAILED_PRECONDITION: EXIT_INVALID,
    grpc.StatusCode.OUT_OF_RANGE: EXIT_INVALID,
}


class CliError(Exception):
    """A failure with a one-line message and an exit code."""

    def __init__(self, message: str, code: int = EXIT_INVALID) -> None:
        super().__init__(message)
        self.code = code


def from_grpc(exc: grpc.RpcError, server: str) -> CliError:
    code = exc.code()
    details = (exc.details() or code.name).splitlines()[0] if exc.details() else code.name
    if code == grpc.StatusCode.UNAVAILABLE:
        hint = details
        if "handshake" in details.lower() or "ssl" in details.lower():
            hint += " (TLS mismatch? use --ca-cert, or --insecure for a plaintext server)"
        return CliError(f"cannot reach the control plane at {server}: {hint}", EXIT_UNREACHABLE)
    if code == grpc.StatusCode.UNAUTHENTICATED:
        return CliError(f"control plane refused the API key: {details}", EXIT_UNREACHABLE)
    return CliError(details, _GRPC_EXIT.get(code, EXIT_INVALID if code else EXIT_UNREACHABLE))
