"""A custom artifact source: a script on the delegate prints the versions as JSON.

Running the script:

* `script` is an argv list executed directly, never through a shell, and nothing from configuration
  is interpolated into it: what the operator wrote is exactly what runs. stdin is empty.
* It runs in its own process group with the delegate's environment (minus the delegate's own token,
  which is none of the script's business; plus AWS_REGION when the source sets `region`). When it
  outlives `timeoutSeconds` the whole group is killed, so children it started die with it.
* It is run for every `list_versions` and `resolve`, so the versions are always current.

Its output (stdout, UTF-8 JSON), validated strictly; anything else is an ArtifactError naming the
problem, with the tail of the script's stderr:

    {"versions": [                                         # or just the list itself
      {"version": "1.4.0",                                 # required, unique, non-empty string
       "url": "https://artifacts.example.com/app-1.4.0.zip",   # http(s), fetched without credentials
       "sha256": "<64 hex>", "size": 123, "createdAt": "2024-03-01T10:00:00Z"},   # all optional
      {"version": "1.5.0",
       "s3": {"bucket": "b", "key": "app/app-1.5.0.zip", "versionId": "...", "region": "eu-west-1"},
       "sha256": "...", "size": 456, "createdAt": "..."}   # region defaults to the source's region
    ]}

Each version has exactly one of `url` and `s3`; unknown fields are errors (a typo such as "sha265"
must not silently skip verification). Order: by `createdAt` when every version has one, otherwise
the script's order, oldest first. `resolve(None)` is the newest (last) version.

Bytes: `url` versions stream through the HttpClient (retries, resume, sha256 verified); `s3` versions
through the S3 opener the factory passes in (the S3 source with this source's credentials), with the
sha256 the script printed verified on top.

I/O: a subprocess per listing, then HTTP or S3 through the injected collaborators.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from typing import Annotated, BinaryIO, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator

from delegate.artifacts.base import ArtifactError, ArtifactNotFound
from delegate.artifacts.http import Expected, HttpClient, verified
from shared.payloads import CustomSource, ResolvedArtifact

S3Opener = Callable[[ResolvedArtifact], AbstractContextManager[BinaryIO]]

MAX_OUTPUT_BYTES = 16 << 20
WITHHELD_ENV = frozenset({"OUTRIDER_DELEGATE_TOKEN"})
# Secrets meant for `${secrets.NAME}` are the delegate's, not every script's: least privilege.
WITHHELD_PREFIX = "OUTRIDER_SECRET_"
_KILL_GRACE = 5.0  # seconds to collect output after killing the group

_Text = Annotated[str, StringConstraints(min_length=1, strip_whitespace=True)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class _S3Location(_Strict):
    bucket: _Text
    key: _Text
    version_id: _Text | None = Field(default=None, alias="versionId")
    region: _Text | None = None


class _Version(_Strict):
    version: _Text
    url: _Text | None = None
    s3: _S3Location | None = None
    sha256: Annotated[str, StringConstraints(pattern=r"^[0-9a-fA-F]{64}$")] | None = None
    size: Annotated[int, Field(ge=0)] | None = None
    created_at: _Text | None = Field(default=None, alias="createdAt")

    @model_validator(mode="after")
    def _one_location(self) -> Self:
        if (self.url is None) == (self.s3 is None):
            raise ValueError("needs exactly one of 'url' and 's3'")
        if self.url is not None and not self.url.lower().startswith(("https://", "http://")):
            raise ValueError("'url' must be an http:// or https:// URL")
        if self.created_at is not None:
            try:
                datetime.fromisoformat(self.created_at)
            except ValueError:
                raise ValueError(f"'createdAt' is not an ISO-8601 timestamp: {self.created_at!r}") from None
        return self


class _Output(_Strict):
    versions: list[_Version]


class CustomScriptClient:
    """Versions a script prints; downloads over HTTP or from S3."""

    def __init__(
        self,
        spec: CustomSource,
        *,
        http: HttpClient,
        s3_open: S3Opener | None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        """`env`: the environment to start from (default: the delegate's own, `os.environ`)."""
        if not spec.script or not spec.script[0]:
            raise ArtifactError("custom artifact source: 'script' is empty")
        self._spec = spec
        self._http = http
        self._s3_open = s3_open
        self._env = {
            k: v
            for k, v in (os.environ if env is None else env).items()
            if k not in WITHHELD_ENV and not k.startswith(WITHHELD_PREFIX)
        }
        if spec.region:
            self._env["AWS_REGION"] = spec.region
        self._name = f"custom script {spec.script[0]!r}"

    def list_versions(self, limit: int = 100) -> list[ResolvedArtifact]:
        versions = self._versions()
        return versions[-limit:] if limit > 0 else []

    def resolve(self, version: str | None) -> ResolvedArtifact:
        versions = self._versions()
        if version is not None:
            versions = [v for v in versions if v.version == version]
        if not versions:
            problem = "listed no versions" if version is None else f"did not list version '{version}'"
            raise ArtifactNotFound(f"{self._name}: {problem}")
        return versions[-1]

    def open(self, artifact: ResolvedArtifact) -> AbstractContextManager[BinaryIO]:
        expect = Expected(sha256=artifact.sha256, size=artifact.size)
        if artifact.url:
            return self._http.download(artifact.url, subject=f"version '{artifact.version}'", expect=expect)
        if artifact.s3_bucket and artifact.s3_key:
            return self._open_s3(artifact, expect)
        raise ArtifactError(f"{self._name}: version '{artifact.version}' has neither a url nor an S3 location")

    # --- internals -------------------------------------------------------------------------------

    @contextmanager
    def _open_s3(self, artifact: ResolvedArtifact, expect: Expected) -> Iterator[BinaryIO]:
        if self._s3_open is None:
            raise ArtifactError(f"{self._name}: version '{artifact.version}' is in S3, but S3 is not available")
        with self._s3_open(artifact) as stream:
            label = f"{self._name}: version '{artifact.version}' (s3://{artifact.s3_bucket}/{artifact.s3_key})"
            yield verified(stream, expect=expect, label=label)

    def _versions(self) -> list[ResolvedArtifact]:
        output = self._run()
        try:
            document = json.loads(output)
        except ValueError as exc:
            raise ArtifactError(f"{self._name}: printed invalid JSON ({exc}): {_excerpt(output)!r}") from None
        if isinstance(document, list):
            document = {"versions": document}
        try:
            parsed = _Output.model_validate(document)
        except ValidationError as exc:
            raise ArtifactError(f"{self._name}: printed unexpected JSON: {_first_problem(exc)}") from None
        return self._to_artifacts(parsed.versions)

    def _to_artifacts(self, versions: list[_Version]) -> list[ResolvedArtifact]:
        seen: set[str] = set()
        artifacts: list[ResolvedArtifact] = []
        for index, item in enumerate(versions):
            if item.version in seen:
                raise ArtifactError(f"{self._name}: printed version '{item.version}' twice")
            seen.add(item.version)
            location: dict[str, str | None] = {"url": item.url}
            if item.s3 is not None:
                region = item.s3.region or self._spec.region
                if region is None:
                    raise ArtifactError(f"{self._name}: versions[{index}].s3 has no region and the source sets none")
                location = {
                    "s3_bucket": item.s3.bucket,
                    "s3_key": item.s3.key,
                    "s3_version_id": item.s3.version_id,
                    "s3_region": region,
                }
            artifacts.append(
                ResolvedArtifact.model_validate(
                    {
                        "version": item.version,
                        "sha256": item.sha256.lower() if item.sha256 else None,
                        "size": item.size,
                        "created_at": item.created_at,
                        **location,
                    }
                )
            )
        if artifacts and all(a.created_at for a in artifacts):
            artifacts.sort(key=lambda a: _timestamp(a.created_at))
        return artifacts

    def _run(self) -> bytes:
        argv = list(self._spec.script)
        timeout = self._spec.timeout_seconds
        try:
            process = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=self._env,
                start_new_session=True,  # its own process group: a timeout kills its children too
            )
        except OSError as exc:
            raise ArtifactError(f"{self._name}: cannot start: {exc.strerror or exc}") from None
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(process)
            stdout, stderr = _collect(process)
            raise ArtifactError(f"{self._name}: timed out after {timeout}s and was killed{_tail(stderr)}") from None
        except BaseException:
            _kill_group(process)  # interrupted (task cancelled): leave nothing running behind
            _collect(process)
            raise
        if process.returncode != 0:
            how = (
                f"was killed by signal {-process.returncode}"
                if process.returncode < 0
                else f"exited with status {process.returncode}"
            )
            raise ArtifactError(f"{self._name}: {how}{_tail(stderr)}")
        if len(stdout) > MAX_OUTPUT_BYTES:
            raise ArtifactError(f"{self._name}: printed more than {MAX_OUTPUT_BYTES} bytes")
        return stdout


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


def _collect(process: subprocess.Popen[bytes]) -> tuple[bytes, bytes]:
    """Output after a kill; a grandchild that escaped the group could hold the pipes, so bounded."""
    try:
        return process.communicate(timeout=_KILL_GRACE)
    except subprocess.TimeoutExpired:
        process.kill()
        return b"", b""


def _tail(stderr: bytes) -> str:
    """The last lines of stderr as one line, for the error message."""
    lines = [line.strip() for line in stderr.decode("utf-8", errors="replace").splitlines() if line.strip()]
    if not lines:
        return ""
    text = " | ".join(lines[-3:])
    return f"; stderr: {text[-300:]}"


def _excerpt(output: bytes) -> str:
    text = " ".join(output.decode("utf-8", errors="replace").split())
    return text[:80] + ("..." if len(text) > 80 else "")


def _first_problem(exc: ValidationError) -> str:
    errors = exc.errors()
    first = errors[0]
    where = ""
    for part in first["loc"]:
        where += f"[{part}]" if isinstance(part, int) else f".{part}" if where else str(part)
    message = str(first["msg"]).removeprefix("Value error, ")
    more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
    return f"{where or 'document'}: {message}{more}"


def _timestamp(value: str | None) -> datetime:
    parsed = datetime.fromisoformat(value or "")
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
