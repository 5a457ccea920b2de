"""Jenkins as an artifact source: a job's successful builds and the artifact each archived.

Mapping (Jenkins remote access API, JSON flavour):

* The job "folder/sub/job" lives at `<url>/job/folder/job/sub/job/job`; each name is percent-encoded
  as one path segment, so a multibranch job "repo/feature%2Fx" works as Jenkins names it.
* Versions come from one request: `<job>/api/json?tree=builds[number,result,timestamp,
  artifacts[relativePath,fileName]]`. A version is the build number (as a string) of a build whose
  result is SUCCESS and that archived an artifact whose relativePath matches the source's `path`
  glob (`fnmatch`: `*` also crosses `/`). When several artifacts of a build match, the first in
  relativePath order is the build's artifact: make the glob specific. Jenkins lists the latest 100
  builds under `builds`; older builds can still be deployed by number (one request for that build).
* Newest is the highest build number. `createdAt` is the build's start time.
* Bytes: `<job>/<number>/artifact/<relativePath>`. Jenkins knows no SHA-256 of an artifact; when the
  build also archived `<relativePath>.sha256` (output of `sha256sum`, seen in the build's artifact
  list), `resolve` reads it and the download is verified against it. `resolve` asks the size with a HEAD.
* Auth: HTTP basic with the user and an API token (or password); the HttpClient carries it.

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
from delegate.artifacts.http import Expected, HttpClient
from shared.payloads import JenkinsSource, ResolvedArtifact

_BUILD_FIELDS = "number,result,timestamp,artifacts[relativePath,fileName]"
_SIDECAR_SUFFIXES = (".sha256", ".sha1", ".md5")
_SHA256 = re.compile(r"[0-9a-fA-F]{64}")


class _Artifact(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    relative_path: str = Field(alias="relativePath")


class _Build(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    number: int
    result: str | None = None  # None while the build runs
    timestamp: int | None = None  # milliseconds since the epoch
    artifacts: list[_Artifact] = Field(default_factory=list)


class _Job(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    builds: list[_Build] | None = None  # absent on folders and other non-buildable items


@dataclass(frozen=True)
class _Candidate:
    artifact: ResolvedArtifact
    relative_path: str
    sidecar: str | None  # relativePath of an archived `<file>.sha256`, when there is one


class JenkinsClient:
    """Versions and downloads of one Jenkins job's archived artifact."""

    def __init__(self, spec: JenkinsSource, *, http: HttpClient) -> None:
        self._spec = spec
        self._http = http
        segments = [part for part in spec.job.strip("/").split("/") if part]
        if not segments:
            raise ArtifactError(f"{http.name}: the jenkins source has an empty job name")
        self._job_url = spec.server.url.rstrip("/") + "".join(f"/job/{quote(s, safe='')}" for s in segments)
        self._job = "/".join(segments)

    def list_versions(self, limit: int = 100) -> list[ResolvedArtifact]:
        candidates = self._candidates()
        return [c.artifact for c in candidates[-limit:]] if limit > 0 else []

    def resolve(self, version: str | None) -> ResolvedArtifact:
        if version is None:
            candidates = self._candidates()
            if not candidates:
                raise ArtifactNotFound(
                    f"{self._http.name}: job '{self._job}' has no successful build with an artifact "
                    f"matching '{self._spec.path}'"
                )
            chosen = candidates[-1]
        else:
            chosen = self._one_build(version)
        return chosen.artifact.model_copy(update=self._details(chosen))

    def open(self, artifact: ResolvedArtifact) -> AbstractContextManager[BinaryIO]:
        if not artifact.url:
            raise ArtifactError(f"{self._http.name}: build {artifact.version} of '{self._job}' has no url")
        return self._http.download(
            artifact.url,
            subject=f"artifact of build #{artifact.version} of job '{self._job}'",
            expect=Expected(sha256=artifact.sha256, size=artifact.size),
        )

    # --- internals -------------------------------------------------------------------------------

    def _candidates(self) -> list[_Candidate]:
        url = f"{self._job_url}/api/json?{urlencode({'tree': f'builds[{_BUILD_FIELDS}]'})}"
        job = self._http.get_model(url, subject=f"job '{self._job}'", model=_Job)
        if job.builds is None:
            raise ArtifactError(f"{self._http.name}: '{self._job}' is not a job with builds (a folder?)")
        found = [c for c in map(self._candidate, job.builds) if c is not None]
        return sorted(found, key=lambda c: int(c.artifact.version))

    def _one_build(self, version: str) -> _Candidate:
        if not version.isdigit():
            raise ArtifactNotFound(f"{self._http.name}: '{version}' is not a build number of job '{self._job}'")
        number = int(version)
        url = f"{self._job_url}/{number}/api/json?{urlencode({'tree': _BUILD_FIELDS})}"
        build = self._http.get_model(url, subject=f"build #{number} of job '{self._job}'", model=_Build)
        if build.result != "SUCCESS":
            raise ArtifactNotFound(
                f"{self._http.name}: build #{number} of job '{self._job}' is "
                f"{build.result or 'still running'}, not SUCCESS"
            )
        candidate = self._candidate(build)
        if candidate is None:
            raise ArtifactNotFound(
                f"{self._http.name}: build #{number} of job '{self._job}' archived no artifact "
                f"matching '{self._spec.path}'"
            )
        return candidate

    def _candidate(self, build: _Build) -> _Candidate | None:
        if build.result != "SUCCESS":
            return None
        pattern = self._spec.path.lstrip("/")
        matching = sorted(
            a.relative_path
            for a in build.artifacts
            if fnmatchcase(a.relative_path, pattern) and not a.relative_path.endswith(_SIDECAR_SUFFIXES)
        )
        if not matching:
            return None
        archived = {a.relative_path for a in build.artifacts}
        sidecar = matching[0] + ".sha256"
        created = None
        if build.timestamp is not None:
            created = datetime.fromtimestamp(build.timestamp / 1000, UTC).isoformat().replace("+00:00", "Z")
        artifact = ResolvedArtifact(
            version=str(build.number), url=self._artifact_url(build.number, matching[0]), created_at=created
        )
        return _Candidate(artifact, matching[0], sidecar if sidecar in archived else None)

    def _artifact_url(self, number: int | str, relative_path: str) -> str:
        return f"{self._job_url}/{number}/artifact/{quote(relative_path, safe='/')}"

    def _details(self, chosen: _Candidate) -> dict[str, object]:
        """Size (HEAD) and the SHA-256 from a `<file>.sha256` sidecar, when the build archived one."""
        url = self._artifact_url(chosen.artifact.version, chosen.relative_path)
        subject = f"artifact '{chosen.relative_path}' of build #{chosen.artifact.version} of job '{self._job}'"
        size = self._http.head(url, subject=subject).size
        if chosen.sidecar is None:
            return {"size": size}  # Jenkins itself cannot tell the checksum
        sidecar_url = self._artifact_url(chosen.artifact.version, chosen.sidecar)
        text = self._http.get_text(sidecar_url, subject=f"{subject}.sha256")
        match = _SHA256.match(text.strip())
        if match is None:
            raise ArtifactError(f"{self._http.name}: {subject}.sha256 does not start with a SHA-256 digest")
        return {"size": size, "sha256": match.group(0).lower()}
