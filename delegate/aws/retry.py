"""Retry or fatal, decided once for every AWS call the delegate makes.

`classify(exc)` returns a decision with a one-line reason; `call_with_retry` runs an operation under
tenacity with exponential backoff and full jitter, bounded by attempts and elapsed time, using the
injected `sleep` and `clock` so tests never wait. botocore's own retries are switched off where the
clients are built (see `session.py`): one policy, in one place.

Retried:
- `ResourceConflictException` while an update is in progress or the function is Pending (Lambda's
  "The operation cannot be performed at this time"), but NOT "already exists" conflicts: those never
  resolve by waiting.
- `ResourceNotReadyException` (function still being created).
- Throttling: `TooManyRequestsException`, `Throttling`, `ThrottlingException`, `SlowDown`,
  `RequestLimitExceeded`, `EC2ThrottledException`, ... and HTTP 429.
- Any 5xx (`ServiceException`, `InternalError`, `ServiceUnavailable`, ...).
- Connection errors and timeouts (botocore `ConnectionError`, `HTTPClientError`).

Everything else is fatal on the first attempt. No I/O here besides the wrapped call itself.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError
from tenacity import RetryCallState, Retrying, retry_if_exception, wait_random_exponential

from delegate.aws.errors import client_error_code, translate

T = TypeVar("T")

_THROTTLING = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "RequestThrottledException",
        "SlowDown",
        "ProvisionedThroughputExceededException",
        "EC2ThrottledException",
        "BandwidthLimitExceeded",
        "PriorRequestNotComplete",
    }
)
_SERVER = frozenset(
    {
        "ServiceException",
        "InternalError",
        "InternalFailure",
        "InternalServerError",
        "InternalServiceError",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "RequestTimeout",
        "RequestTimeoutException",
        "EC2UnexpectedException",
    }
)


@dataclass(frozen=True)
class Decision:
    retryable: bool
    reason: str


def classify(exc: BaseException) -> Decision:
    """Whether `exc` is worth another attempt, with a one-line reason (used in logs and tests)."""
    if isinstance(exc, ClientError):
        code, message, status = client_error_code(exc)
        if code in ("ResourceConflictException", "ConflictException"):
            if "already exist" in message.lower():
                return Decision(False, "the resource already exists; waiting will not change that")
            return Decision(True, "Lambda is busy with another update (update in progress / Pending)")
        if code == "ResourceNotReadyException":
            return Decision(True, "the function is not ready yet")
        if code in _THROTTLING or status == 429:
            return Decision(True, f"throttled by AWS ({code})")
        if code in _SERVER or (status is not None and status >= 500):
            return Decision(True, f"AWS server error ({code})")
        return Decision(False, f"{code} is not transient")
    if isinstance(exc, BotoConnectionError | HTTPClientError):
        return Decision(True, f"connection problem ({type(exc).__name__})")
    return Decision(False, f"{type(exc).__name__} is not an AWS transient error")


def is_retryable(exc: BaseException) -> bool:
    return classify(exc).retryable


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    """Bounds for one AWS call. Defaults: ~60 s, like Serverless' conflict retry, with full jitter."""

    max_attempts: int = 12
    """Attempts including the first one."""
    max_elapsed: float = 60.0
    """Stop retrying once this many seconds (by the injected clock) passed since the first attempt."""
    initial: float = 0.5
    """Backoff base: attempt n waits uniform(0, min(max_wait, initial * 2**n))."""
    max_wait: float = 10.0
    """Cap of a single backoff."""


RetryListener = Callable[[str], None]


def call_with_retry(
    fn: Callable[[], T],
    *,
    operation: str,
    target: str,
    policy: RetryPolicy,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    on_retry: RetryListener | None = None,
) -> T:
    """Run `fn`, retrying transient AWS failures; raise the translated `AwsError` otherwise."""
    start = clock()

    def stop(state: RetryCallState) -> bool:
        return state.attempt_number >= policy.max_attempts or clock() - start >= policy.max_elapsed

    def before_sleep(state: RetryCallState) -> None:
        if on_retry is None or state.outcome is None or state.next_action is None:
            return
        exc = state.outcome.exception()
        if exc is None:
            return
        where = f"{operation} on {target}" if target else operation
        on_retry(
            f"{where}: {classify(exc).reason}; retrying in {state.next_action.sleep:.1f}s "
            f"(attempt {state.attempt_number + 1} of at most {policy.max_attempts})"
        )

    retrying = Retrying(
        stop=stop,
        wait=wait_random_exponential(multiplier=policy.initial, max=policy.max_wait),
        retry=retry_if_exception(is_retryable),
        sleep=sleep,
        before_sleep=before_sleep,
        reraise=True,
    )
    attempts = 0
    try:
        for attempt in retrying:
            with attempt:
                attempts = attempt.retry_state.attempt_number
                return fn()
    except Exception as exc:
        raise translate(exc, operation=operation, target=target, attempts=attempts) from exc
    raise AssertionError("unreachable: tenacity either returns or raises")  # pragma: no cover
