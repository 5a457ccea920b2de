"""A fake Nexus Repository 3: raw and maven2 hosted repositories, asset search with paging, downloads.

What it reproduces (Nexus REST API v1):

* `GET /service/rest/v1/search/assets` filtered by `repository`, `format`, `maven.groupId`,
  `maven.artifactId`, `maven.baseVersion`, `maven.extension`, `maven.classifier`; answers
  `{"items": [...], "continuationToken": "<opaque>" | null}` a page at a time (`page_size`, 50 on
  a real server); the token is sent back for the next page and an unknown token is a 400.
* Each item: `downloadUrl`, `path`, `id`, `repository`, `format`, `checksum` {sha1, sha256, sha512,
  md5}, `contentType`, `lastModified`, `lastDownloaded`, `uploader`, `uploaderIp`, `fileSize`,
  `blobCreated`, `blobStoreName` and, for maven2, a `maven2` block {extension, groupId,
  artifactId, version, baseVersion[, classifier]}.
* Version quirks, switchable: `leading_slash` (3.88 paths start with `/`), `empty_maven2` (3.76 sends
  `"maven2": {}`), `download_origin` (downloadUrl built from a base URL the client does not use).
* `GET /repository/{repo}/{path}` serves the asset (HEAD, Range, ETag from the shared server).
* Auth: HTTP basic; without or with wrong credentials 401 with `WWW-Authenticate: BASIC realm=...`.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self

from ._server import Blob, FakeServer, Request, Response, json_response, text_response

SEARCH = ["service", "rest", "v1", "search", "assets"]


@dataclass(frozen=True)
class _Asset:
    repository: str
    path: str
    blob: Blob
    maven2: Mapping[str, str] | None = None


class FakeNexus:
    """Start with `with FakeNexus(...) as nexus:`; `.url` is the server root."""

    def __init__(
        self,
        *,
        users: Mapping[str, str] | None = None,
        page_size: int = 50,
        leading_slash: bool = False,
        empty_maven2: bool = False,
        download_origin: str | None = None,
    ) -> None:
        self.users = dict(users or {})
        self.page_size = page_size
        self.leading_slash = leading_slash
        self.empty_maven2 = empty_maven2
        self.download_origin = download_origin
        self.stuck_token: str | None = None  # answer every page with this token (a broken proxy cache)
        self.formats: dict[str, str] = {}
        self.assets: list[_Asset] = []
        self._tokens: dict[str, int] = {}
        self.server = FakeServer(self.handle)

    @property
    def url(self) -> str:
        return self.server.url

    def put_raw(self, repo: str, path: str, data: bytes, *, last_modified: datetime | None = None) -> Blob:
        self.formats[repo] = "raw"
        blob = Blob(data, last_modified or datetime(2024, 1, 1, tzinfo=UTC))
        self.assets.append(_Asset(repo, path.strip("/"), blob))
        return blob

    def put_maven(
        self,
        repo: str,
        group: str,
        artifact: str,
        version: str,
        data: bytes,
        *,
        extension: str = "zip",
        classifier: str | None = None,
        base_version: str | None = None,
        last_modified: datetime | None = None,
    ) -> Blob:
        self.formats[repo] = "maven2"
        base = base_version or version
        filename = f"{artifact}-{version}{'-' + classifier if classifier else ''}.{extension}"
        path = f"{group.replace('.', '/')}/{artifact}/{base}/{filename}"
        block = {"extension": extension, "groupId": group, "artifactId": artifact, "version": version}
        if base != version:
            block["baseVersion"] = base
        if classifier:
            block["classifier"] = classifier
        blob = Blob(data, last_modified or datetime(2024, 1, 1, tzinfo=UTC))
        self.assets.append(_Asset(repo, path, blob, block))
        return blob

    def __enter__(self) -> Self:
        self.server.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.server.stop()

    # --- the HTTP side ---------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        credentials = request.basic_auth()
        if self.users and (credentials is None or self.users.get(credentials[0]) != credentials[1]):
            response = text_response(401, "")
            response.headers["WWW-Authenticate"] = 'BASIC realm="Sonatype Nexus Repository Manager"'
            return response
        segments = request.segments
        if segments == SEARCH:
            return self._search(request)
        if len(segments) >= 3 and segments[0] == "repository":
            path = "/".join(segments[2:])
            asset = next((a for a in self.assets if a.repository == segments[1] and a.path == path), None)
            if asset is not None:
                return Response(body=asset.blob)
        return text_response(404, "<html><body>Not Found</body></html>")

    def _search(self, request: Request) -> Response:
        matching = [a for a in self.assets if self._matches(a, request)]
        token = request.param("continuationToken")
        start = 0
        if token is not None:
            if token not in self._tokens:
                return text_response(400, "Invalid continuation token", "text/plain")
            start = self._tokens[token]
        page = matching[start : start + self.page_size]
        next_token = None
        if self.stuck_token is not None:
            self._tokens[self.stuck_token] = 0
            next_token = self.stuck_token
        elif start + self.page_size < len(matching):
            next_token = secrets.token_hex(16)
            self._tokens[next_token] = start + self.page_size
        return json_response({"items": [self._item(a) for a in page], "continuationToken": next_token})

    def _matches(self, asset: _Asset, request: Request) -> bool:
        repository = request.param("repository")
        if repository is not None and asset.repository != repository:
            return False
        fmt = request.param("format")
        if fmt is not None and self.formats.get(asset.repository) != fmt:
            return False
        block = asset.maven2 or {}
        for parameter, key in (
            ("maven.groupId", "groupId"),
            ("maven.artifactId", "artifactId"),
            ("maven.extension", "extension"),
            ("maven.classifier", "classifier"),
        ):
            wanted = request.param(parameter)
            if wanted is not None and block.get(key) != wanted:
                return False
        wanted_base = request.param("maven.baseVersion")
        return wanted_base is None or block.get("baseVersion", block.get("version")) == wanted_base

    def _item(self, asset: _Asset) -> dict[str, Any]:
        blob = asset.blob
        path = ("/" if self.leading_slash else "") + asset.path
        download_base = self.download_origin or self.url
        item: dict[str, Any] = {
            "downloadUrl": f"{download_base}/repository/{asset.repository}/{asset.path}",
            "path": path,
            "id": base64.urlsafe_b64encode(f"{asset.repository}:{asset.path}".encode()).decode().rstrip("="),
            "repository": asset.repository,
            "format": self.formats[asset.repository],
            "checksum": {
                "sha1": blob.sha1,
                "sha512": hashlib.sha512(blob.data).hexdigest(),
                "sha256": blob.sha256,
                "md5": blob.md5,
            },
            "contentType": "application/zip",
            "lastModified": blob.last_modified.astimezone(UTC).isoformat(timespec="milliseconds"),
            "lastDownloaded": None,
            "uploader": "ci",
            "uploaderIp": "10.0.0.7",
            "fileSize": len(blob.data),
            "blobCreated": blob.last_modified.astimezone(UTC).isoformat(timespec="milliseconds"),
            "blobStoreName": "default",
        }
        if asset.maven2 is not None:
            item["maven2"] = {} if self.empty_maven2 else dict(asset.maven2)
        return item
