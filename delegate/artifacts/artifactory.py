"""Artifactory as an artifact source: the files of a repository whose path matches a glob.

Mapping (JFrog Artifactory REST API, storage endpoints):

* The glob's directory part without wildcards is the folder to list: "orders/builds/*.zip" lists
  `orders/builds`, "*.zip" the repository root. One request lists every file below it:
  `GET <url>/api/storage/<repo>/<folder>?list&deep=1&listFolders=0` (File List, which Artifactory
  Pro and later editions serve). Each entry's `uri` is relative to the folder.
* A version is a file's path within the repository ("orders/builds/orders-42.zip"), kept when it
  matches the glob (`fnmatch`: `*` also crosses `/`). Newest is the latest `lastModified`; ties go
  to the path in lexical order.
* Checksums: the listing gives sha1 and, on current versions, `sha2` (SHA-256). `resolve` asks
  `GET <url>/api/storage/<repo>/<path>` (File Info) for `checksums.sha256` and the size, which is
  what a deployment relies on.
* Bytes: `GET <url>/<repo>/<path>`, verified against the SHA-256 from File Info, or, for an artifact
  that arrives without one, against the `X-Checksum-Sha256`/`-Sha1` headers sent with the download.
* Auth: an API key in `X-JFrog-Art-Api`, or basic user/password; the HttpClient carries it.

I/O: every public method makes HTTP requests through the injected HttpClient; nothing else.
"""

from __future__ import annotations

import re
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from fnmatch import fnmatchcase
from typing import BinaryIO
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field

from delegate.artifacts.base import ArtifactError, ArtifactNotFound
from delegate.artifacts.http import Expected, HttpClient
from shared.payloads import ArtifactorySource, ResolvedArtifact

_GLOB_CHARS = re.compile(r"[*?\[]")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


class _ListedFile(_Model):
    uri: str
    folder: bool = False  # Artifactory has sent both true and "true"; pydantic accepts either
    size: int | None = None
    last_modified: str | None = Field(default=None, alias="lastModified")
    sha1: str | None = None
    sha2: str | None = None


class _FileList(_Model):
    files: list[_ListedFile] = Field(default_factory=list)


class _Checksums(_Model):
    sha1: str | None = None
    sha256: str | None = None


class _FileInfo(_Model):
    size: int | None = None  # File Info sends the size as a string; pydantic converts it
    last_modified: str | None = Field(default=None, alias="lastModified")
    checksums: _Checksums = Field(default_factory=_Checksums)
    children: list[object] | None = None  # present when the path is a folder


class ArtifactoryClient:
    """Versions and downloads of the files matching a glob in one Artifactory repository."""

    def __init__(self, spec: ArtifactorySource, *, http: HttpClient) -> None:
        self._spec = spec
        self._http = http
        self._base = spec.server.url.rstrip("/")
        self._pattern = spec.path.strip("/")
        if not spec.repository or "/" in spec.repository:
            raise ArtifactError(f"{http.name}: invalid repository name '{spec.repository}'")
        directories = self._pattern.split("/")[:-1]
        fixed: list[str] = []
        for part in directories:
            if _GLOB_CHARS.search(part):
                break
            fixed.append(part)
        self._folder = "/".join(fixed)

    def list_versions(self, limit: int = 100) -> list[ResolvedArtifact]:
        versions = self._listed()
        return versions[-limit:] if limit > 0 else []

    def resolve(self, version: str | None) -> ResolvedArtifact:
        if version is None:
            versions = self._listed()
            if not versions:
                raise ArtifactNotFound(
                    f"{self._http.name}: no file in repository '{self._spec.repository}' matches '{self._spec.path}'"
                )
            path = versions[-1].version
        else:
            path = version.strip("/")
            if not fnmatchcase(path, self._pattern):
                raise ArtifactNotFound(
                    f"{self._http.name}: '{version}' does not match the source's path '{self._spec.path}'"
                )
        subject = f"'{path}' in repository '{self._spec.repository}'"
        info = self._http.get_model(self._storage_url(path), subject=subject, model=_FileInfo)
        if info.children is not None:
            raise ArtifactNotFound(f"{self._http.name}: {subject} is a folder, not a file")
        return ResolvedArtifact(
            version=path,
            sha256=info.checksums.sha256,
            size=info.size,
            url=self._download_url(path),
            created_at=_iso(info.last_modified),
        )

    def open(self, artifact: ResolvedArtifact) -> AbstractContextManager[BinaryIO]:
        return self._http.download(
            artifact.url or self._download_url(artifact.version),
            subject=f"'{artifact.version}' in repository '{self._spec.repository}'",
            expect=Expected(sha256=artifact.sha256, size=artifact.size),
            checksum_headers=True,
        )

    # --- internals -------------------------------------------------------------------------------

    def _listed(self) -> list[ResolvedArtifact]:
        url = self._storage_url(self._folder) + "?list&deep=1&listFolders=0"
        where = f"folder '{self._folder or '/'}' of repository '{self._spec.repository}'"
        listing = self._http.get_model(url, subject=where, model=_FileList)
        found: list[tuple[datetime, ResolvedArtifact]] = []
        for entry in listing.files:
            path = f"{self._folder}/{entry.uri.lstrip('/')}".lstrip("/")
            if entry.folder or not fnmatchcase(path, self._pattern):
                continue
            artifact = ResolvedArtifact(
                version=path,
                sha256=entry.sha2,
                size=entry.size,
                url=self._download_url(path),
                created_at=_iso(entry.last_modified),
            )
            found.append((_parse(entry.last_modified), artifact))
        found.sort(key=lambda pair: (pair[0], pair[1].version))
        return [artifact for _, artifact in found]

    def _storage_url(self, path: str) -> str:
        suffix = f"/{quote(path, safe='/')}" if path else ""
        return f"{self._base}/api/storage/{quote(self._spec.repository, safe='')}{suffix}"

    def _download_url(self, path: str) -> str:
        return f"{self._base}/{quote(self._spec.repository, safe='')}/{quote(path, safe='/')}"


def _parse(timestamp: str | None) -> datetime:
    """Artifactory's ISO-8601 ("2024-03-01T10:00:00.000Z", "...+02:00", "...+0200") as aware UTC."""
    if not timestamp:
        return _EPOCH
    try:
        parsed = datetime.fromisoformat(timestamp)
    except ValueError:
        return _EPOCH
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _iso(timestamp: str | None) -> str | None:
    if not timestamp or _parse(timestamp) == _EPOCH:
        return timestamp
    return _parse(timestamp).isoformat().replace("+00:00", "Z")
