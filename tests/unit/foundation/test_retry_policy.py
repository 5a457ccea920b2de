from __future__ import annotations

import grpc
import pytest

from shared.retry import Decision, is_fatal, is_retryable, verdict


class FakeRpcError(grpc.RpcError):
    def __init__(self, code: grpc.StatusCode) -> None:
        self._code = code

    def code(self) -> grpc.StatusCode:
        return self._code


@pytest.mark.parametrize(
    ("code", "decision"),
    [
        (grpc.StatusCode.UNAVAILABLE, Decision.RETRY),
        (grpc.StatusCode.DEADLINE_EXCEEDED, Decision.RETRY),
        (grpc.StatusCode.RESOURCE_EXHAUSTED, Decision.RETRY),
        (grpc.StatusCode.UNAUTHENTICATED, Decision.FATAL),
        (grpc.StatusCode.PERMISSION_DENIED, Decision.FATAL),
        (grpc.StatusCode.FAILED_PRECONDITION, Decision.FAIL),
        (grpc.StatusCode.NOT_FOUND, Decision.FAIL),
    ],
)
def test_each_status_has_one_decision_with_a_reason(code: grpc.StatusCode, decision: Decision) -> None:
    v = verdict(code)
    assert v.decision is decision and v.reason
    assert is_retryable(FakeRpcError(code)) is (decision is Decision.RETRY)
    assert is_fatal(FakeRpcError(code)) is (decision is Decision.FATAL)


def test_connection_errors_retry_and_others_do_not() -> None:
    assert is_retryable(ConnectionResetError())
    assert not is_retryable(ValueError("bad"))
