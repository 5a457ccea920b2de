"""A plain file server: what a custom script's `url` versions point at (a CDN, S3 website, nginx).

`GET`/`HEAD /<name>` serve the stored bytes with Range, ETag and Last-Modified from the shared
server; anything else is 404. No authentication: custom-script URLs are fetched without credentials.
"""

from __future__ import annotations

from types import TracebackType
from typing import Self

from ._server import Blob, FakeServer, Request, Response, text_response


class FakeFileServer:
    def __init__(self) -> None:
        self.files: dict[str, Blob] = {}
        self.server = FakeServer(self.handle)

    @property
    def url(self) -> str:
        return self.server.url

    def put(self, name: str, data: bytes) -> str:
        """Store `data` and return its URL."""
        self.files[name] = Blob(data)
        return f"{self.url}/{name}"

    def handle(self, request: Request) -> Response:
        blob = self.files.get("/".join(request.segments))
        return Response(body=blob) if blob is not None else text_response(404, "<h1>404 Not Found</h1>")

    def __enter__(self) -> Self:
        self.server.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.server.stop()
