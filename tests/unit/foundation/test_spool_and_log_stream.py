from __future__ import annotations

from pathlib import Path

from delegate.log_stream import LogStream
from delegate.spool import Spool, SpooledResult


def test_batches_survive_a_restart_and_ack_prunes(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    attempt = spool.open_attempt("t1", 1, "lease", {"type": "x"})
    stream = LogStream(attempt, lambda s: s.replace("hunter2", "**********"))
    stream.section("Deploy")
    stream.info("password is hunter2")
    stream.cut()
    stream.info("two\nlines")
    stream.cut()
    attempt.write_result(SpooledResult("SUCCEEDED", b'{"ok": true}', "", stream.last_seq))
    # A new process finds everything on disk.
    again = Spool(tmp_path).pending()
    assert len(again) == 1 and again[0].lease["lease_token"] == "lease"
    batches = again[0].batches()
    assert [seq for seq, _ in batches] == [1, 2]
    assert batches[0][1][0]["text"] == "password is **********" and batches[0][1][0]["section"] == "Deploy"
    assert [ln["text"] for ln in batches[1][1]] == ["two", "lines"]
    assert again[0].result() == SpooledResult("SUCCEEDED", b'{"ok": true}', "", 2)
    assert [e["step"] for e in again[0].journal()] == ["Deploy"]  # the step journal, written on entering it
    stream.ack(1)
    assert [seq for seq, _ in Spool(tmp_path).pending()[0].batches()] == [2]
    again[0].remove()
    assert Spool(tmp_path).pending() == []


def test_full_spool_keeps_lines_in_memory_and_counts_them(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=200)
    attempt = spool.open_attempt("t1", 1, "lease", {})
    stream = LogStream(attempt, lambda s: s)
    for i in range(20):
        stream.info(f"line {i} " + "x" * 40)
        stream.cut()
    assert spool.used_bytes <= 200
    assert attempt.unspooled_lines > 0
    assert [b.seq for b in stream.pending(limit=100)] == list(range(1, 21))  # still sent, best effort


def test_restore_continues_sequence(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    attempt = spool.open_attempt("t1", 2, "lease", {})
    stream = LogStream(attempt, lambda s: s)
    stream.restore([(4, [{"ts": 1, "level": "INFO", "section": "", "text": "old"}])])
    stream.info("new")
    stream.cut()
    assert [b.seq for b in stream.pending()] == [4, 5]


def test_journal_tolerates_torn_last_line(tmp_path: Path) -> None:
    attempt = Spool(tmp_path).open_attempt("t1", 1, "lease", {})
    attempt.journal_append({"step": "publish", "version": "3"})
    with open(attempt.dir / "journal.jsonl", "a") as f:
        f.write('{"step": "ali')
    assert attempt.journal() == [{"step": "publish", "version": "3"}]
