"""deploy/docker/: the Dockerfiles read structurally (no Docker engine here) and the delegate image's
entrypoint run for real with a stand-in `outrider-delegate` and a loopback ECS metadata endpoint."""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shlex
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.harness import ROOT

DOCKER_DIR = ROOT / "deploy" / "docker"
ENTRYPOINT = DOCKER_DIR / "delegate-entrypoint.sh"
SECRET_WORDS = re.compile(r"TOKEN|SECRET|PASSWORD|PASSWD|PRIVATE|API_?KEY|CREDENTIAL", re.IGNORECASE)


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]


@dataclass
class Dockerfile:
    args: dict[str, str]
    stages: list[Stage]

    @property
    def final(self) -> Stage:
        return self.stages[-1]


def parse_dockerfile(path: Path) -> Dockerfile:
    """Instructions with continuation lines joined; enough structure for the checks below."""
    text = re.sub(r"\\\n", " ", path.read_text())
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, rest = line.partition(" ")
        keyword, rest = keyword.upper(), " ".join(rest.split())
        if keyword == "FROM":
            words = rest.split()
            base = re.sub(r"\$\{(\w+)\}", lambda m: global_args.get(m.group(1), m.group(0)), words[0])
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            stages.append(Stage(base, name))
        elif not stages and keyword == "ARG":
            key, _, value = rest.partition("=")
            global_args[key] = value
        else:
            stages[-1].instructions.append((keyword, rest))
    return Dockerfile(global_args, stages)


def _env(stage: Stage) -> dict[str, str]:
    env: dict[str, str] = {}
    for args in stage.all("ENV"):
        for pair in shlex.split(args):
            key, _, value = pair.partition("=")
            env[key] = value
    return env


def _dockerignore_allows(ignore_file: Path, path: str) -> bool:
    """Docker's rule: the last matching pattern wins; `!` re-includes."""
    allowed = True
    for raw in ignore_file.read_text().splitlines():
        pattern = raw.strip()
        if not pattern or pattern.startswith("#"):
            continue
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").rstrip("/")
        candidates = [path, *(str(Path(*Path(path).parts[:i])) for i in range(1, len(Path(path).parts)))]
        if any(fnmatch.fnmatch(c, pattern) or fnmatch.fnmatch(c, pattern.removeprefix("**/")) for c in candidates):
            allowed = negate
    return allowed


@pytest.mark.parametrize("name", ["Dockerfile.delegate", "Dockerfile.control-plane"])
def test_dockerfile_structure(name: str) -> None:
    dockerfile = DOCKER_DIR / name
    parsed = parse_dockerfile(dockerfile)
    final = parsed.final
    assert parsed.args["PYTHON_IMAGE"] == "python:3.11-slim"
    assert all(stage.base == "python:3.11-slim" for stage in parsed.stages)
    assert len(parsed.stages) >= 2, "multi-stage: the final image carries no build tools or sources"

    # Runs as a fixed non-root uid (numeric, so `runAsNonRoot` policies can verify it).
    [user] = final.all("USER")[-1:]
    uid = user.split(":")[0]
    assert uid.isdigit() and int(uid) != 0
    assert final.instructions.index(("USER", user)) > max(
        i for i, (kw, _) in enumerate(final.instructions) if kw in ("RUN", "COPY")
    ), "USER comes after every step that needs root"
    [entrypoint] = final.all("ENTRYPOINT")
    assert isinstance(json.loads(entrypoint), list), "exec form: the process gets SIGTERM directly"

    # Nothing secret is baked in: no such ENV/ARG/LABEL, no key or token files copied.
    for stage in parsed.stages:
        for kw, args in stage.instructions:
            if kw in ("ENV", "ARG", "LABEL"):
                assert not SECRET_WORDS.search(args), f"{name}: {kw} {args}"
            if kw in ("COPY", "ADD"):
                assert not re.search(r"\.(pem|key|token)\b|\.env\b|\.aws|\.git\b", args), f"{name}: {kw} {args}"
        assert not stage.all("ADD"), "COPY only (ADD fetches URLs and unpacks archives)"

    # COPY sources exist and the build context allowlist lets them in; --from names an earlier stage.
    ignore = DOCKER_DIR / f"{name}.dockerignore"
    names = [s.name for s in parsed.stages]
    for index, stage in enumerate(parsed.stages):
        for args in stage.all("COPY"):
            words = [w for w in args.split() if not w.startswith("--chmod") and not w.startswith("--chown")]
            if words[0].startswith("--from="):
                assert words[0].removeprefix("--from=") in names[:index]
                continue
            for source in words[:-1]:
                assert (ROOT / source).exists(), f"{name}: COPY {source}: no such file in the repository"
                assert _dockerignore_allows(ignore, source.rstrip("/")), f"{ignore.name} excludes {source}"
    assert not _dockerignore_allows(ignore, ".venv") and not _dockerignore_allows(ignore, "delegate.token")
    assert not _dockerignore_allows(ignore, "shared/tls/dev.key")


def test_delegate_image_specifics() -> None:
    parsed = parse_dockerfile(DOCKER_DIR / "Dockerfile.delegate")
    env = _env(parsed.final)
    assert env["OUTRIDER_INSTALL_KIND"] == "docker"
    volumes = {p for args in parsed.final.all("VOLUME") for p in json.loads(args)}
    assert env["OUTRIDER_SPOOL_DIR"] in volumes and env["TMPDIR"] in volumes
    assert json.loads(parsed.final.all("ENTRYPOINT")[0]) == ["/usr/local/bin/outrider-delegate-entrypoint"]
    assert any(
        "delegate-entrypoint.sh /usr/local/bin/outrider-delegate-entrypoint" in a for a in parsed.final.all("COPY")
    )
    assert any('"$1[delegate]"' in a for a in parsed.stages[1].all("RUN"))


def test_control_plane_image_specifics() -> None:
    parsed = parse_dockerfile(DOCKER_DIR / "Dockerfile.control-plane")
    assert json.loads(parsed.final.all("ENTRYPOINT")[0]) == ["outrider"]
    [cmd] = parsed.final.all("CMD")
    command = json.loads(cmd)
    assert command[0] == "server" and "--insecure" not in command and "--tls-cert" in command
    assert parsed.final.all("HEALTHCHECK"), "a health check on /healthz"
    assert any('"$1[control-plane]"' in a for a in parsed.stages[1].all("RUN"))


# --- the entrypoint, run for real -----------------------------------------------------------------------


@pytest.fixture
def ecs_metadata() -> Iterator[str]:
    task_arn = "arn:aws:ecs:us-east-1:123456789012:task/delegates/0f1e2d3c4b5a69788796a5b4c3d2e1f0"

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps({"TaskARN": task_arn}).encode() if self.path == "/v4/abc/task" else b"{}"
            self.send_response(200 if self.path == "/v4/abc/task" else 404)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v4/abc"
    finally:
        server.shutdown()
        server.server_close()


def _run_entrypoint(tmp_path: Path, env: dict[str, str], *args: str) -> dict[str, Any]:
    """Runs the entrypoint with a stand-in `outrider-delegate` that records what it was given."""
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir(exist_ok=True)
    fake = fake_bin / "outrider-delegate"
    fake.write_text(
        f"#!{sys.executable}\n"
        "import json, os, sys\n"
        "argv = sys.argv[1:]\n"
        "paths = {a: argv[i + 1] for i, a in enumerate(argv) if a.endswith(('-file', '-cert', '-key'))}\n"
        "files = {a: open(p).read() for a, p in paths.items() if os.path.exists(p)}\n"
        "modes = {a: oct(os.stat(paths[a]).st_mode & 0o777) for a in files}\n"
        "json.dump({'argv': argv, 'env': dict(os.environ), 'files': files, 'modes': modes},"
        " open(os.environ['FAKE_OUT'], 'w'))\n"
    )
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    out = tmp_path / "out.json"
    tmp = tmp_path / "tmp"
    tmp.mkdir(exist_ok=True)
    base = {
        "PATH": f"{fake_bin}:{Path(sys.executable).parent}:/usr/bin:/bin",
        "FAKE_OUT": str(out),
        "TMPDIR": str(tmp),
        "HOME": str(tmp_path),
    }
    proc = subprocess.run(
        ["sh", str(ENTRYPOINT), *args], env={**base, **env}, capture_output=True, text=True, timeout=30, check=False
    )
    assert proc.returncode == 0, proc.stderr
    doc: dict[str, Any] = json.loads(out.read_text())
    return doc


def _flag(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1]


def test_entrypoint_on_ecs_names_the_delegate_after_the_task_and_keeps_secrets_out_of_the_env(
    tmp_path: Path, ecs_metadata: str
) -> None:
    seen = _run_entrypoint(
        tmp_path,
        {
            "ECS_CONTAINER_METADATA_URI_V4": ecs_metadata,
            "OUTRIDER_DELEGATE_NAME_PREFIX": "ecs-prod",
            "OUTRIDER_DELEGATE_TOKEN": "ordt_secret_value",
            "OUTRIDER_CA_CERT_PEM": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----",
            "OUTRIDER_MAX_TASKS": "6",
            "OUTRIDER_GRACE_SECONDS": "45",
            "OUTRIDER_SPOOL_DIR": "/var/lib/outrider/spool",
        },
        "--insecure",
    )
    argv, env = seen["argv"], seen["env"]
    assert argv[0] == "run" and argv[-1] == "--insecure"
    assert env["OUTRIDER_DELEGATE_NAME"] == "ecs-prod-0f1e2d3c4b5a69788796a5b4c3d2e1f0"
    assert seen["files"]["--token-file"].strip() == "ordt_secret_value"
    assert seen["files"]["--ca-cert"].startswith("-----BEGIN CERTIFICATE-----")
    assert set(seen["modes"].values()) == {"0o600"}
    assert "OUTRIDER_DELEGATE_TOKEN" not in env and "OUTRIDER_CA_CERT_PEM" not in env
    assert "ordt_secret_value" not in json.dumps(argv)
    assert (_flag(argv, "--max-tasks"), _flag(argv, "--grace-seconds")) == ("6", "45")
    assert _flag(argv, "--spool-dir") == "/var/lib/outrider/spool"


def test_entrypoint_without_ecs_uses_the_hostname_or_the_name_given(tmp_path: Path) -> None:
    seen = _run_entrypoint(tmp_path, {"OUTRIDER_DELEGATE_TOKEN": "t"})
    assert seen["env"]["OUTRIDER_DELEGATE_NAME"] == f"delegate-{os.uname().nodename}"
    assert "--max-tasks" not in seen["argv"]
    named = _run_entrypoint(tmp_path, {"OUTRIDER_DELEGATE_NAME": "edge-1"}, "--token-file", "/run/secrets/token")
    assert named["env"]["OUTRIDER_DELEGATE_NAME"] == "edge-1"
    assert named["argv"] == ["run", "--token-file", "/run/secrets/token"]
