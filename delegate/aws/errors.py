"""The one exception hierarchy for everything AWS, and the translation into it.

Every boto3/botocore failure leaves `delegate.aws` as an `AwsError` (or a subclass chosen by what the
caller can do about it), carrying one readable line that names the operation and the resource:

    lambda:UpdateFunctionConfiguration on function shop-orders-dev failed:
    InvalidParameterValueException: The role defined for the function cannot be assumed by Lambda.

No I/O here. botocore is imported only to recognise its exception classes.
"""

from __future__ import annotations

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    NoCredentialsError,
    NoRegionError,
    ParamValidationError,
    PartialCredentialsError,
)


class AwsError(Exception):
    """Root of AWS failures. `str()` is the operator-facing line."""

    def __init__(
        self,
        message: str,
        *,
        operation: str = "",
        target: str = "",
        code: str = "",
        status: int | None = None,
        attempts: int = 1,
    ) -> None:
        super().__init__(message)
        self.operation = operation
        self.target = target
        self.code = code
        self.status = status
        self.attempts = attempts


class AwsNotFound(AwsError):
    """The function, alias, version, bucket, key, secret or parameter does not exist."""


class AwsAccessDenied(AwsError):
    """Credentials missing, invalid, expired, or not allowed to do this (fix IAM, not retry)."""


class AwsInvalidRequest(AwsError):
    """AWS rejected the request's content (bad role, bad handler, limits): fix the configuration."""


class AwsConflict(AwsError):
    """The resource already exists, or kept being busy after every retry."""


class AwsPreconditionFailed(AwsError):
    """RevisionId / CodeSha256 precondition failed: someone else changed the function meanwhile."""


class AwsUnavailable(AwsError):
    """Throttling, 5xx or connection errors that persisted through every retry."""


class AwsUpdateFailed(AwsError):
    """Lambda accepted an update but reported LastUpdateStatus/State `Failed` (reason included)."""


class AwsTimeout(AwsError):
    """A wait (function becoming Active / update Successful) exceeded its bound."""


_NOT_FOUND = frozenset(
    {
        "ResourceNotFoundException",
        "NoSuchKey",
        "NoSuchBucket",
        "NoSuchVersion",
        "NoSuchUpload",
        "NotFound",
        "404",
        "ParameterNotFound",
        "ParameterVersionNotFound",
    }
)
_ACCESS_DENIED = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "UnauthorizedOperation",
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "ExpiredTokenException",
        "403",
        "KMSAccessDeniedException",
        "AllAccessDisabled",
    }
)
_INVALID = frozenset(
    {
        "InvalidParameterValueException",
        "ValidationException",
        "InvalidRequestContentException",
        "InvalidArgument",
        "InvalidBucketName",
        "CodeStorageExceededException",
        "CodeVerificationFailedException",
        "InvalidCodeSignatureException",
        "RequestTooLargeException",
        "InvalidZipFileException",
        "InvalidRuntimeException",
        "InvalidRequest",
        "MalformedXML",
        "EntityTooSmall",
        "InvalidPart",
        "InvalidPartOrder",
    }
)
_CONFLICT = frozenset({"ResourceConflictException", "ConflictException", "ResourceInUseException"})
_PRECONDITION = frozenset({"PreconditionFailedException", "PreconditionFailed", "412"})


def client_error_code(exc: ClientError) -> tuple[str, str, int | None]:
    """(code, message, http status) of a botocore ClientError; tolerant of bodiless 404s."""
    response = exc.response if isinstance(exc.response, dict) else {}
    error = response.get("Error") or {}
    status = (response.get("ResponseMetadata") or {}).get("HTTPStatusCode")
    code = str(error.get("Code") or (status if status is not None else "Unknown"))
    message = str(error.get("Message") or "").strip()
    return code, message, status if isinstance(status, int) else None


def translate(exc: BaseException, *, operation: str, target: str = "", attempts: int = 1) -> AwsError:
    """Turn a botocore failure into the matching `AwsError` with one readable message."""
    where = f"{operation} on {target}" if target else operation
    suffix = f" (after {attempts} attempts)" if attempts > 1 else ""
    if isinstance(exc, AwsError):
        return exc
    if isinstance(exc, ClientError):
        code, message, status = client_error_code(exc)
        text = f"{where} failed: {code}" + (f": {message}" if message else "") + suffix
        kind: type[AwsError]
        if code in _NOT_FOUND:
            kind = AwsNotFound
        elif code in _ACCESS_DENIED:
            kind = AwsAccessDenied
        elif code in _PRECONDITION:
            kind = AwsPreconditionFailed
        elif code in _CONFLICT:
            kind = AwsConflict
        elif code in _INVALID:
            kind = AwsInvalidRequest
        elif status is not None and (status >= 500 or status == 429):
            kind = AwsUnavailable
        elif status == 404:
            kind = AwsNotFound
        elif status == 403:
            kind = AwsAccessDenied
        else:
            kind = AwsError
        if code in {"Throttling", "ThrottlingException", "TooManyRequestsException", "SlowDown"}:
            kind = AwsUnavailable
        return kind(text, operation=operation, target=target, code=code, status=status, attempts=attempts)
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return AwsAccessDenied(
            f"{where} failed: no usable AWS credentials on this delegate "
            "(instance profile, task role, environment or shared config)",
            operation=operation,
            target=target,
            code=type(exc).__name__,
        )
    if isinstance(exc, ParamValidationError):
        # botocore refused the request before sending it (e.g. MemorySize below 128).
        text = " ".join(str(exc).split())
        return AwsInvalidRequest(f"{where} failed: {text}", operation=operation, target=target, code="ParamValidation")
    if isinstance(exc, NoRegionError):
        return AwsInvalidRequest(f"{where} failed: no AWS region given", operation=operation, target=target)
    if isinstance(exc, BotoCoreError):
        return AwsUnavailable(
            f"{where} failed: {exc}{suffix}",
            operation=operation,
            target=target,
            code=type(exc).__name__,
            attempts=attempts,
        )
    return AwsError(
        f"{where} failed: {type(exc).__name__}: {exc}{suffix}",
        operation=operation,
        target=target,
        code=type(exc).__name__,
        attempts=attempts,
    )
