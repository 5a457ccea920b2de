"""Task log lines: masked, sectioned, cut into sequenced batches, spooled, shipped, acknowledged.

`LogStream` is the TaskLog handed to task code; it is thread-safe because the Lambda engine logs
from a worker thread. Lines are masked before they are buffered, so no unmasked secret is ever
spooled or sent. Batches are cut at most every `interval` or when `max_lines`/`max_bytes` fill
(Harness ships about 1 s / 10 KB; we do the same). Sequence numbers start at 1 per attempt and
survive a delegate restart through the spool.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from delegate.spool import AttemptSpool
from shared.pb.outrider.v1 import common_pb2

Line = dict[str, Any]
MAX_LINE_CHARS = 16_000


def to_batch(seq: int, lines: list[Line]) -> common_pb2.LogBatch:
    return common_pb2.LogBatch(
        seq=seq,
        lines=[
            common_pb2.LogLine(ts_ms=ln["ts"], level=ln["level"], section=ln["section"], text=ln["text"])
            for ln in lines
        ],
    )


class LogStream:
    def __init__(
        self,
        spool: AttemptSpool,
        mask: Callable[[str], str],
        *,
        first_seq: int = 1,
        max_lines: int = 200,
        max_bytes: int = 10_000,
        on_full: Callable[[], None] | None = None,
    ) -> None:
        self._spool = spool
        self._mask = mask
        self._lock = threading.Lock()
        self._buffer: list[Line] = []
        self._buffer_bytes = 0
        self._section = ""
        self._next_seq = first_seq
        self._pending: dict[int, list[Line]] = {}
        self._max_lines = max_lines
        self._max_bytes = max_bytes
        self._on_full = on_full
        self.acked = first_seq - 1

    # --- TaskLog -----------------------------------------------------------------------------
    def section(self, name: str) -> None:
        with self._lock:
            self._section = self._mask(name)[:128]
        # The step journal: which step the attempt entered, on disk before anything of it is sent, so a
        # restarted delegate can say where an interrupted attempt stopped.
        self._spool.journal_append({"step": self._section, "ts": int(time.time() * 1000)})

    def info(self, text: str) -> None:
        self._add("INFO", text)

    def warn(self, text: str) -> None:
        self._add("WARN", text)

    def error(self, text: str) -> None:
        self._add("ERROR", text)

    def _add(self, level: str, text: str) -> None:
        masked = self._mask(text)
        # Multi-line messages become several lines, so each is readable (and each was masked whole above).
        parts = masked.splitlines() or [""]
        full = False
        with self._lock:
            for part in parts:
                line = {
                    "ts": int(time.time() * 1000),
                    "level": level,
                    "section": self._section,
                    "text": part[:MAX_LINE_CHARS],
                }
                self._buffer.append(line)
                self._buffer_bytes += len(part) + 32
            full = len(self._buffer) >= self._max_lines or self._buffer_bytes >= self._max_bytes
        if full and self._on_full:
            self._on_full()

    # --- batching ----------------------------------------------------------------------------
    def cut(self) -> None:
        """Turn buffered lines into the next batch, written to the spool before it is sent."""
        with self._lock:
            if not self._buffer:
                return
            lines, self._buffer, self._buffer_bytes = self._buffer, [], 0
            seq = self._next_seq
            self._next_seq += 1
            self._pending[seq] = lines
        self._spool.write_batch(seq, lines)

    def restore(self, batches: list[tuple[int, list[Line]]]) -> None:
        """Adopt batches found in the spool (after a restart) so they are sent again."""
        with self._lock:
            for seq, lines in batches:
                self._pending[seq] = lines
                self._next_seq = max(self._next_seq, seq + 1)

    def pending(self, limit: int = 50) -> list[common_pb2.LogBatch]:
        with self._lock:
            return [to_batch(seq, self._pending[seq]) for seq in sorted(self._pending)[:limit]]

    def ack(self, acked_seq: int) -> None:
        with self._lock:
            for seq in [s for s in self._pending if s <= acked_seq]:
                del self._pending[seq]
            self.acked = max(self.acked, acked_seq)
        self._spool.ack(acked_seq)

    def drop_pending(self) -> None:
        with self._lock:
            self._pending.clear()

    @property
    def last_seq(self) -> int:
        with self._lock:
            return self._next_seq - 1
