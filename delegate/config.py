"""Delegate settings: one typed object. Precedence: command-line flag > environment variable > default.

The environment names are part of the contract (CONTRACT.md §2): OUTRIDER_CONTROL_PLANE,
OUTRIDER_DELEGATE_TOKEN, OUTRIDER_DELEGATE_NAME, OUTRIDER_SELECTORS (comma-separated).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True, kw_only=True)
class DelegateConfig:
    control_plane: str
    """HOST:PORT of the control plane's gRPC endpoint."""
    token: str = field(repr=False)
    """The delegate token (never logged; masked in task logs)."""
    name: str
    """Unique name of this delegate; its identity stays stable across restarts."""
    selectors: tuple[str, ...] = ()
    """Tasks requiring selectors run only on delegates having all of them."""
    max_tasks: int = 4
    """Tasks run at once; the delegate polls only while it has a free slot."""
    spool_dir: Path
    """Unacknowledged log batches and results live here until the control plane has them."""
    spool_max_bytes: int = 256 * 1024 * 1024
    secrets_dir: Path | None = None
    """Files named after secrets (`${secrets.NAME}` -> DIR/NAME)."""
    insecure: bool = False
    ca_cert: Path | None = None
    client_cert: Path | None = None
    client_key: Path | None = None
    task_signing_key: Path | None = None
    """Pinned Ed25519 public key (raw or PEM). When set, only tasks signed by it run."""
    require_signed_tasks: bool = False
    """Refuse unsigned tasks even when no key is pinned (the key then comes from Register)."""
    grace_seconds: float = 30.0
    """On SIGTERM: how long in-flight tasks may run before they are handed back."""
    install_kind: str = "shell"
    hostname: str = ""
    aws_endpoint_url: str | None = None
    """Local AWS endpoint (moto) for demos and tests; normally unset."""
