"""The HTTP plumbing every fake artifact server shares: a real server on 127.0.0.1, port 0.

A product fake (Jenkins, Artifactory, Nexus, plain files) is a function from `Request` to `Response`;
this module serves it from a ThreadingHTTPServer in a background thread and adds what all products
do the same way: HTTP/1.1 keep-alive, `Range`/`If-Range` on file bodies (206 with Content-Range),
ETag and Last-Modified, HEAD, and a record of every request. `Faults` injects failures: the next N
requests answer 503 (or any status), or the next file body is cut after K bytes by closing the
connection, which is how a proxy or a restarting server drops a download.

I/O: a listening socket on loopback and one thread per connection; nothing else.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import re
import socket
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs, unquote, urlsplit


@dataclass(frozen=True)
class Blob:
    """A stored file: its bytes and the metadata servers derive from them."""

    data: bytes
    last_modified: datetime = field(default_factory=lambda: datetime(2024, 1, 1, tzinfo=UTC))

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def sha1(self) -> str:
        return hashlib.sha1(self.data, usedforsecurity=False).hexdigest()

    @property
    def md5(self) -> str:
        return hashlib.md5(self.data, usedforsecurity=False).hexdigest()

    @property
    def etag(self) -> str:
        return f'"{self.sha1}"'

    @property
    def http_date(self) -> str:
        return format_datetime(self.last_modified.astimezone(UTC), usegmt=True)


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # raw (still percent-encoded) path, prefix removed
    query: Mapping[str, list[str]]
    raw_query: str
    headers: Mapping[str, str]  # lower-cased names

    @property
    def segments(self) -> list[str]:
        """Path segments, each percent-decoded once (so an encoded `/` stays inside its segment)."""
        return [unquote(part) for part in self.path.strip("/").split("/") if part]

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None

    def basic_auth(self) -> tuple[str, str] | None:
        value = self.headers.get("authorization", "")
        if not value.lower().startswith("basic "):
            return None
        try:
            user, _, password = base64.b64decode(value[6:]).decode().partition(":")
        except ValueError:
            return None
        return user, password


@dataclass
class Response:
    status: int = 200
    body: bytes | Blob = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"


def json_response(document: object, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(status, json.dumps(document, indent=2).encode(), dict(headers or {}))


def text_response(status: int, text: str, content_type: str = "text/html;charset=utf-8") -> Response:
    return Response(status, text.encode(), content_type=content_type)


class Faults:
    """Failures to inject, consumed first come first served; safe to arm from the test thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._failures: list[tuple[int, str]] = []
        self._drops: list[int] = []

    def fail_next(self, count: int, status: int = 503, *, path_contains: str = "") -> None:
        """The next `count` requests whose path contains `path_contains` answer `status`."""
        with self._lock:
            self._failures.extend([(status, path_contains)] * count)

    def drop_next_bodies(self, after_bytes: int, times: int = 1) -> None:
        """The next `times` file bodies stop after `after_bytes` bytes and the connection closes."""
        with self._lock:
            self._drops.extend([after_bytes] * times)

    def take_failure(self, path: str) -> int | None:
        with self._lock:
            for index, (status, needle) in enumerate(self._failures):
                if needle in path:
                    del self._failures[index]
                    return status
        return None

    def take_drop(self) -> int | None:
        with self._lock:
            return self._drops.pop(0) if self._drops else None


class FakeServer:
    """Serves `app` on 127.0.0.1:<free port> under `prefix` until stopped; use as a context manager."""

    def __init__(self, app: Callable[[Request], Response], *, prefix: str = "", ranges: bool = True) -> None:
        self.app = app
        self.prefix = prefix.rstrip("/")
        self.ranges = ranges  # advertise Accept-Ranges and honour Range
        self.faults = Faults()
        self._requests: list[Request] = []
        self._lock = threading.Lock()
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.fake = self
        # A short poll interval: stop() waits for serve_forever to notice, up to one interval.
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, name="fake-http", daemon=True
        )

    @property
    def origin(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def url(self) -> str:
        return self.origin + self.prefix

    @property
    def requests(self) -> list[Request]:
        with self._lock:
            return list(self._requests)

    def record(self, request: Request) -> None:
        with self._lock:
            self._requests.append(request)

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class _Server(ThreadingHTTPServer):
    """Also tracks open connections, so stopping the fake cuts keep-alive clients like a dead server."""

    fake: FakeServer
    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(address, handler)
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def server_close(self) -> None:
        super().server_close()
        with self._open_lock:
            sockets, self._open = list(self._open), set()
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server
    timeout = 10  # an idle keep-alive connection does not hold its thread forever
    disable_nagle_algorithm = True  # headers and body are separate writes; no 40 ms delayed-ACK stall

    def do_GET(self) -> None:
        self._handle(head=False)

    def do_HEAD(self) -> None:
        self._handle(head=True)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: tests assert on `FakeServer.requests` instead."""

    def _handle(self, *, head: bool) -> None:
        fake = self.server.fake
        parts = urlsplit(self.path)
        path = parts.path
        if fake.prefix:
            if not (path == fake.prefix or path.startswith(fake.prefix + "/")):
                self._send(text_response(404, "<html><body>Not Found</body></html>"), head=head)
                return
            path = path[len(fake.prefix) :]
        request = Request(
            method=self.command,
            path=path,
            query=parse_qs(parts.query, keep_blank_values=True),
            raw_query=parts.query,
            headers={name.lower(): value for name, value in self.headers.items()},
        )
        fake.record(request)
        status = fake.faults.take_failure(path)
        if status is not None:
            self._send(text_response(status, f"<html><body>injected {status}</body></html>"), head=head)
            return
        response = fake.app(request)
        if isinstance(response.body, Blob):
            self._send_blob(request, response, response.body, head=head)
        else:
            self._send(response, head=head)

    def _send(self, response: Response, *, head: bool) -> None:
        body = response.body if isinstance(response.body, bytes) else b""
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head:
            self._write(body)

    def _send_blob(self, request: Request, response: Response, blob: Blob, *, head: bool) -> None:
        fake = self.server.fake
        data = blob.data
        status = response.status
        headers = {"ETag": blob.etag, "Last-Modified": blob.http_date, **response.headers}
        if fake.ranges:
            headers["Accept-Ranges"] = "bytes"
            wanted = request.headers.get("range")
            if_range = request.headers.get("if-range")
            if wanted and status == 200 and (if_range is None or if_range in (blob.etag, blob.http_date)):
                match = re.fullmatch(r"bytes=(\d+)-(\d*)", wanted.strip())
                if match:
                    start = int(match.group(1))
                    end = min(int(match.group(2)) if match.group(2) else len(data) - 1, len(data) - 1)
                    if start >= len(data):
                        headers["Content-Range"] = f"bytes */{len(data)}"
                        self._send(Response(416, b"", headers), head=head)
                        return
                    status = 206
                    headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
                    data = data[start : end + 1]
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if head:
            return
        cut = fake.faults.take_drop()
        if cut is not None and cut < len(data):
            self._write(data[:cut])
            self.close_connection = True  # the client sees EOF before Content-Length bytes
            return
        self._write(data)

    def _write(self, data: bytes) -> None:
        try:
            view = memoryview(data)
            for start in range(0, len(view), 256 << 10):
                self.wfile.write(view[start : start + (256 << 10)])
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client went away first; nothing to do
