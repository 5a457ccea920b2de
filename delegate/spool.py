"""The durable spool: what the control plane has not acknowledged yet, kept on disk.

Layout: ROOT/<task_id>.<attempt>/ holding `lease.json` (task id, attempt, lease token),
`batch-<seq>.json` per unacknowledged log batch, `result.json` once the task ended, and
`journal.jsonl` (steps the task has done, for convergent retries). Every file is written to a
temporary name, fsynced and renamed, so a crash leaves either the old or the new file, never half.
Acknowledged batches are deleted; the directory goes once the result is acknowledged.

Bounded: when the spool holds more than `max_bytes`, new log batches are no longer written to
disk (they are still sent, best effort) and the attempt records how many lines were not spooled;
results and journals are always written, because losing them would lose work.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class SpooledResult:
    state: str
    result: bytes
    error: str
    last_log_seq: int


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class AttemptSpool:
    def __init__(self, spool: Spool, directory: Path) -> None:
        self._spool = spool
        self.dir = directory
        self._lock = threading.Lock()
        self.unspooled_lines = 0

    @property
    def lease(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.dir / "lease.json").read_text())
        return data

    def write_batch(self, seq: int, lines: list[dict[str, Any]]) -> bool:
        data = json.dumps({"seq": seq, "lines": lines}).encode()
        with self._lock:
            if not self._spool.reserve(len(data)):
                self.unspooled_lines += len(lines)
                return False
            _write_atomic(self.dir / f"batch-{seq:012d}.json", data)
            return True

    def batches(self) -> list[tuple[int, list[dict[str, Any]]]]:
        out = []
        for path in sorted(self.dir.glob("batch-*.json")):
            try:
                doc = json.loads(path.read_bytes())
            except (OSError, ValueError):
                continue  # a torn temp file never has this name; anything else unreadable is skipped
            out.append((int(doc["seq"]), list(doc["lines"])))
        return out

    def ack(self, seq: int) -> None:
        with self._lock:
            for path in self.dir.glob("batch-*.json"):
                if int(path.stem.split("-")[1]) <= seq:
                    size = path.stat().st_size
                    path.unlink(missing_ok=True)
                    self._spool.release(size)

    def write_result(self, result: SpooledResult) -> None:
        doc = {
            "state": result.state,
            "result": result.result.decode(),
            "error": result.error,
            "last_log_seq": result.last_log_seq,
        }
        _write_atomic(self.dir / "result.json", json.dumps(doc).encode())

    def result(self) -> SpooledResult | None:
        path = self.dir / "result.json"
        if not path.exists():
            return None
        doc = json.loads(path.read_text())
        return SpooledResult(doc["state"], doc["result"].encode(), doc["error"], int(doc["last_log_seq"]))

    def journal_append(self, entry: dict[str, Any]) -> None:
        with self._lock, open(self.dir / "journal.jsonl", "a") as f:
            f.write(json.dumps(entry) + "\n")
            f.flush()
            os.fsync(f.fileno())

    def journal(self) -> list[dict[str, Any]]:
        path = self.dir / "journal.jsonl"
        if not path.exists():
            return []
        entries = []
        for line in path.read_text().splitlines():
            try:
                entries.append(json.loads(line))
            except ValueError:
                break  # a torn last line from a crash mid-write
        return entries

    def remove(self) -> None:
        with self._lock:
            size = sum(p.stat().st_size for p in self.dir.glob("batch-*.json"))
            shutil.rmtree(self.dir, ignore_errors=True)
            self._spool.release(size)


class Spool:
    def __init__(self, root: Path, max_bytes: int = 256 * 1024 * 1024) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._used = sum(p.stat().st_size for p in root.glob("*/batch-*.json"))

    @property
    def used_bytes(self) -> int:
        return self._used

    def reserve(self, size: int) -> bool:
        with self._lock:
            if self._used + size > self.max_bytes:
                return False
            self._used += size
            return True

    def release(self, size: int) -> None:
        with self._lock:
            self._used = max(0, self._used - size)

    def open_attempt(self, task_id: str, attempt: int, lease_token: str, meta: dict[str, Any]) -> AttemptSpool:
        directory = self.root / f"{task_id}.{attempt}"
        directory.mkdir(parents=True, exist_ok=True)
        lease = {"task_id": task_id, "attempt": attempt, "lease_token": lease_token, **meta}
        _write_atomic(directory / "lease.json", json.dumps(lease).encode())
        return AttemptSpool(self, directory)

    def pending(self) -> list[AttemptSpool]:
        """Attempts left over from an earlier run of this delegate (or not yet delivered)."""
        out = []
        for directory in sorted(self.root.iterdir()):
            if directory.is_dir() and (directory / "lease.json").exists():
                out.append(AttemptSpool(self, directory))
        return out
