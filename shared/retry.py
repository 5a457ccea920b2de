"""Retry or fatal, decided in one place for every gRPC call a client makes.

Each status code maps to one decision with a one-line reason. Callers build their tenacity
predicates from `is_retryable`; nothing else in the code base inspects status codes to decide
whether to try again.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import grpc


class Decision(enum.Enum):
    RETRY = "retry"
    FATAL = "fatal"  # stop the process: nothing will change by trying again
    FAIL = "fail"  # this call failed for good, the process goes on


@dataclass(frozen=True)
class Verdict:
    decision: Decision
    reason: str


_VERDICTS: dict[grpc.StatusCode, Verdict] = {
    grpc.StatusCode.UNAVAILABLE: Verdict(Decision.RETRY, "control plane unreachable or restarting"),
    grpc.StatusCode.DEADLINE_EXCEEDED: Verdict(Decision.RETRY, "call timed out; the network may be slow"),
    grpc.StatusCode.RESOURCE_EXHAUSTED: Verdict(Decision.RETRY, "control plane is shedding load"),
    grpc.StatusCode.ABORTED: Verdict(Decision.RETRY, "concurrent update; safe to repeat"),
    grpc.StatusCode.INTERNAL: Verdict(Decision.RETRY, "server error, possibly transient"),
    grpc.StatusCode.UNKNOWN: Verdict(Decision.RETRY, "unknown error, possibly a dropped connection"),
    grpc.StatusCode.CANCELLED: Verdict(Decision.RETRY, "call cancelled, possibly by a proxy"),
    grpc.StatusCode.UNAUTHENTICATED: Verdict(Decision.FATAL, "token unknown, revoked or expired"),
    grpc.StatusCode.PERMISSION_DENIED: Verdict(Decision.FATAL, "token not allowed to do this"),
    grpc.StatusCode.FAILED_PRECONDITION: Verdict(Decision.FAIL, "the task's lease is no longer ours"),
    grpc.StatusCode.NOT_FOUND: Verdict(Decision.FAIL, "the object does not exist"),
    grpc.StatusCode.INVALID_ARGUMENT: Verdict(Decision.FAIL, "the request was malformed"),
    grpc.StatusCode.ALREADY_EXISTS: Verdict(Decision.FAIL, "the object exists already"),
    grpc.StatusCode.UNIMPLEMENTED: Verdict(Decision.FATAL, "server does not support this call; versions differ"),
}

_DEFAULT = Verdict(Decision.FAIL, "unexpected status")


def verdict(code: grpc.StatusCode | None) -> Verdict:
    if code is None:
        return Verdict(Decision.RETRY, "no status: connection-level failure")
    return _VERDICTS.get(code, _DEFAULT)


def is_retryable(exc: BaseException) -> bool:
    if isinstance(exc, grpc.RpcError):
        return verdict(exc.code()).decision is Decision.RETRY
    return isinstance(exc, ConnectionError | TimeoutError)


def is_fatal(exc: BaseException) -> bool:
    return isinstance(exc, grpc.RpcError) and verdict(exc.code()).decision is Decision.FATAL
