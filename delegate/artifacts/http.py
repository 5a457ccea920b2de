"""The one HTTP client artifact sources use: JSON documents, HEAD, and resumable verified downloads.

Jenkins, Artifactory, Nexus and custom-script URLs all go through `HttpClient`, so retries,
credentials, error translation and streaming are decided once, here:

* Retry or fatal is decided by `classify` (one line of reason per case) and applied with tenacity:
  exponential backoff with full jitter, bounded by attempts and elapsed time, using the injected
  `sleep` and `clock` so tests never wait. urllib3's own retries are off except for redirects.
* Status codes become the errors of `delegate.artifacts.base`: 401/403 -> ArtifactAuthError,
  404/410 -> ArtifactNotFound, 429/5xx and connection failures -> retried, then ArtifactUnavailable;
  anything else -> ArtifactError. Every message is one line naming the server and what was asked.
* Credentials are headers from `HttpAuth`; they are sent only to the origin of the server's URL and
  urllib3 strips them on cross-origin redirects (the API-key header too), so a download URL on
  another host never sees them. Messages describe credentials by user and secret NAME, never value,
  and show URLs without user-info or query string.
* `download()` yields a stream that holds at most one chunk: the caller reads in pieces, the body
  comes off the socket as it reads. The SHA-256 (else SHA-1) is updated with every chunk and compared
  at end of stream (ArtifactInvalid on mismatch), so the caller must read to EOF before trusting it.
  `Accept-Encoding: identity` and `decode_content=False` keep the bytes exactly as stored.
* When the connection drops mid-body the stream reconnects and continues at the byte it had reached:
  with `Range` (and `If-Range`) when the server advertised `Accept-Ranges: bytes`, otherwise by
  fetching again and discarding what was already delivered. A changed ETag means the file changed
  under us; that is refused rather than splicing two different files.

I/O: every `HttpClient` method and every read of a download stream does network I/O; construction
does none (urllib3 connects lazily). `verified()` only reads the stream it is given.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO, Final, TypeVar
from urllib.parse import urlsplit, urlunsplit

import urllib3
from pydantic import BaseModel, ValidationError
from tenacity import RetryCallState, Retrying, retry_if_exception, wait_random_exponential
from urllib3.exceptions import (
    HTTPError,
    MaxRetryError,
    NameResolutionError,
    NewConnectionError,
    ProtocolError,
    SSLError,
)
from urllib3.exceptions import TimeoutError as Urllib3Timeout

from delegate.artifacts.base import (
    ArtifactAuthError,
    ArtifactError,
    ArtifactInvalid,
    ArtifactNotFound,
    ArtifactUnavailable,
)
from shared.version import __version__

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

CHUNK_SIZE: Final = 1 << 20
"""Bytes per read from the socket and size of the stream's buffer: the memory a download holds."""

MAX_DOCUMENT_BYTES: Final = 64 << 20
"""Largest JSON/text document read into memory (an Artifactory deep listing of a big repository)."""

_NO_HEAD: Final = frozenset({405, 501})  # servers that do not implement HEAD for a path

API_KEY_HEADERS: Final = frozenset({"x-jfrog-art-api"})
"""Credential headers urllib3 does not know about; stripped on cross-origin redirects like Authorization."""

# Statuses worth another attempt, with why; every other status is final on the first answer.
TRANSIENT_STATUSES: Final[Mapping[int, str]] = {
    408: "the server timed out waiting for the request",
    429: "rate limited by the server",
    500: "server error, often a restart or a brief overload",
    502: "bad gateway: a proxy lost its upstream for a moment",
    503: "service unavailable: starting up, in maintenance or overloaded",
    504: "gateway timeout: the upstream was slow this once",
}


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    """Bounds for one request (or one resume of a download); backoff is full jitter."""

    max_attempts: int = 5
    """Attempts including the first one."""
    max_elapsed: float = 120.0
    """Stop retrying once this many seconds (by the injected clock) passed since the first attempt."""
    initial: float = 0.5
    """Backoff base: attempt n waits uniform(0, min(max_wait, initial * 2**(n-1)))."""
    max_wait: float = 20.0
    """Cap of a single backoff."""


@dataclass(frozen=True)
class Decision:
    retryable: bool
    reason: str


class _TransientStatus(Exception):
    """A 408/429/5xx answer, raised inside the retry loop so tenacity can try again."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"HTTP {status}{': ' + detail if detail else ''}")
        self.status = status


class _Truncated(Exception):
    """The body ended before Content-Length bytes arrived without urllib3 noticing (no length check)."""


def classify(exc: BaseException) -> Decision:
    """Whether `exc` is worth another attempt, with a one-line reason (used in messages and tests)."""
    if isinstance(exc, _TransientStatus):
        return Decision(True, TRANSIENT_STATUSES.get(exc.status, "server error"))
    if isinstance(exc, _Truncated):
        return Decision(True, "the body ended early")
    if isinstance(exc, MaxRetryError):
        # urllib3 wraps connect/read failures of the request itself in MaxRetryError (our urllib3
        # retries are zero); the reason inside decides.
        return classify(exc.reason) if exc.reason is not None else Decision(True, "request failed")
    if isinstance(exc, SSLError):
        return Decision(False, "TLS failed (certificate or protocol); retrying will not fix it")
    if isinstance(exc, NameResolutionError):
        return Decision(True, "host name did not resolve; DNS may be briefly unavailable")
    if isinstance(exc, NewConnectionError):
        return Decision(True, "connection refused or unreachable; the server may be restarting")
    if isinstance(exc, Urllib3Timeout | TimeoutError):
        return Decision(True, "timed out; the network or the server is slow")
    if isinstance(exc, ProtocolError | ConnectionError):
        return Decision(True, "connection dropped")
    return Decision(False, f"{type(exc).__name__} is not a transient network error")


def is_retryable(exc: BaseException) -> bool:
    return classify(exc).retryable


def redact(url: str) -> str:
    """`url` fit for a message: no user-info (may hold a password), no query string."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def origin(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) with the default port filled in: what decides where credentials may go."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), parts.port or (443 if scheme == "https" else 80)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, MaxRetryError) and exc.reason is not None:
        return _describe(exc.reason)
    text = str(exc) or type(exc).__name__
    # urllib3 prefixes connection errors with the connection object's repr; it helps nobody.
    return re.sub(r"^<[^>]*>: ", "", text).replace("\n", " ")


class HttpAuth:
    """Credential headers, plus a description of them that carries no value (for messages)."""

    __slots__ = ("_headers", "description")

    def __init__(self, headers: Mapping[str, str], description: str) -> None:
        self._headers = dict(headers)
        self.description = description

    @classmethod
    def basic(cls, username: str, password: str, *, secret_name: str) -> HttpAuth:
        token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
        return cls({"Authorization": f"Basic {token}"}, f"user '{username}' with secret '{secret_name}'")

    @classmethod
    def header(cls, name: str, value: str, *, secret_name: str) -> HttpAuth:
        return cls({name: value}, f"header {name} from secret '{secret_name}'")

    def headers(self) -> dict[str, str]:
        return dict(self._headers)

    def __repr__(self) -> str:
        return f"HttpAuth({self.description})"


@dataclass(frozen=True, kw_only=True)
class Expected:
    """What the downloaded bytes must be; None means unknown (not checked)."""

    sha256: str | None = None
    sha1: str | None = None
    size: int | None = None


@dataclass(frozen=True)
class Head:
    """What a HEAD answered about a file."""

    size: int | None
    accept_ranges: bool
    etag: str | None
    last_modified: str | None


class _Digests:
    """A running checksum of a stream and the comparison at its end.

    One algorithm is enough: SHA-256 when it is known, else SHA-1. Hashing costs about as much CPU as
    receiving the bytes, so a second, weaker digest would only slow every download down.
    """

    def __init__(self, expect: Expected, label: str) -> None:
        self._label = label
        self._size = expect.size
        self._algorithm: str | None = None
        self._want = ""
        self._hash: hashlib._Hash | None = None
        self.count = 0
        self.expect(sha256=expect.sha256, sha1=expect.sha1)

    def expect(self, *, sha256: str | None, sha1: str | None) -> None:
        """Adopt a checksum unless one is set already (the caller's promise beats response headers)."""
        if self._algorithm is not None:
            return
        algorithm, hexdigest = ("sha256", sha256) if sha256 else ("sha1", sha1)
        if hexdigest:
            self._algorithm, self._want = algorithm, hexdigest.strip().lower()
            self._hash = hashlib.new(algorithm)

    def update(self, data: bytes | memoryview) -> None:
        if self._hash is not None:
            self._hash.update(data)
        self.count += len(data)

    def verify(self) -> None:
        if self._size is not None and self.count != self._size:
            raise ArtifactInvalid(
                f"{self._label}: expected {self._size} bytes, received {self.count}; refusing the artifact"
            )
        if self._hash is not None and (got := self._hash.hexdigest()) != self._want:
            raise ArtifactInvalid(
                f"{self._label}: {self._algorithm} mismatch: expected {self._want}, got {got} "
                f"over {self.count} bytes; refusing the artifact"
            )


class HttpClient:
    """HTTP to one artifact server (or, without `base_url`, to plain download URLs)."""

    def __init__(
        self,
        *,
        name: str,
        base_url: str | None = None,
        auth: HttpAuth | None = None,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        on_retry: Callable[[str], None] | None = None,
        timeout: float = 60.0,
        chunk_size: int = CHUNK_SIZE,
        pool: urllib3.PoolManager | None = None,
    ) -> None:
        """`name` starts every message ("jenkins 'ci-main'"); `auth` goes only to `base_url`'s origin."""
        if auth is not None and base_url is None:
            raise ValueError("credentials need the base_url whose origin may receive them")
        self.name = name
        self._auth = auth
        self._auth_origin = origin(base_url) if base_url else None
        self._retry = retry or RetryPolicy()
        self._sleep = sleep
        self._clock = clock
        self._on_retry = on_retry
        self._chunk_size = chunk_size
        self._timeout = urllib3.Timeout(connect=min(timeout, 10.0), read=timeout)
        self._pool = pool or urllib3.PoolManager(num_pools=4, maxsize=4)
        self._urllib3_retries = urllib3.Retry(
            total=None,
            connect=0,
            read=0,
            status=0,
            other=0,
            redirect=5,
            raise_on_status=False,
            remove_headers_on_redirect=urllib3.Retry.DEFAULT_REMOVE_HEADERS_ON_REDIRECT | API_KEY_HEADERS,
        )

    # --- public ----------------------------------------------------------------------------------

    def get_json(self, url: str, *, subject: str) -> object:
        """The JSON document at `url`; `subject` names what it is for messages ("job 'a/b'")."""
        body = self._with_retries(
            lambda: self._read_document(url, subject, "application/json"),
            action=f"GET {redact(url)}",
        )
        try:
            return json.loads(body)
        except ValueError:
            raise ArtifactError(
                f"{self.name}: {subject}: GET {redact(url)} did not return JSON: {_preview(body)!r}"
            ) from None

    def get_model(self, url: str, *, subject: str, model: type[M]) -> M:
        """`get_json` validated into `model`; a document of another shape is one readable ArtifactError."""
        document = self.get_json(url, subject=subject)
        try:
            return model.model_validate(document)
        except ValidationError as exc:
            problem = exc.errors()[0]
            where = ".".join(str(part) for part in problem["loc"]) or "document"
            raise ArtifactError(
                f"{self.name}: {subject}: unexpected answer from GET {redact(url)}: {where}: {problem['msg']}"
            ) from None

    def get_text(self, url: str, *, subject: str, limit: int = 64 << 10) -> str:
        """A small text file (a checksum sidecar); refuses anything over `limit` bytes."""
        body = self._with_retries(
            lambda: self._read_document(url, subject, "text/plain, */*", limit=limit),
            action=f"GET {redact(url)}",
        )
        return body.decode("utf-8", errors="replace")

    def head(self, url: str, *, subject: str) -> Head:
        """What a HEAD says about `url`; all unknown when the server does not do HEAD (405/501)."""

        def attempt() -> Head:
            response = self._send("HEAD", url, subject=subject, allow=_NO_HEAD)
            response.release_conn()
            if response.status in _NO_HEAD:
                return Head(size=None, accept_ranges=False, etag=None, last_modified=None)
            return _head_of(response)

        return self._with_retries(attempt, action=f"HEAD {redact(url)}")

    @contextmanager
    def download(
        self, url: str, *, subject: str, expect: Expected | None = None, checksum_headers: bool = False
    ) -> Iterator[BinaryIO]:
        """A stream of the file at `url`, verified against `expect` when it reaches EOF.

        `checksum_headers`: when `expect` has no checksum, verify against the X-Checksum-Sha256 (or
        -Sha1) response header (Artifactory sends them; it guards the transfer, not the server).
        The request happens when the context is entered, so 401/404 surface there.
        """
        body = _ResumableBody(self, url, subject, expect or Expected(), checksum_headers)
        reader = io.BufferedReader(body, buffer_size=self._chunk_size)
        try:
            body.start()
            yield reader
        finally:
            reader.close()

    # --- internals shared with the download stream -----------------------------------------------

    def _headers(self, url: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        headers = {"User-Agent": f"outrider-delegate/{__version__}", "Accept-Encoding": "identity"}
        if self._auth is not None and origin(url) == self._auth_origin:
            headers.update(self._auth.headers())
        if extra:
            headers.update(extra)
        return headers

    def _send(
        self,
        method: str,
        url: str,
        *,
        subject: str,
        headers: Mapping[str, str] | None = None,
        allow: frozenset[int] = frozenset(),
    ) -> urllib3.BaseHTTPResponse:
        """One request; a 2xx (or `allow`ed) response with its body unread, or the matching error."""
        response = self._pool.request(
            method,
            url,
            headers=self._headers(url, headers),
            preload_content=False,
            decode_content=False,
            retries=self._urllib3_retries,
            timeout=self._timeout,
        )
        if 200 <= response.status < 300 or response.status in allow:
            return response
        try:
            detail = "" if method == "HEAD" else _error_detail(response)
        finally:
            _discard(response)
        raise self._status_error(response.status, method, url, subject, detail)

    def _status_error(self, status: int, method: str, url: str, subject: str, detail: str) -> Exception:
        where = f"{method} {redact(url)} answered HTTP {status}{' (' + detail + ')' if detail else ''}"
        if status in TRANSIENT_STATUSES or (status >= 500 and status != 501):
            return _TransientStatus(status, detail)
        if status in (401, 403):
            who = self._auth.description if self._auth else "anonymous, no credentials configured"
            problem = "credentials refused" if status == 401 else "access denied"
            return ArtifactAuthError(f"{self.name}: {subject}: {problem} ({who}): {where}")
        if status in (404, 410):
            return ArtifactNotFound(f"{self.name}: {subject} not found: {where}")
        return ArtifactError(f"{self.name}: {subject}: {where}")

    def _read_document(self, url: str, subject: str, accept: str, limit: int = MAX_DOCUMENT_BYTES) -> bytes:
        response = self._send("GET", url, subject=subject, headers={"Accept": accept})
        parts: list[bytes] = []
        size = 0
        try:
            while chunk := response.read(self._chunk_size):
                size += len(chunk)
                if size > limit:
                    raise ArtifactError(f"{self.name}: {subject}: GET {redact(url)} is larger than {limit} bytes")
                parts.append(chunk)
        except BaseException:
            _discard(response)
            raise
        response.release_conn()
        return b"".join(parts)

    def _with_retries(self, fn: Callable[[], T], *, action: str) -> T:
        """Run `fn` under the retry policy; exhausted or fatal network errors become ArtifactErrors."""
        start = self._clock()
        policy = self._retry
        attempts = 0

        def stop(state: RetryCallState) -> bool:
            return state.attempt_number >= policy.max_attempts or self._clock() - start >= policy.max_elapsed

        def before_sleep(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            if self._on_retry is None or exc is None or state.next_action is None:
                return
            self._on_retry(
                f"{self.name}: {action}: {_describe(exc)} ({classify(exc).reason}); retrying in "
                f"{state.next_action.sleep:.1f}s (attempt {state.attempt_number + 1} of {policy.max_attempts})"
            )

        def counted() -> T:
            nonlocal attempts
            attempts += 1
            return fn()

        retrying = Retrying(
            stop=stop,
            wait=wait_random_exponential(multiplier=policy.initial, max=policy.max_wait),
            retry=retry_if_exception(is_retryable),
            sleep=self._sleep,
            before_sleep=before_sleep,
            reraise=True,
        )
        try:
            return retrying(counted)
        except (HTTPError, OSError, _TransientStatus, _Truncated) as exc:
            decision = classify(exc)
            if decision.retryable:
                tries = f"{attempts} attempt{'s' if attempts != 1 else ''}"
                raise ArtifactUnavailable(
                    f"{self.name}: {action} failed after {tries}: {_describe(exc)} ({decision.reason})"
                ) from exc
            raise ArtifactError(f"{self.name}: {action} failed: {_describe(exc)} ({decision.reason})") from exc


class _ResumableBody(io.RawIOBase):
    """The raw stream behind `HttpClient.download`: one response at a time, reconnecting at the offset."""

    def __init__(self, client: HttpClient, url: str, subject: str, expect: Expected, checksum_headers: bool) -> None:
        super().__init__()
        self._client = client
        self._url = url
        self._subject = subject
        self._checksum_headers = checksum_headers
        self._digests = _Digests(expect, f"{client.name}: {subject} ({redact(url)})")
        self._expect_size = expect.size
        self._response: urllib3.BaseHTTPResponse | None = None
        self._total: int | None = None
        self._ranges = False
        self._etag: str | None = None
        self._last_modified: str | None = None
        self._done = False
        self._failure: ArtifactError | None = None

    def start(self) -> None:
        response = self._client._with_retries(self._first_request, action=f"GET {redact(self._url)}")
        self._response = response
        head = _head_of(response)
        self._total, self._ranges = head.size, head.accept_ranges
        self._etag, self._last_modified = head.etag, head.last_modified
        if self._expect_size is not None and head.size is not None and head.size != self._expect_size:
            # Refuse before transferring a file that cannot be the promised one.
            self._release()
            raise ArtifactInvalid(
                f"{self._client.name}: {self._subject}: the server offers {head.size} bytes, "
                f"{self._expect_size} were expected; refusing the artifact"
            )
        if self._checksum_headers:
            self._digests.expect(
                sha256=response.headers.get("X-Checksum-Sha256"), sha1=response.headers.get("X-Checksum-Sha1")
            )

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        if self._failure is not None:
            raise self._failure
        view = memoryview(buffer).cast("B")
        if self._done or not view:
            return 0
        offset = self._digests.count
        action = f"download of {redact(self._url)} at byte {offset}" + (
            f" of {self._total}" if self._total is not None else ""
        )
        try:
            # At most one chunk per socket read, however large the caller's buffer: memory stays flat.
            want = min(len(view), self._client._chunk_size)
            data = self._client._with_retries(lambda: self._read_some(want), action=action)
            if not data:
                self._done = True
                self._release()
                self._digests.verify()
                return 0
        except ArtifactError as exc:
            self._failure = exc
            self._release()
            raise
        view[: len(data)] = data
        self._digests.update(data)
        return len(data)

    def close(self) -> None:
        self._release()
        super().close()

    # --- internals -------------------------------------------------------------------------------

    def _first_request(self) -> urllib3.BaseHTTPResponse:
        return self._client._send("GET", self._url, subject=self._subject)

    def _read_some(self, size: int) -> bytes:
        if self._response is None:
            self._response = self._reconnect()
        try:
            data = self._response.read(size)
        except BaseException:
            self._release(broken=True)
            raise
        if not data and self._total is not None and self._digests.count < self._total:
            self._release(broken=True)
            raise _Truncated(f"connection closed at byte {self._digests.count} of {self._total}")
        return data

    def _reconnect(self) -> urllib3.BaseHTTPResponse:
        offset = self._digests.count
        headers: dict[str, str] = {}
        if self._ranges:
            headers["Range"] = f"bytes={offset}-"
            # If-Range makes the server send the whole (new) file instead of a piece of a changed one.
            strong_etag = self._etag if self._etag and not self._etag.startswith("W/") else None
            validator = strong_etag or self._last_modified
            if validator:
                headers["If-Range"] = validator
        response = self._client._send("GET", self._url, subject=self._subject, headers=headers)
        if response.status == 206:
            start = _content_range_start(response.headers.get("Content-Range"))
            if start != offset:
                _discard(response)
                raise ArtifactUnavailable(
                    f"{self._client.name}: {self._subject}: resume at byte {offset} of {redact(self._url)} "
                    f"answered Content-Range {response.headers.get('Content-Range')!r}"
                )
            return response
        head = _head_of(response)
        changed = (self._etag is not None and head.etag != self._etag) or (
            self._etag is None and self._last_modified is not None and head.last_modified != self._last_modified
        )
        if changed:
            _discard(response)
            raise ArtifactUnavailable(
                f"{self._client.name}: {self._subject}: {redact(self._url)} changed on the server while "
                f"downloading (byte {offset}); retry the deployment"
            )
        # The server ignored Range (or never offered it): skip what the caller already has.
        try:
            remaining = offset
            while remaining > 0:
                skipped = response.read(min(remaining, CHUNK_SIZE))
                if not skipped:
                    raise _Truncated(f"connection closed while skipping to byte {offset}")
                remaining -= len(skipped)
        except BaseException:
            _discard(response)
            raise
        return response

    def _release(self, *, broken: bool = False) -> None:
        response, self._response = self._response, None
        if response is None:
            return
        if broken or not self._done:
            _discard(response)
        else:
            response.release_conn()


class _VerifyingReader(io.RawIOBase):
    """Checksums over another stream's bytes, compared at its EOF."""

    def __init__(self, inner: BinaryIO, digests: _Digests, chunk_size: int) -> None:
        super().__init__()
        self._inner = inner
        self._digests = digests
        self._chunk_size = chunk_size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        view = memoryview(buffer).cast("B")
        data = self._inner.read(min(len(view), self._chunk_size))
        if not data:
            if view:
                self._digests.verify()
            return 0
        view[: len(data)] = data
        self._digests.update(data)
        return len(data)


def verified(stream: BinaryIO, *, expect: Expected, label: str, chunk_size: int = CHUNK_SIZE) -> BinaryIO:
    """`stream` wrapped so that reaching EOF raises ArtifactInvalid unless the bytes match `expect`.

    Closing the returned stream does not close `stream`; its owner does.
    """
    return io.BufferedReader(_VerifyingReader(stream, _Digests(expect, label), chunk_size), buffer_size=chunk_size)


def _head_of(response: urllib3.BaseHTTPResponse) -> Head:
    headers = response.headers
    size: int | None = None
    content_range = headers.get("Content-Range")
    if response.status == 206 and content_range and "/" in content_range:
        total = content_range.rsplit("/", 1)[1].strip()
        size = int(total) if total.isdigit() else None
    else:
        length = headers.get("Content-Length", "")
        size = int(length) if length.isdigit() else None
    return Head(
        size=size,
        accept_ranges="bytes" in headers.get("Accept-Ranges", "").lower(),
        etag=headers.get("ETag"),
        last_modified=headers.get("Last-Modified"),
    )


def _content_range_start(value: str | None) -> int | None:
    match = re.fullmatch(r"\s*bytes\s+(\d+)-\d+/(?:\d+|\*)\s*", value or "")
    return int(match.group(1)) if match else None


def _error_detail(response: urllib3.BaseHTTPResponse) -> str:
    """A short one-line excerpt of an error body (HTML stripped) to show next to the status."""
    try:
        raw = response.read(2048)
    except (HTTPError, OSError):
        return ""
    text = raw.decode("utf-8", errors="replace")
    try:
        document = json.loads(text)
    except ValueError:
        document = None
    if isinstance(document, dict):
        errors = document.get("errors")  # Artifactory: {"errors": [{"status": 404, "message": "..."}]}
        if isinstance(errors, list) and errors and isinstance(errors[0], dict) and "message" in errors[0]:
            text = str(errors[0]["message"])
        elif "message" in document:
            text = str(document["message"])
    text = re.sub(r"<(script|style)\b.*?</\1>", " ", text, flags=re.S | re.I)
    text = " ".join(re.sub(r"<[^>]+>", " ", text).split())
    return text[:160] + ("..." if len(text) > 160 else "")


def _preview(body: bytes) -> str:
    text = "".join(ch if ch.isprintable() else " " for ch in body[:200].decode("utf-8", errors="replace"))
    return " ".join(text.split())[:60]


def _discard(response: urllib3.BaseHTTPResponse) -> None:
    """Give up on a response without reading its body: the connection is closed, not reused."""
    response.close()
    response.release_conn()
