"""Nexus Repository 3 as an artifact source: raw and maven2 repositories via the search API.

Mapping (Nexus REST API v1, `GET <url>/service/rest/v1/search/assets`):

* Query: `repository=<repo>&format=<raw|maven2>`, plus `maven.groupId`, `maven.artifactId` and
  `maven.extension` for maven2. Every page is read: the answer's `continuationToken` is sent back
  until it is null (a token seen twice is an error rather than an endless loop).
* raw: a version is an asset's path (without a leading `/`, which Nexus 3.88+ adds) matching the
  source's `path` glob (`fnmatch`: `*` also crosses `/`).
* maven2: a version is the asset's maven version, "1.4.0" or a timestamped snapshot
  "1.5.0-20240301.101500-3"; asking for a base version ("1.5.0-SNAPSHOT") gives its newest snapshot.
  Assets with a classifier (sources, javadoc) are not versions. The coordinates come from the asset's
  `maven2` block, or from its path when Nexus leaves the block empty (3.76 does).
* Newest is the latest `lastModified` (else `blobCreated`); ties go to the version in lexical order.
* Checksums and size come from the asset (`checksum.sha256`, `fileSize`); the download is verified
  against them. (Old Nexus versions give only sha1/md5; ResolvedArtifact carries no sha1, so such
  downloads are checked by size only.)
* Bytes: the asset's `downloadUrl` when it is on the server's own origin; otherwise (Nexus' base URL
  set to a name the delegate does not use) `<url>/repository/<repo>/<path>`, so credentials go only
  where the operator pointed the delegate.
* Auth: basic user/password; the HttpClient carries it.

I/O: every public method makes HTTP requests through the injected HttpClient; nothing else.
"""

from __future__ import annotations

import re
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from fnmatch import fnmatchcase
from typing import BinaryIO
from urllib.parse import quote, urlencode

from pydantic import BaseModel, ConfigDict, Field

from delegate.artifacts.base import ArtifactError, ArtifactNotFound
from delegate.artifacts.http import Expected, HttpClient, origin
from shared.payloads import NexusSource, ResolvedArtifact

SEARCH_PATH = "/service/rest/v1/search/assets"
MAX_PAGES = 10_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SNAPSHOT = "-SNAPSHOT"


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


class _Checksum(_Model):
    sha256: str | None = None


class _Maven2(_Model):
    group_id: str | None = Field(default=None, alias="groupId")
    artifact_id: str | None = Field(default=None, alias="artifactId")
    version: str | None = None
    base_version: str | None = Field(default=None, alias="baseVersion")
    extension: str | None = None
    classifier: str | None = None


class _Asset(_Model):
    download_url: str = Field(alias="downloadUrl")
    path: str
    repository: str | None = None
    checksum: _Checksum = Field(default_factory=_Checksum)
    last_modified: str | None = Field(default=None, alias="lastModified")
    blob_created: str | None = Field(default=None, alias="blobCreated")
    file_size: int | None = Field(default=None, alias="fileSize")
    maven2: _Maven2 | None = None


class _Page(_Model):
    items: list[_Asset] = Field(default_factory=list)
    continuation_token: str | None = Field(default=None, alias="continuationToken")


@dataclass(frozen=True)
class _Version:
    artifact: ResolvedArtifact
    base_version: str  # the maven base version, or the path for raw
    when: datetime


class NexusClient:
    """Versions and downloads of one raw path glob or one maven2 artifact in a Nexus 3 repository."""

    def __init__(self, spec: NexusSource, *, http: HttpClient) -> None:
        self._spec = spec
        self._http = http
        self._base = spec.server.url.rstrip("/")
        if spec.format == "raw" and not spec.path:
            raise ArtifactError(f"{http.name}: a raw nexus source needs a path glob")
        if spec.format == "maven2" and not (spec.group_id and spec.artifact_id):
            raise ArtifactError(f"{http.name}: a maven2 nexus source needs groupId and artifactId")
        self._what = (
            f"'{spec.path}' in repository '{spec.repository}'"
            if spec.format == "raw"
            else f"{spec.group_id}:{spec.artifact_id} ({spec.extension}) in repository '{spec.repository}'"
        )

    def list_versions(self, limit: int = 100) -> list[ResolvedArtifact]:
        versions = self._versions()
        return [v.artifact for v in versions[-limit:]] if limit > 0 else []

    def resolve(self, version: str | None) -> ResolvedArtifact:
        versions = self._versions()
        if version is not None:
            wanted = version.lstrip("/") if self._spec.format == "raw" else version
            versions = [v for v in versions if wanted in (v.artifact.version, v.base_version)]
        if not versions:
            which = f"version '{version}' of " if version is not None else "any version of "
            raise ArtifactNotFound(f"{self._http.name}: no {which}{self._what}")
        return versions[-1].artifact

    def open(self, artifact: ResolvedArtifact) -> AbstractContextManager[BinaryIO]:
        if not artifact.url:
            raise ArtifactError(f"{self._http.name}: version '{artifact.version}' of {self._what} has no url")
        return self._http.download(
            artifact.url,
            subject=f"version '{artifact.version}' of {self._what}",
            expect=Expected(sha256=artifact.sha256, size=artifact.size),
        )

    # --- internals -------------------------------------------------------------------------------

    def _versions(self) -> list[_Version]:
        found = [v for v in map(self._version_of, self._assets()) if v is not None]
        found.sort(key=lambda v: (v.when, v.artifact.version))
        return found

    def _assets(self) -> list[_Asset]:
        query = {"repository": self._spec.repository, "format": self._spec.format}
        if self._spec.format == "maven2":
            query["maven.groupId"] = self._spec.group_id or ""
            query["maven.artifactId"] = self._spec.artifact_id or ""
            query["maven.extension"] = self._spec.extension
        assets: list[_Asset] = []
        seen: set[str] = set()
        token: str | None = None
        for _ in range(MAX_PAGES):
            params = {**query, "continuationToken": token} if token else query
            url = f"{self._base}{SEARCH_PATH}?{urlencode(params)}"
            page = self._http.get_model(url, subject=f"search for {self._what}", model=_Page)
            assets.extend(page.items)
            token = page.continuation_token
            if not token:
                return assets
            if token in seen:
                raise ArtifactError(f"{self._http.name}: search for {self._what} repeated a continuationToken")
            seen.add(token)
        raise ArtifactError(f"{self._http.name}: search for {self._what} returned more than {MAX_PAGES} pages")

    def _version_of(self, asset: _Asset) -> _Version | None:
        path = asset.path.lstrip("/")
        if self._spec.format == "raw":
            if not fnmatchcase(path, (self._spec.path or "").lstrip("/")):
                return None
            version = base = path
        else:
            coordinates = self._maven_coordinates(asset, path)
            if coordinates is None:
                return None
            version, base = coordinates
        when = _parse(asset.last_modified) or _parse(asset.blob_created) or _EPOCH
        artifact = ResolvedArtifact(
            version=version,
            sha256=asset.checksum.sha256.lower() if asset.checksum.sha256 else None,
            size=asset.file_size,
            url=self._download_url(asset, path),
            created_at=when.isoformat().replace("+00:00", "Z") if when != _EPOCH else None,
        )
        return _Version(artifact, base, when)

    def _maven_coordinates(self, asset: _Asset, path: str) -> tuple[str, str] | None:
        """(version, baseVersion) of the main artifact, or None for classifiers and other files."""
        extension = self._spec.extension
        if not path.endswith("." + extension):
            return None
        block = asset.maven2
        if block is not None and block.version:
            if block.classifier or (block.extension and block.extension != extension):
                return None
            return block.version, block.base_version or _directory_version(path) or block.version
        return _version_from_path(path, self._spec.artifact_id or "", extension)

    def _download_url(self, asset: _Asset, path: str) -> str:
        if origin(asset.download_url) == origin(self._base):
            return asset.download_url
        repository = asset.repository or self._spec.repository
        return f"{self._base}/repository/{quote(repository, safe='')}/{quote(path, safe='/')}"


def _directory_version(path: str) -> str | None:
    parts = path.split("/")
    return parts[-2] if len(parts) >= 2 else None


def _version_from_path(path: str, artifact_id: str, extension: str) -> tuple[str, str] | None:
    """Maven layout `group/artifact/<baseVersion>/<artifact>-<version>[-classifier].<ext>`."""
    base = _directory_version(path)
    filename = path.rsplit("/", 1)[-1]
    prefix, suffix = f"{artifact_id}-", f".{extension}"
    if base is None or not filename.startswith(prefix):
        return None
    stem = filename[len(prefix) : -len(suffix)]
    if stem == base:
        return stem, base
    if base.endswith(_SNAPSHOT):
        timestamped = re.escape(base[: -len(_SNAPSHOT)]) + r"-\d{8}\.\d{6}-\d+"
        if re.fullmatch(timestamped, stem):
            return stem, base
    return None  # a classifier ("-sources") or a file that is not this artifact


def _parse(timestamp: str | None) -> datetime | None:
    if not timestamp:
        return None
    try:
        parsed = datetime.fromisoformat(timestamp)
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
