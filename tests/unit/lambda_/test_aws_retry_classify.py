"""Retry-or-fatal for every kind of AWS failure, and the error each one becomes. No I/O."""

from __future__ import annotations

import pytest
from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ParamValidationError,
    ReadTimeoutError,
)

from delegate.aws.errors import (
    AwsAccessDenied,
    AwsConflict,
    AwsError,
    AwsInvalidRequest,
    AwsNotFound,
    AwsPreconditionFailed,
    AwsUnavailable,
    translate,
)
from delegate.aws.retry import classify


def client_error(code: str, message: str = "", status: int = 400) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "UpdateFunctionCode",
    )


@pytest.mark.parametrize(
    "exc",
    [
        client_error(
            "ResourceConflictException", "The operation cannot be performed at this time. An update is in progress", 409
        ),
        client_error("ResourceConflictException", "The function is currently in the following state: Pending", 409),
        client_error("ResourceNotReadyException", "not ready", 502),
        client_error("TooManyRequestsException", "Rate exceeded", 429),
        client_error("Throttling", "Rate exceeded", 400),
        client_error("ThrottlingException", "", 400),
        client_error("SlowDown", "", 503),
        client_error("RequestLimitExceeded", "", 400),
        client_error("ServiceException", "", 500),
        client_error("InternalError", "", 500),
        client_error("SomethingNew", "", 502),
        client_error("SomethingElse", "", 429),
        EndpointConnectionError(endpoint_url="https://lambda.us-east-1.amazonaws.com"),
        ConnectTimeoutError(endpoint_url="https://lambda.us-east-1.amazonaws.com"),
        ReadTimeoutError(endpoint_url="https://lambda.us-east-1.amazonaws.com"),
    ],
)
def test_transient_failures_are_retried(exc: Exception) -> None:
    decision = classify(exc)
    assert decision.retryable, decision.reason


@pytest.mark.parametrize(
    "exc",
    [
        client_error("ResourceConflictException", "Function already exist: shop-orders-dev", 409),
        client_error("ResourceConflictException", "Alias already exists: arn:...:dev", 409),
        client_error("InvalidParameterValueException", "The role defined for the function cannot be assumed", 400),
        client_error("ResourceNotFoundException", "Function not found", 404),
        client_error("AccessDeniedException", "", 403),
        client_error("PreconditionFailedException", "The Revision Id provided does not match", 412),
        client_error("CodeStorageExceededException", "Code storage limit exceeded", 400),
        NoCredentialsError(),
        ParamValidationError(report="Invalid value for parameter MemorySize, value: 64, valid min value: 128"),
        ValueError("not an AWS error at all"),
    ],
)
def test_everything_else_is_fatal(exc: Exception) -> None:
    decision = classify(exc)
    assert not decision.retryable
    assert decision.reason


def test_already_exists_reason_says_why() -> None:
    assert classify(client_error("ResourceConflictException", "Function already exist: f", 409)).reason == (
        "the resource already exists; waiting will not change that"
    )


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (client_error("ResourceNotFoundException", "Function not found", 404), AwsNotFound),
        (client_error("404", "", 404), AwsNotFound),
        (client_error("NoSuchKey", "", 404), AwsNotFound),
        (client_error("AccessDeniedException", "", 403), AwsAccessDenied),
        (client_error("ExpiredTokenException", "", 403), AwsAccessDenied),
        (client_error("InvalidParameterValueException", "", 400), AwsInvalidRequest),
        (client_error("ResourceConflictException", "Function already exist", 409), AwsConflict),
        (client_error("PreconditionFailedException", "", 412), AwsPreconditionFailed),
        (client_error("TooManyRequestsException", "", 429), AwsUnavailable),
        (client_error("ServiceException", "", 500), AwsUnavailable),
        (client_error("Whatever", "", 400), AwsError),
        (EndpointConnectionError(endpoint_url="https://x"), AwsUnavailable),
        (NoCredentialsError(), AwsAccessDenied),
        (ParamValidationError(report="bad"), AwsInvalidRequest),
    ],
)
def test_translation_picks_the_class_the_caller_can_act_on(exc: Exception, kind: type[AwsError]) -> None:
    error = translate(exc, operation="lambda:UpdateFunctionCode", target="function shop-orders-dev")
    assert type(error) is kind
    assert str(error).startswith("lambda:UpdateFunctionCode on function shop-orders-dev failed: ")


def test_translated_message_is_one_readable_line_with_attempts() -> None:
    error = translate(
        client_error("TooManyRequestsException", "Rate exceeded", 429),
        operation="lambda:PublishVersion",
        target="function f",
        attempts=5,
    )
    assert str(error) == (
        "lambda:PublishVersion on function f failed: TooManyRequestsException: Rate exceeded (after 5 attempts)"
    )
    assert (error.code, error.status, error.attempts) == ("TooManyRequestsException", 429, 5)
    assert "\n" not in str(translate(ParamValidationError(report="a\nb"), operation="x:Y"))
