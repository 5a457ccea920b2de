"""A fault-injecting HTTP proxy between the delegate and moto, speaking plain HTTP on loopback.

Point the delegate's AWS_ENDPOINT_URL at the proxy. Each request is matched against rules in order;
a matching rule may answer with an AWS-shaped error (429 TooManyRequestsException, 409
ResourceConflictException, 500/503, 400 InvalidParameterValueException...), reset the connection,
or delay, with a probability and an optional count. Unmatched requests are forwarded to moto.
Every injected fault is counted, so tests can report how many faults they survived.
"""

from __future__ import annotations

import http.client
import json
import random
import re
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit


@dataclass
class Rule:
    path: str  # regex searched in "METHOD /path?query"
    status: int = 0  # 0: no error answer (use reset/delay)
    code: str = ""  # AWS error code, e.g. TooManyRequestsException
    message: str = "injected by the test proxy"
    reset: bool = False
    delay: float = 0.0  # before forwarding: a slow AWS
    delay_after: float = 0.0  # after AWS applied the call, before answering: the caller may die not knowing
    rate: float = 1.0
    count: int | None = None  # None: unlimited
    hits: int = 0

    def matches(self, line: str, rng: random.Random) -> bool:
        if self.count is not None and self.hits >= self.count:
            return False
        if not re.search(self.path, line):
            return False
        return rng.random() < self.rate


@dataclass
class AwsFaultProxy:
    upstream: str
    rules: list[Rule] = field(default_factory=list)
    seed: int = 7
    faults: int = 0
    forwarded: int = 0

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._lock = threading.Lock()
        target = urlsplit(self.upstream)
        self._host, self._port = target.hostname or "127.0.0.1", target.port or 80
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                rule = proxy._match(f"{self.command} {self.path}")
                if rule is not None:
                    if rule.delay:
                        time.sleep(rule.delay)
                    if rule.reset:
                        # SO_LINGER 0 turns close() into a TCP RST: the client sees a reset connection.
                        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                        self.connection.close()
                        self.close_connection = True
                        return
                    if rule.status:
                        payload = json.dumps({"__type": rule.code, "message": rule.message, "Message": rule.message})
                        data = payload.encode()
                        self.send_response(rule.status)
                        self.send_header("Content-Type", "application/json")
                        self.send_header("x-amzn-ErrorType", rule.code)
                        self.send_header("Content-Length", str(len(data)))
                        self.end_headers()
                        self.wfile.write(data)
                        return
                proxy._count_forward()
                conn = http.client.HTTPConnection(proxy._host, proxy._port, timeout=60)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                conn.request(self.command, self.path, body=body, headers=headers)
                response = conn.getresponse()
                data = response.read()
                if rule is not None and rule.delay_after:
                    time.sleep(rule.delay_after)
                self.send_response(response.status)
                for key, value in response.getheaders():
                    if key.lower() not in ("transfer-encoding", "connection", "content-length", "server", "date"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                conn.close()

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _handle

            def log_message(self, format: str, *args: object) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def _match(self, line: str) -> Rule | None:
        with self._lock:
            for rule in self.rules:
                if rule.matches(line, self._rng):
                    rule.hits += 1
                    self.faults += 1
                    return rule
        return None

    def _count_forward(self) -> None:
        with self._lock:
            self.forwarded += 1

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> AwsFaultProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
