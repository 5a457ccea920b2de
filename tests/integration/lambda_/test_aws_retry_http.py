"""The retry policy end to end: real HTTP to a scripted Lambda-like server on loopback, fake sleep/clock.

Each test scripts the status codes and error types the server answers with, then checks how many
requests the wrapper made, what it slept and which `AwsError` came out. No boto3 patching.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from delegate.aws import (
    AwsAccessDenied,
    AwsConflict,
    AwsFactory,
    AwsInvalidRequest,
    AwsUnavailable,
    CredentialProvider,
    LambdaClient,
    RetryPolicy,
    StaticKeys,
)
from shared.payloads import InheritCredentials

CONFIG = {
    "FunctionName": "f",
    "FunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:f",
    "Version": "$LATEST",
    "Role": "arn:aws:iam::123456789012:role/r",
    "Runtime": "python3.12",
    "Handler": "app.handler",
    "MemorySize": 128,
    "Timeout": 3,
    "CodeSha256": "abc=",
    "State": "Active",
    "LastUpdateStatus": "Successful",
}


@dataclass
class Script:
    """Responses to give, in order; the last one repeats. Each is (status, error type, message)."""

    responses: list[tuple[int, str | None, str]] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next(self, path: str) -> tuple[int, str | None, str]:
        with self.lock:
            self.requests.append(path)
            return self.responses.pop(0) if len(self.responses) > 1 else self.responses[0]


@pytest.fixture
def scripted() -> Iterator[tuple[Script, str]]:
    script = Script()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status, error, message = script.next(self.path)
            body = json.dumps(CONFIG if error is None else {"message": message, "Type": "User"}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            if error:
                self.send_header("x-amzn-ErrorType", error)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield script, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class Clock:
    now: float = 1000.0
    sleeps: list[float] = field(default_factory=list)
    advance_per_sleep: float | None = None

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += self.advance_per_sleep if self.advance_per_sleep is not None else seconds

    def clock(self) -> float:
        return self.now


def client(endpoint: str, clock: Clock, policy: RetryPolicy, messages: list[str] | None = None) -> LambdaClient:
    provider = CredentialProvider(base_keys=StaticKeys("testing", "testing"))
    factory = AwsFactory(provider, endpoint_url=endpoint, retry=policy, sleep=clock.sleep, clock=clock.clock)
    return factory.lambda_(
        InheritCredentials(), "us-east-1", on_retry=messages.append if messages is not None else None
    )


POLICY = RetryPolicy(max_attempts=4, max_elapsed=60.0, initial=0.5, max_wait=10.0)


def test_throttling_is_retried_with_jittered_backoff_then_succeeds(scripted: tuple[Script, str]) -> None:
    script, endpoint = scripted
    script.responses = [(429, "TooManyRequestsException", "Rate exceeded")] * 2 + [(200, None, "")]
    clock, messages = Clock(), []

    config = client(endpoint, clock, POLICY, messages).get_configuration("f")

    assert config.settings.handler == "app.handler"
    assert len(script.requests) == 3
    assert len(clock.sleeps) == 2
    # Full jitter: uniform(0, initial * 2**(n-1)), capped.
    assert 0 <= clock.sleeps[0] <= 0.5
    assert 0 <= clock.sleeps[1] <= 1.0
    assert all("lambda:GetFunctionConfiguration on function f: throttled by AWS" in m for m in messages)


def test_update_in_progress_conflict_is_retried(scripted: tuple[Script, str]) -> None:
    script, endpoint = scripted
    script.responses = [
        (409, "ResourceConflictException", "The operation cannot be performed at this time. An update is in progress"),
        (200, None, ""),
    ]

    client(endpoint, Clock(), POLICY).get_configuration("f")

    assert len(script.requests) == 2


@pytest.mark.parametrize(
    ("status", "error", "message", "kind"),
    [
        (409, "ResourceConflictException", "Function already exist: f", AwsConflict),
        (400, "InvalidParameterValueException", "The role cannot be assumed", AwsInvalidRequest),
        (403, "AccessDeniedException", "not authorized to perform: lambda:GetFunctionConfiguration", AwsAccessDenied),
    ],
)
def test_fatal_errors_are_not_retried(
    scripted: tuple[Script, str], status: int, error: str, message: str, kind: type[Exception]
) -> None:
    script, endpoint = scripted
    script.responses = [(status, error, message)]
    clock = Clock()

    with pytest.raises(kind) as raised:
        client(endpoint, clock, POLICY).get_configuration("f")

    assert str(raised.value) == f"lambda:GetFunctionConfiguration on function f failed: {error}: {message}"
    assert len(script.requests) == 1
    assert clock.sleeps == []


def test_server_errors_stop_after_the_attempt_bound(scripted: tuple[Script, str]) -> None:
    script, endpoint = scripted
    script.responses = [(503, "ServiceException", "try later")]
    clock = Clock()

    with pytest.raises(AwsUnavailable, match=r"ServiceException: try later \(after 4 attempts\)"):
        client(endpoint, clock, POLICY).get_configuration("f")

    assert len(script.requests) == 4
    assert len(clock.sleeps) == 3


def test_retries_stop_when_the_time_budget_is_spent(scripted: tuple[Script, str]) -> None:
    script, endpoint = scripted
    script.responses = [(500, "ServiceException", "boom")]
    clock = Clock(advance_per_sleep=40.0)  # each backoff "takes" 40 s on the injected clock

    with pytest.raises(AwsUnavailable, match=r"\(after 3 attempts\)"):
        client(endpoint, clock, RetryPolicy(max_attempts=50, max_elapsed=60.0)).get_configuration("f")

    # Attempts at t=0 and t=40 are within the 60 s budget; after the one at t=80 it stops.
    assert len(script.requests) == 3


def test_missing_function_is_none_not_an_error(scripted: tuple[Script, str]) -> None:
    script, endpoint = scripted
    script.responses = [(404, "ResourceNotFoundException", "Function not found")]

    assert client(endpoint, Clock(), POLICY).get_function("f") is None
    assert len(script.requests) == 1


def test_connection_refused_is_retried_then_unavailable() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    clock = Clock()

    with pytest.raises(
        AwsUnavailable, match=r"lambda:GetFunctionConfiguration on function f failed: .*\(after 3 attempts\)"
    ):
        client(f"http://127.0.0.1:{port}", clock, RetryPolicy(max_attempts=3)).get_configuration("f")

    assert len(clock.sleeps) == 2
