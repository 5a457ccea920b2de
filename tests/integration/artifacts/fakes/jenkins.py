"""A fake Jenkins controller: folders, jobs, builds and archived artifacts over the JSON remote API.

What it reproduces of Jenkins (remote access API, `.../api/json`):

* Jobs nest in folders as `/job/<folder>/job/<name>`; each name is one percent-encoded segment.
  A folder's JSON has `jobs` and no `builds`.
* `?tree=` filters the JSON like Jenkins does (`builds[number,result,artifacts[relativePath]]`);
  without it, builds carry only `_class`, `number` and `url`, as on a real controller.
* `builds` lists at most the newest 100 builds, newest first; `result` is null while a build runs.
* `/job/<name>/<number>/api/json` for one build; `/job/<name>/<number>/artifact/<relativePath>`
  serves the archived file (HEAD, Range, ETag from the shared server).
* Security: HTTP basic with user + API token. Wrong token -> 401; anonymous without read
  permission -> 403 "Authentication required"; unknown job/build/file -> 404 HTML page.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self
from urllib.parse import quote

from ._server import Blob, FakeServer, Request, Response, json_response, text_response

MAX_BUILDS = 100


@dataclass
class FakeBuild:
    number: int
    result: str | None = "SUCCESS"
    timestamp_ms: int = 1_700_000_000_000
    artifacts: dict[str, Blob] = field(default_factory=dict)  # relativePath -> file


class FakeJenkins:
    """Start with `with FakeJenkins(...) as jenkins:`; `jenkins.url` is the controller's root URL."""

    def __init__(
        self, *, users: Mapping[str, str] | None = None, anonymous_read: bool = False, prefix: str = "/jenkins"
    ) -> None:
        self.users = dict(users or {})
        self.anonymous_read = anonymous_read
        self.jobs: dict[str, list[FakeBuild]] = {}
        self.server = FakeServer(self.handle, prefix=prefix)

    @property
    def url(self) -> str:
        return self.server.url

    def add_build(
        self,
        job: str,
        number: int,
        *,
        result: str | None = "SUCCESS",
        artifacts: Mapping[str, bytes] | None = None,
        timestamp: datetime | None = None,
    ) -> FakeBuild:
        when = timestamp or datetime(2024, 1, 1, tzinfo=UTC)
        build = FakeBuild(
            number=number,
            result=result,
            timestamp_ms=int(when.timestamp() * 1000) + number,
            artifacts={path: Blob(data, when) for path, data in (artifacts or {}).items()},
        )
        self.jobs.setdefault(job, []).append(build)
        return build

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
        names: list[str] = []
        while len(segments) >= 2 and segments[0] == "job":
            names.append(segments[1])
            segments = segments[2:]
        if not names:
            return _not_found()
        job = "/".join(names)
        if job not in self.jobs:
            if any(name.startswith(job + "/") for name in self.jobs):
                return self._folder(job, request, segments)
            return _not_found()
        builds = sorted(self.jobs[job], key=lambda b: b.number, reverse=True)
        if segments == ["api", "json"]:
            document = {
                "_class": "hudson.model.FreeStyleProject",
                "name": names[-1],
                "url": f"{self.url}/{_job_path(names)}/",
                "builds": [self._build_json(names, b) for b in builds[:MAX_BUILDS]],
            }
            return _tree_response(document, request, default_build_fields=("_class", "number", "url"))
        if not segments or not segments[0].isdigit():
            return _not_found()
        build = next((b for b in builds if b.number == int(segments[0])), None)
        if build is None:
            return _not_found()
        rest = segments[1:]
        if rest == ["api", "json"]:
            return _tree_response(self._build_json(names, build), request)
        if rest[:1] == ["artifact"] and len(rest) > 1:
            blob = build.artifacts.get("/".join(rest[1:]))
            return Response(body=blob) if blob is not None else _not_found()
        return _not_found()

    def _check_auth(self, request: Request) -> Response | None:
        credentials = request.basic_auth()
        if credentials is None:
            if self.anonymous_read or not self.users:
                return None
            response = text_response(403, "<html><body>Authentication required</body></html>")
            response.headers["X-You-Are-Authenticated-As"] = "anonymous"
            return response
        user, token = credentials
        if self.users.get(user) != token:
            return text_response(401, f"<html><body>Invalid password/token for user: {user}</body></html>")
        return None

    def _folder(self, folder: str, request: Request, rest: list[str]) -> Response:
        if rest != ["api", "json"]:
            return _not_found()
        children = sorted(
            {name[len(folder) + 1 :].split("/")[0] for name in self.jobs if name.startswith(folder + "/")}
        )
        document = {
            "_class": "com.cloudbees.hudson.plugins.folder.Folder",
            "jobs": [{"_class": "hudson.model.FreeStyleProject", "name": child} for child in children],
        }
        return _tree_response(document, request)

    def _build_json(self, names: list[str], build: FakeBuild) -> dict[str, Any]:
        return {
            "_class": "hudson.model.FreeStyleBuild",
            "number": build.number,
            "url": f"{self.url}/{_job_path(names)}/{build.number}/",
            "result": build.result,
            "building": build.result is None,
            "timestamp": build.timestamp_ms,
            "duration": 1234,
            "artifacts": [
                {"displayPath": path.rsplit("/", 1)[-1], "fileName": path.rsplit("/", 1)[-1], "relativePath": path}
                for path in sorted(build.artifacts)
            ],
        }


def _job_path(names: list[str]) -> str:
    return "/".join(f"job/{quote(name, safe='')}" for name in names)


def _not_found() -> Response:
    return text_response(404, "<html><head><title>Error 404 Not Found</title></head><body>Not Found</body></html>")


def _tree_response(
    document: dict[str, Any], request: Request, default_build_fields: tuple[str, ...] | None = None
) -> Response:
    tree = request.param("tree")
    if tree is None:
        if default_build_fields is not None and "builds" in document:
            document = {
                **document,
                "builds": [{k: b[k] for k in default_build_fields} for b in document["builds"]],
            }
        return json_response(document)
    try:
        spec = _parse_tree(tree)
    except ValueError:
        return text_response(400, "<html><body>Malformed tree expression</body></html>")
    return json_response(_apply_tree(document, spec))


def _parse_tree(text: str) -> dict[str, Any]:
    """`a,b[c,d[e]]` -> {"a": {}, "b": {"c": {}, "d": {"e": {}}}} (range suffixes `{m,n}` ignored)."""
    position = 0

    def parse_list() -> dict[str, Any]:
        nonlocal position
        fields: dict[str, Any] = {}
        while position < len(text):
            start = position
            while position < len(text) and text[position] not in ",[]{":
                position += 1
            name = text[start:position]
            if not name:
                raise ValueError(text)
            children: dict[str, Any] = {}
            if position < len(text) and text[position] == "[":
                position += 1
                children = parse_list()
                if position >= len(text) or text[position] != "]":
                    raise ValueError(text)
                position += 1
            if position < len(text) and text[position] == "{":
                position = text.index("}", position) + 1
            fields[name] = children
            if position < len(text) and text[position] == ",":
                position += 1
                continue
            break
        return fields

    parsed = parse_list()
    if position != len(text):
        raise ValueError(text)
    return parsed


def _apply_tree(value: Any, spec: dict[str, Any]) -> Any:
    if isinstance(value, list):
        return [_apply_tree(item, spec) for item in value]
    if not isinstance(value, dict) or not spec:
        return value
    kept: dict[str, Any] = {"_class": value["_class"]} if "_class" in value else {}
    for name, children in spec.items():
        if name in value:
            kept[name] = _apply_tree(value[name], children)
    return kept
