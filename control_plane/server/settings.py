"""Server settings: one typed object built by the CLI (flag > environment > default)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, kw_only=True)
class ServerSettings:
    listen: str = "127.0.0.1:7600"
    """gRPC address; port 0 picks a free one (tests)."""
    db_url: str
    """sqlite:///ABS/PATH.db or postgresql://..."""
    insecure: bool = False
    """Plaintext gRPC; only by explicit choice."""
    tls_cert: Path | None = None
    tls_key: Path | None = None
    client_ca: Path | None = None
    """When set, delegates and operators must present a client certificate signed by this CA (mTLS)."""
    http_listen: str | None = None
    """/metrics, /healthz, /readyz."""
    lease_ms: int = 30_000
    """How long a lease lives without a heartbeat. Must exceed 3 heartbeat intervals."""
    heartbeat_ms: int = 5_000
    poll_timeout_ms: int = 30_000
    """How long a delegate's PollTask is held when nothing is queued."""
    sweep_ms: int = 1_000
    """How often expired leases and timed-out attempts are swept."""
    artifact_poll_interval_s: float = 60.0
    signing_key: Path | None = None
    """Ed25519 private key (PEM) that signs tasks; created when missing."""
    recommended_version: str = ""
    """Delegates older than this are reported outdated; defaults to the server's own version."""
    max_attempts_default: int = 3
    task_retention_s: float = 24 * 3600
    """How long ended tasks that belong to no execution (collections, diagnostics) are kept."""
    port_file: Path | None = None
    """Write the bound gRPC port here once serving (for supervisors and tests using port 0)."""

    def __post_init__(self) -> None:
        if self.lease_ms <= 3 * self.heartbeat_ms:
            raise ValueError("lease duration must be longer than 3 heartbeat intervals")
