"""A typed handle on one boto3 session, and the one place botocore clients are configured.

boto3 sessions are not thread-safe, but the clients they create are; `AwsSession.client` builds each
(service, region, endpoint) client once under a lock and hands the same client to every thread.
botocore's own retries are disabled (`total_max_attempts=1`) because `delegate.aws.retry` owns the
policy. Building a client loads service models from disk (the only I/O here); no network calls.
"""

from __future__ import annotations

import threading
from typing import Any

from botocore.config import Config

from shared.version import __version__

# Lambda UpdateFunctionCode with a 50 MB body and S3 multipart parts need generous read timeouts.
_CONNECT_TIMEOUT = 10
_READ_TIMEOUT = 120


class AwsSession:
    """Credentials (a boto3 session) plus a cache of clients made from them."""

    def __init__(self, boto_session: Any, *, description: str) -> None:
        self._boto = boto_session
        self.description = description
        self._lock = threading.Lock()
        self._clients: dict[tuple[str, str, str | None], Any] = {}

    def client(self, service: str, *, region: str, endpoint_url: str | None = None) -> Any:
        """A botocore client; `endpoint_url=None` keeps botocore's `AWS_ENDPOINT_URL*` handling."""
        key = (service, region, endpoint_url)
        with self._lock:
            cached = self._clients.get(key)
            if cached is not None:
                return cached
            config = Config(
                retries={"total_max_attempts": 1, "mode": "standard"},
                connect_timeout=_CONNECT_TIMEOUT,
                read_timeout=_READ_TIMEOUT,
                tcp_keepalive=True,
                user_agent_appid=f"outrider-{__version__}",
                # A local endpoint (moto, LocalStack) has no per-bucket DNS names.
                s3={"addressing_style": "path"} if endpoint_url else None,
            )
            created = self._boto.client(service, region_name=region, endpoint_url=endpoint_url, config=config)
            self._clients[key] = created
            return created

    def __repr__(self) -> str:
        return f"AwsSession({self.description})"
