"""/metrics, /healthz and /readyz on a small threaded HTTP server beside the gRPC port.

healthz: the process is alive. readyz: the store answers and the gRPC server is serving.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest


class HttpEndpoints:
    def __init__(self, address: str, registry: CollectorRegistry, ready: Callable[[], bool]) -> None:
        host, _, port = address.rpartition(":")
        registry_ = registry
        ready_ = ready

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/metrics":
                    self._send(200, generate_latest(registry_), CONTENT_TYPE_LATEST)
                elif self.path == "/healthz":
                    self._send(200, b"ok\n", "text/plain")
                elif self.path == "/readyz":
                    ok = _safe(ready_)
                    self._send(200 if ok else 503, b"ready\n" if ok else b"not ready\n", "text/plain")
                else:
                    self._send(404, b"not found\n", "text/plain")

            def _send(self, code: int, body: bytes, content_type: str) -> None:
                self.send_response(code)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                return  # access logs would drown the structured log

        self._server = ThreadingHTTPServer((host or "127.0.0.1", int(port)), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="http-endpoints", daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _safe(check: Callable[[], bool]) -> bool:
    try:
        return check()
    except Exception:
        return False
