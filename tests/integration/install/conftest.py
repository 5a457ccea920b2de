"""Wheels and a wheelhouse for the installer tests.

Why a wheelhouse: install.sh builds a fresh venv and pip-installs the wheel with its dependencies,
which from the package index takes 20-30 s per install and needs the network every time. The
tests pass `--pip-args "--no-index --find-links WHEELHOUSE --no-compile"` instead (the option admins
use on hosts without internet access, plus skipping pip's byte-compiling, which imports then do
lazily), so the real install path runs (new venv, dependency resolution, console scripts) in
about 10 s. The wheelhouse is downloaded once and kept in pytest's cache,
keyed by pyproject.toml and the interpreter; the first run on a machine pays the download.
"""

from __future__ import annotations

import hashlib
import os
import platform
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from shared.version import __version__
from tests.harness import ROOT

PACKAGE_PARTS = ("shared", "control_plane", "delegate", "pyproject.toml", "README.md")


def build_wheel(workdir: Path, version: str = __version__) -> Path:
    """Builds the project wheel from a copy of the sources (so the build never writes into the
    checkout, and parallel builds never share a build/ directory), optionally with another version."""
    src = workdir / "src"
    for part in PACKAGE_PARTS:
        origin = ROOT / part
        if origin.is_dir():
            shutil.copytree(origin, src / part, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            src.mkdir(parents=True, exist_ok=True)
            shutil.copy2(origin, src / part)
    version_file = src / "shared" / "version.py"
    text, count = re.subn(r'__version__ = "[^"]+"', f'__version__ = "{version}"', version_file.read_text())
    assert count == 1, "shared/version.py no longer has a __version__ line"
    version_file.write_text(text)
    out = workdir / "dist"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(out),
            str(src),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    [wheel] = out.glob("outrider-*.whl")
    assert wheel.name.startswith(f"outrider-{version}-"), wheel.name
    return wheel


@pytest.fixture(scope="session")
def current_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_wheel(tmp_path_factory.mktemp("wheel-current"))


@pytest.fixture(scope="session")
def wheelhouse(request: pytest.FixtureRequest, current_wheel: Path) -> Path:
    """Wheels of every dependency of `outrider[delegate]` (not outrider itself)."""
    key = hashlib.sha256(
        (ROOT / "pyproject.toml").read_bytes() + f"{sys.version}|{platform.machine()}".encode()
    ).hexdigest()[:16]
    cache = getattr(request.config, "cache", None)  # absent under -p no:cacheprovider
    if cache is not None:
        base = Path(cache.mkdir("outrider-install-wheelhouse"))
    else:
        base = ROOT / ".pytest_cache" / "d" / "outrider-install-wheelhouse"
        base.mkdir(parents=True, exist_ok=True)
    done = base / key
    if (done / "COMPLETE").exists():
        return done
    partial = base / f"{key}.partial-{os.getpid()}"
    shutil.rmtree(partial, ignore_errors=True)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--disable-pip-version-check",
            "--only-binary=:all:",
            "--dest",
            str(partial),
            f"{current_wheel}[delegate]",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, f"could not download the delegate's dependencies:\n{proc.stderr[-3000:]}"
    for own in partial.glob("outrider-*.whl"):
        own.unlink()
    (partial / "COMPLETE").write_text(key)
    try:
        partial.rename(done)
    except OSError:  # another worker finished first: theirs is as good as ours
        shutil.rmtree(partial, ignore_errors=True)
    return done
