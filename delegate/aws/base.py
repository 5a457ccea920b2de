"""Common plumbing of the per-service wrappers: client construction, retry, error translation.

Each wrapper (LambdaClient, S3Client, ...) subclasses `ServiceClient` and exposes typed methods; a
method calls `self._call("lambda:GetFunction", "function NAME", Operation=..., **params)` which checks
the operation is declared in `OPERATIONS`, runs it under the retry policy and translates failures
into `AwsError`. Responses are untyped dicts from botocore; each wrapper converts them into frozen
dataclasses before they leave it. Network I/O happens only inside `_call` (and streaming bodies).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, ClassVar

from botocore import xform_name

from delegate.aws import operations
from delegate.aws.retry import RetryListener, RetryPolicy, call_with_retry
from delegate.aws.session import AwsSession


class ServiceClient:
    """Base of one typed wrapper per AWS service."""

    SERVICE: ClassVar[str]
    """boto3 service name ("lambda", "s3", ...); also the prefix of operation names."""

    def __init__(
        self,
        session: AwsSession,
        *,
        region: str,
        endpoint_url: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        retry: RetryPolicy | None = None,
        on_retry: RetryListener | None = None,
    ) -> None:
        self.region = region
        self.endpoint_url = endpoint_url
        self._session = session
        self._client = session.client(self.SERVICE, region=region, endpoint_url=endpoint_url)
        self._sleep = sleep
        self._clock = clock
        self._retry = retry or RetryPolicy()
        self._on_retry = on_retry

    def _call(self, operation: str, target: str, **params: Any) -> dict[str, Any]:
        """Call `operation` ("lambda:GetFunction") with boto3-style params; returns the raw response."""
        operations.check(operation)
        method = getattr(self._client, xform_name(operation.split(":", 1)[1]))
        response = call_with_retry(
            lambda: method(**params),
            operation=operation,
            target=target,
            policy=self._retry,
            sleep=self._sleep,
            clock=self._clock,
            on_retry=self._on_retry,
        )
        return response if isinstance(response, dict) else {}

    def _paginate(self, operation: str, target: str, key: str, **params: Any) -> list[dict[str, Any]]:
        """All items under `key` across pages, each page fetched (and retried) by `_call`."""
        items: list[dict[str, Any]] = []
        marker_in, marker_out = _MARKERS.get(operation, ("Marker", "NextMarker"))
        while True:
            page = self._call(operation, target, **params)
            items.extend(page.get(key) or [])
            token = page.get(marker_out)
            if not token:
                return items
            params = {**params, marker_in: token}


# (request parameter, response field) carrying the next-page token, where it is not Marker/NextMarker.
_MARKERS: dict[str, tuple[str, str]] = {
    "s3:ListObjectsV2": ("ContinuationToken", "NextContinuationToken"),
}
