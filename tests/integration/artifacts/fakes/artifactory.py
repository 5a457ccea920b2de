"""A fake Artifactory: local repositories, the storage API and downloads.

What it reproduces (JFrog Artifactory REST API):

* File List: `GET /api/storage/{repo}/{folder}?list[&deep=0|1][&listFolders=0|1]` ->
  `{"uri", "created", "files": [{"uri": "/rel/path", "size", "lastModified", "folder", "sha1", "sha2"}]}`,
  `uri` relative to the folder; folders only with listFolders=1; deep=0 lists one level.
* File Info: `GET /api/storage/{repo}/{path}` -> `{"repo", "path", "created", "lastModified",
  "downloadUri", "mimeType", "size": "<string>", "checksums": {"sha1","md5","sha256"},
  "originalChecksums", "uri"}`; for a folder, Folder Info with `children`.
* Download: `GET /{repo}/{path}` with X-Checksum-Sha1/-Sha256/-Md5 headers (and Range/ETag).
* Errors are `{"errors": [{"status": N, "message": "..."}]}`: 401 "Bad credentials" (with
  WWW-Authenticate) for a wrong password or key and when anonymous access is off, 404 "Unable to
  find item" for unknown repositories and paths.
* Auth: `X-JFrog-Art-Api: <key>` or HTTP basic.

`corrupt()` serves other bytes for a file while its recorded checksums stay, as a broken disk or
proxy would.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self

from ._server import Blob, FakeServer, Request, Response, json_response


@dataclass
class _Stored:
    blob: Blob  # what the checksums describe
    served: bytes | None = None  # what the download actually returns, when corrupted


class FakeArtifactory:
    """Start with `with FakeArtifactory(...) as artifactory:`; `.url` ends in `/artifactory`."""

    def __init__(
        self,
        *,
        users: Mapping[str, str] | None = None,
        api_keys: Iterable[str] = (),
        sha2_in_listing: bool = True,
        prefix: str = "/artifactory",
    ) -> None:
        self.users = dict(users or {})
        self.api_keys = set(api_keys)
        self.sha2_in_listing = sha2_in_listing  # Artifactory before 7.x lists sha1 only
        self.repos: dict[str, dict[str, _Stored]] = {}
        self.server = FakeServer(self.handle, prefix=prefix)

    @property
    def url(self) -> str:
        return self.server.url

    def create_repo(self, repo: str) -> None:
        self.repos.setdefault(repo, {})

    def put(self, repo: str, path: str, data: bytes, *, last_modified: datetime | None = None) -> Blob:
        blob = Blob(data, last_modified or datetime(2024, 1, 1, tzinfo=UTC))
        self.repos.setdefault(repo, {})[path.strip("/")] = _Stored(blob)
        return blob

    def corrupt(self, repo: str, path: str, served: bytes) -> None:
        self.repos[repo][path.strip("/")].served = served

    def __enter__(self) -> Self:
        self.server.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.server.stop()

    # --- the HTTP side ---------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        denied = self._check_auth(request)
        if denied is not None:
            return denied
        segments = request.segments
        if segments[:2] == ["api", "storage"] and len(segments) >= 3:
            repo, path = segments[2], "/".join(segments[3:])
            if repo not in self.repos:
                return _error(404, "Unable to find item")
            if "list" in request.query:
                return self._file_list(request, repo, path)
            return self._info(repo, path)
        if segments and segments[0] in self.repos:
            stored = self.repos[segments[0]].get("/".join(segments[1:]))
            if stored is None:
                return _error(404, "Unable to find item")
            blob = stored.blob if stored.served is None else Blob(stored.served, stored.blob.last_modified)
            return Response(
                body=blob,
                headers={
                    "X-Checksum-Sha1": stored.blob.sha1,
                    "X-Checksum-Sha256": stored.blob.sha256,
                    "X-Checksum-Md5": stored.blob.md5,
                    "X-Artifactory-Filename": segments[-1],
                },
            )
        return _error(404, "Unable to find item")

    def _check_auth(self, request: Request) -> Response | None:
        key = request.headers.get("x-jfrog-art-api")
        if key is not None:
            return None if key in self.api_keys else _unauthorized("Bad api key")
        credentials = request.basic_auth()
        if credentials is None:
            return _unauthorized("Authentication is required") if (self.users or self.api_keys) else None
        user, password = credentials
        return None if self.users.get(user) == password else _unauthorized("Bad credentials")

    def _folders(self, repo: str) -> set[str]:
        folders = {""}
        for path in self.repos[repo]:
            parts = path.split("/")[:-1]
            folders.update("/".join(parts[: i + 1]) for i in range(len(parts)))
        return folders

    def _file_list(self, request: Request, repo: str, folder: str) -> Response:
        folder = folder.strip("/")
        if folder not in self._folders(repo):
            return _error(404, "Unable to find item")
        deep = request.param("deep") == "1"
        list_folders = request.param("listFolders") == "1"
        prefix = f"{folder}/" if folder else ""
        files: list[dict[str, Any]] = []
        for path, stored in sorted(self.repos[repo].items()):
            if not path.startswith(prefix):
                continue
            relative = path[len(prefix) :]
            if not deep and "/" in relative:
                continue
            entry: dict[str, Any] = {
                "uri": "/" + relative,
                "size": len(stored.blob.data),
                "lastModified": _iso(stored.blob.last_modified),
                "folder": False,
                "sha1": stored.blob.sha1,
            }
            if self.sha2_in_listing:
                entry["sha2"] = stored.blob.sha256
            files.append(entry)
        if list_folders:
            for sub in sorted(self._folders(repo)):
                if sub.startswith(prefix) and sub != folder and (deep or "/" not in sub[len(prefix) :]):
                    files.append({"uri": "/" + sub[len(prefix) :], "size": -1, "folder": True})
        return json_response(
            {
                "uri": f"{self.url}/api/storage/{repo}/{folder}",
                "created": _iso(datetime(2023, 1, 1, tzinfo=UTC)),
                "files": files,
            }
        )

    def _info(self, repo: str, path: str) -> Response:
        path = path.strip("/")
        stored = self.repos[repo].get(path)
        if stored is not None:
            blob = stored.blob
            checksums = {"sha1": blob.sha1, "md5": blob.md5, "sha256": blob.sha256}
            return json_response(
                {
                    "repo": repo,
                    "path": "/" + path,
                    "created": _iso(blob.last_modified),
                    "createdBy": "ci",
                    "lastModified": _iso(blob.last_modified),
                    "modifiedBy": "ci",
                    "lastUpdated": _iso(blob.last_modified),
                    "downloadUri": f"{self.url}/{repo}/{path}",
                    "mimeType": "application/zip",
                    "size": str(len(blob.data)),
                    "checksums": checksums,
                    "originalChecksums": checksums,
                    "uri": f"{self.url}/api/storage/{repo}/{path}",
                }
            )
        if path in self._folders(repo):
            prefix = f"{path}/" if path else ""
            children = sorted(
                {
                    (p[len(prefix) :].split("/")[0], "/" in p[len(prefix) :])
                    for p in self.repos[repo]
                    if p.startswith(prefix)
                }
            )
            return json_response(
                {
                    "repo": repo,
                    "path": "/" + path,
                    "created": _iso(datetime(2023, 1, 1, tzinfo=UTC)),
                    "children": [{"uri": "/" + name, "folder": is_folder} for name, is_folder in children],
                    "uri": f"{self.url}/api/storage/{repo}/{path}",
                }
            )
        return _error(404, "Unable to find item")


def _iso(when: datetime) -> str:
    """Artifactory's format: milliseconds and a Z."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def _error(status: int, message: str) -> Response:
    return json_response({"errors": [{"status": status, "message": message}]}, status)


def _unauthorized(message: str) -> Response:
    return json_response(
        {"errors": [{"status": 401, "message": message}]},
        401,
        {"WWW-Authenticate": 'Basic realm="Artifactory Realm"'},
    )
