"""The committed generated code must match what proto/ generates now."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_generated_code_is_current(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, str(ROOT / "tools" / "gen_proto.py"), str(tmp_path / "pb")], check=True, capture_output=True
    )
    fresh = {p.relative_to(tmp_path / "pb"): p.read_bytes() for p in (tmp_path / "pb").rglob("*.py*")}
    committed = {p.relative_to(ROOT / "shared" / "pb"): p.read_bytes() for p in (ROOT / "shared" / "pb").rglob("*.py*")}
    stale = sorted(str(k) for k in fresh.keys() | committed.keys() if fresh.get(k) != committed.get(k))
    assert not stale, f"shared/pb is stale against proto/ (run `make proto`): {stale}"
