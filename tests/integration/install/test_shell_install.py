"""deploy/shell/install.sh against a real control plane: install, start, register, stop, re-run, upgrade.

The delegate runs as a daemon started by start.sh (not a child of the test), so a finalizer kills
whatever pid the install left behind. The checks install.sh makes before it changes anything (usage,
Python version, reachability and TLS of the control plane) are fast tests without a wheel.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import stat
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from shared.tls import DevCerts, generate_dev_certs
from shared.version import __version__
from tests.harness import BIN, ROOT, ServerProcess, admin_init, run_cli, wait_until

from .conftest import build_wheel

INSTALL_SH = ROOT / "deploy" / "shell" / "install.sh"
OLD_VERSION = "0.0.1"


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@dataclass
class Install:
    prefix: Path

    def run(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", str(INSTALL_SH), "--prefix", str(self.prefix), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def script(self, name: str, *args: str) -> subprocess.CompletedProcess[str]:
        # start.sh waits 1 s (not 3) for an early crash; the test then waits for registration.
        env = {**os.environ, "OUTRIDER_START_CHECK_SECONDS": "1"}
        return subprocess.run(
            [str(self.prefix / name), *args], capture_output=True, text=True, timeout=120, env=env, check=False
        )

    def pid(self) -> int:
        return int((self.prefix / "run" / "delegate.pid").read_text())

    def env(self) -> dict[str, str]:
        lines = (self.prefix / "delegate.env").read_text().splitlines()
        return dict(
            re.fullmatch(r"([A-Z_0-9]+)='(.*)'", line).groups()  # type: ignore[union-attr]
            for line in lines
            if line and not line.startswith("#")
        )

    def kill_leftovers(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            pid = self.pid()
            if _alive(pid) and str(self.prefix) in Path(f"/proc/{pid}/cmdline").read_text(errors="replace"):
                os.kill(pid, signal.SIGKILL)


@dataclass
class ControlPlane:
    server: ServerProcess
    api_key: str

    def delegates(self) -> list[dict[str, Any]]:
        proc = run_cli(
            "delegates", "list", "-o", "json", "--server", self.server.address, "--insecure", "--api-key", self.api_key
        )
        assert proc.returncode == 0, proc.stderr
        docs: list[dict[str, Any]] = json.loads(proc.stdout)
        return docs

    def delegate(self, name: str) -> dict[str, Any] | None:
        return next((d for d in self.delegates() if d["name"] == name), None)

    def create_token(self, name: str, *selectors: str) -> dict[str, Any]:
        args = [f"--selector={s}" for s in selectors]
        proc = run_cli(
            "token", "create", name, *args, "-o", "json",
            "--server", self.server.address, "--insecure", "--api-key", self.api_key,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        doc: dict[str, Any] = json.loads(proc.stdout)
        return doc


@pytest.fixture
def control_plane(tmp_path: Path) -> Iterator[ControlPlane]:
    workdir = tmp_path / "cp"
    workdir.mkdir()
    db = f"sqlite:///{workdir / 'outrider.db'}"
    api_key = admin_init(db)
    server = ServerProcess(db, workdir).start()
    try:
        yield ControlPlane(server, api_key)
    finally:
        server.stop()


@pytest.fixture
def install(tmp_path: Path) -> Iterator[Install]:
    inst = Install(tmp_path / "opt" / "outrider-delegate")
    try:
        yield inst
    finally:
        inst.kill_leftovers()


@pytest.mark.slow
def test_install_start_register_stop_rerun_and_upgrade_in_place(
    control_plane: ControlPlane, install: Install, wheelhouse: Path, current_wheel: Path, tmp_path: Path
) -> None:
    old_wheel = build_wheel(tmp_path / "old", OLD_VERSION)
    new_wheel = current_wheel
    created = control_plane.create_token("shell-hosts", "eu", "prod")
    token_file = tmp_path / "delegate.token"
    token_file.write_text(created["token"] + "\n")
    # --no-compile: pip's byte-compiling of botocore alone doubles the install time; imports compile lazily.
    offline = ["--pip-args", f"--no-index --find-links {wheelhouse} --no-compile", "--python", sys.executable]
    config = [
        "--control-plane", control_plane.server.address, "--token-file", str(token_file), "--name", "shell-1",
        "--selector", "eu", "--selector", "prod", "--max-tasks", "3", "--grace-seconds", "5", "--insecure",
    ]  # fmt: skip

    # Fresh install of the old version.
    first = install.run(*config, "--wheel", str(old_wheel), *offline)
    assert first.returncode == 0, first.stderr
    assert f"installed outrider-delegate {OLD_VERSION}" in first.stderr
    token_copy = install.prefix / "delegate.token"
    assert token_copy.read_text().strip() == created["token"]
    assert stat.S_IMODE(token_copy.stat().st_mode) == 0o600
    env = install.env()
    assert env["OUTRIDER_INSTALL_KIND"] == "shell"
    assert env["OUTRIDER_CONTROL_PLANE"] == control_plane.server.address
    assert (env["OUTRIDER_SELECTORS"], env["OUTRIDER_MAX_TASKS"], env["OUTRIDER_TLS"]) == ("eu,prod", "3", "insecure")
    assert created["token"] not in (install.prefix / "delegate.env").read_text()
    first_venv = os.readlink(install.prefix / "venv")

    # start.sh: registers with the control plane as a shell install, reported outdated.
    started = install.script("start.sh")
    assert started.returncode == 0, started.stderr + started.stdout
    pid = install.pid()
    registered = wait_until(
        lambda: (d := control_plane.delegate("shell-1")) and d["connected"] and d, 30, message="shell-1 to register"
    )
    assert registered["installKind"] == "shell"
    assert registered["version"] == OLD_VERSION and registered["outdated"] is True
    assert registered["selectors"] == ["eu", "prod"] and registered["maxTasks"] == 3
    assert registered["token"] == "shell-hosts"

    # Idempotent start and status while running.
    again = install.script("start.sh")
    assert again.returncode == 0 and "already running" in again.stdout
    assert install.pid() == pid
    status = install.script("status.sh")
    assert status.returncode == 0 and f"running (pid {pid})" in status.stdout

    # stop.sh: graceful exit, process gone, pid file removed; stopping twice is fine.
    stopped = install.script("stop.sh")
    assert stopped.returncode == 0, stopped.stderr
    assert not _alive(pid)
    assert not (install.prefix / "run" / "delegate.pid").exists()
    assert install.script("stop.sh").returncode == 0
    assert install.script("status.sh").returncode == 3
    log = (install.prefix / "logs" / "delegate.log").read_text()
    assert '"event": "delegate stopped"' in log

    # Running install.sh again is safe: same venv, token and spool; a key added by hand stays.
    with (install.prefix / "delegate.env").open("a") as f:
        f.write("HTTPS_PROXY_FOR_TEST='http://proxy.internal:3128'\n")
    marker = install.prefix / "spool" / "kept-across-upgrades"
    marker.write_text("spool content")
    # ...and with --systemd it adds a unit; a directory systemd does not load is never enabled, and
    # the unit name is unique so that start.sh keeps managing the process on a systemd machine too.
    unit_dir = tmp_path / "units"
    unit_dir.mkdir()
    unit = f"outrider-delegate-test-{uuid.uuid4().hex[:8]}"
    systemd = ["--systemd", "--systemd-dir", str(unit_dir), "--systemd-unit", unit]
    rerun = install.run(*config, "--wheel", str(old_wheel), *offline, *systemd)
    assert rerun.returncode == 0, rerun.stderr
    assert "already installed" in rerun.stderr
    assert os.readlink(install.prefix / "venv") == first_venv
    assert install.env()["HTTPS_PROXY_FOR_TEST"] == "http://proxy.internal:3128"
    unit_text = (unit_dir / f"{unit}.service").read_text()
    assert f"ExecStart={install.prefix}/run.sh" in unit_text
    assert "TimeoutStopSec=20" in unit_text and "LimitNOFILE=65536" in unit_text and "KillMode=mixed" in unit_text

    # Start again, then upgrade while running: new venv, graceful restart, config/token/spool kept.
    assert install.script("start.sh").returncode == 0
    old_pid = install.pid()
    upgraded = install.run("--upgrade", "--wheel", str(new_wheel), *offline)
    assert upgraded.returncode == 0, upgraded.stderr
    assert f"upgraded outrider-delegate {OLD_VERSION} -> {__version__}" in upgraded.stderr
    assert not _alive(old_pid)
    assert _alive(install.pid()) and install.pid() != old_pid
    assert os.readlink(install.prefix / "venv") != first_venv
    assert (install.prefix / first_venv).is_dir(), "the previous venv is kept for a manual rollback"
    assert token_copy.read_text().strip() == created["token"]
    assert marker.read_text() == "spool content"
    assert install.env() == {
        **env,
        "HTTPS_PROXY_FOR_TEST": "http://proxy.internal:3128",
        "OUTRIDER_SYSTEMD_UNIT": unit,
    }
    wait_until(
        lambda: (d := control_plane.delegate("shell-1")) and d["connected"] and d["version"] == __version__,
        30,
        message="shell-1 to re-register on the new version",
    )
    [listed] = control_plane.delegates()
    assert listed["installKind"] == "shell" and listed["outdated"] is False

    # The restarted delegate must not hold install.sh's lock: running it again still works.
    after = install.run()
    assert after.returncode == 0, after.stderr
    assert "already installed" in after.stderr

    final_pid = install.pid()
    assert install.script("stop.sh").returncode == 0
    assert not _alive(final_pid)


def test_token_create_shell_snippet_uses_options_install_sh_accepts(control_plane: ControlPlane) -> None:
    snippet = control_plane.create_token("snippet", "eu")["install"]["shell"]
    assert "deploy/shell/install.sh" in snippet
    help_text = subprocess.run(["bash", str(INSTALL_SH), "--help"], capture_output=True, text=True, check=True).stdout
    install_line = next(line for line in snippet.splitlines() if "install.sh" in line)
    flags = set(re.findall(r"(?<!\S)(--[a-z][a-z-]*)", install_line))
    assert flags >= {"--control-plane", "--token-file"}
    for flag in flags:
        assert re.search(rf"^\s+{flag}\b", help_text, re.MULTILINE), f"install.sh --help lacks {flag}"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_unreachable_control_plane_fails_clearly_and_changes_nothing(install: Install, tmp_path: Path) -> None:
    token_file = tmp_path / "t"
    token_file.write_text("ordt_x\n")
    port = _closed_port()
    proc = install.run(
        "--control-plane", f"127.0.0.1:{port}", "--token-file", str(token_file), "--python", sys.executable
    )
    assert proc.returncode == 3
    assert f"cannot connect to 127.0.0.1:{port}" in proc.stderr and "--skip-connectivity-check" in proc.stderr
    assert not install.prefix.exists()


def test_tls_against_a_plaintext_control_plane_is_refused_with_a_hint(
    control_plane: ControlPlane, install: Install, tmp_path: Path
) -> None:
    token_file = tmp_path / "t"
    token_file.write_text("ordt_x\n")
    proc = install.run(
        "--control-plane", control_plane.server.address, "--token-file", str(token_file), "--python", sys.executable
    )
    assert proc.returncode == 3
    assert "TLS handshake" in proc.stderr and "is the control plane plaintext? then pass --insecure" in proc.stderr
    assert not install.prefix.exists()


@pytest.fixture
def tls_control_plane(tmp_path: Path) -> Iterator[tuple[str, DevCerts]]:
    """A real control plane serving TLS with throwaway certificates (ServerProcess is plaintext only)."""
    certs = generate_dev_certs(tmp_path / "certs")
    db = f"sqlite:///{tmp_path / 'tls.db'}"
    admin_init(db)
    port_file = tmp_path / "tls.port"
    log = open(tmp_path / "tls-server.log", "ab")  # noqa: SIM115 - owned by the child
    proc = subprocess.Popen(
        [
            str(BIN / "outrider"), "server", "--listen", "127.0.0.1:0", "--db", db, "--port-file", str(port_file),
            "--tls-cert", str(certs.server_cert), "--tls-key", str(certs.server_key),
        ],
        stdout=log,
        stderr=log,
    )  # fmt: skip
    try:
        wait_until(lambda: port_file.exists() or proc.poll() is not None, 30, message="TLS control plane to listen")
        assert proc.poll() is None, (tmp_path / "tls-server.log").read_text()
        yield f"127.0.0.1:{port_file.read_text().strip()}", certs
    finally:
        proc.terminate()
        proc.wait(15)
        log.close()


def test_tls_preflight_verifies_the_control_plane_certificate(
    tls_control_plane: tuple[str, DevCerts], install: Install, tmp_path: Path
) -> None:
    address, certs = tls_control_plane
    token_file = tmp_path / "t"
    token_file.write_text("ordt_x\n")
    base = ["--control-plane", address, "--token-file", str(token_file), "--python", sys.executable, "--dry-run"]
    trusted = install.run(*base, "--ca-cert", str(certs.ca_cert))
    assert trusted.returncode == 0, trusted.stderr
    assert f"control plane {address} reachable (tls TLSv1." in trusted.stderr
    assert f"OUTRIDER_CA_CERT={install.prefix}/tls/ca.pem" in trusted.stderr
    other = generate_dev_certs(tmp_path / "other-ca")
    untrusted = install.run(*base, "--ca-cert", str(other.ca_cert))
    assert untrusted.returncode == 3
    assert f"TLS certificate of {address} not trusted" in untrusted.stderr
    assert not install.prefix.exists()


def test_dry_run_checks_prerequisites_and_writes_nothing(install: Install, tmp_path: Path) -> None:
    token_file = tmp_path / "t"
    token_file.write_text("ordt_x\n")
    proc = install.run(
        "--control-plane", f"127.0.0.1:{_closed_port()}", "--token-file", str(token_file), "--python", sys.executable,
        "--skip-connectivity-check", "--name", "dry", "--selector", "eu", "--dry-run",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "Dry run: nothing changed" in proc.stderr
    assert "OUTRIDER_INSTALL_KIND=shell" in proc.stderr and "OUTRIDER_SELECTORS=eu" in proc.stderr
    assert "ordt_x" not in proc.stderr
    assert not install.prefix.exists()


def test_old_python_is_refused_with_a_clear_message(install: Install, tmp_path: Path) -> None:
    # A stand-in interpreter that reports 3.9 the way install.sh asks for it.
    fake = tmp_path / "python3.9"
    fake.write_text('#!/bin/sh\ncase "$2" in *print*) echo 3.9.18 ;; *) exit 1 ;; esac\n')
    fake.chmod(0o755)
    token_file = tmp_path / "t"
    token_file.write_text("ordt_x\n")
    proc = install.run("--control-plane", "127.0.0.1:7600", "--token-file", str(token_file), "--python", str(fake))
    assert proc.returncode == 4, proc.stderr
    assert "Python 3.11 or newer is required" in proc.stderr and "3.9.18" in proc.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "--control-plane HOST:PORT is required"),
        (["--control-plane", "no-port"], "expected HOST:PORT"),
        (["--control-plane", "h:7600", "--max-tasks", "0"], "--max-tasks: expected 1..256"),
        (["--control-plane", "h:7600", "--insecure", "--ca-cert", "/etc/hostname"], "exclude each other"),
        (["--control-plane", "h:7600", "--selector", "bad selector"], "invalid selector"),
        (["--control-plane", "h:7600", "--upgrade"], "--upgrade: no installation"),
        (["--control-plane", "h:7600"], "--token-file FILE is required for a new install"),
        (["--bogus"], "unknown option: --bogus"),
    ],
)
def test_invalid_usage_exits_2_with_one_readable_line(install: Install, args: list[str], message: str) -> None:
    proc = install.run(*args)
    assert proc.returncode == 2, proc.stderr
    [line] = proc.stderr.strip().splitlines()
    assert line.startswith("ERROR: ") and message in line
    assert not install.prefix.exists()
