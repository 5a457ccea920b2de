"""`python -m bench` (`make bench`): run every benchmark once, print one table, write .bench/results.json.

bench/runner.py says what runs in which order; bench/report.py turns the results into the table.
Working files (databases, process logs, delegate spools) go to .bench/work, replaced on each run.
Exit status: 0 when every benchmark produced a result (met targets or not), 1 when one failed.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime
import json
import os
import platform
import resource
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import grpc

from bench import report
from bench.runner import STORES, Plan, Results, run, say
from tests import pg

OUT_DIR = Path(__file__).resolve().parent.parent / ".bench"


def _raise_fd_limit() -> None:
    """Thousands of sessions share few sockets, but child processes inherit the limit too."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def _as_json(value: Any) -> Any:
    """Dataclasses to dicts, with their derived figures (properties) included."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out = {f.name: _as_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
        for name, attr in vars(type(value)).items():
            if isinstance(attr, property):
                out[name] = getattr(value, name)
        return out
    if isinstance(value, dict):
        return {k: _as_json(v) for k, v in value.items()}
    return value


def _write_json(
    path: Path, plan: Plan, results: Results, rows: list[report.Row], notes: list[str], **extra: Any
) -> None:
    document = {
        "when": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "grpcio": grpc.__version__},
        "plan": dataclasses.asdict(plan),
        **extra,
        "table": [dataclasses.asdict(r) for r in rows],
        "notes": notes,
        "results": _as_json(results),
    }
    path.write_text(json.dumps(document, indent=2) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--tasks", type=int, default=Plan.tasks, help="no-op tasks per throughput run")
    parser.add_argument("--dispatch-samples", type=int, default=Plan.dispatch_samples)
    parser.add_argument("--sessions", type=int, default=Plan.sessions, help="idle long-polling sessions")
    parser.add_argument("--no-postgres", action="store_true", help="skip the PostgreSQL runs")
    args = parser.parse_args(argv)
    postgres = not args.no_postgres and pg.available()
    if not args.no_postgres and not postgres:
        say(f"PostgreSQL does not answer at {pg.base_dsn()}: its rows are skipped")
    plan = Plan(tasks=args.tasks, dispatch_samples=args.dispatch_samples, sessions=args.sessions, postgres=postgres)

    _raise_fd_limit()
    work = OUT_DIR / "work"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    load_start = os.getloadavg()[0]
    started = time.monotonic()
    results = asyncio.run(run(plan, work))
    elapsed = time.monotonic() - started

    stores = [store for kind, store in STORES if kind != "postgres" or plan.postgres]
    rows = report.table(results, stores)
    notes = report.notes(results, (load_start, os.getloadavg()[0]), os.cpu_count() or 0)
    print(report.render(rows))
    print()
    for line in [*notes, f"whole run: {elapsed:.0f} s"]:
        print(f"- {line}")
    out = OUT_DIR / "results.json"
    _write_json(out, plan, results, rows, notes, seconds=round(elapsed, 1))
    met = sum(r.result == report.PASS for r in rows)
    judged = sum(r.result in report.JUDGED for r in rows)
    say(f"{met} of {judged} targets met; results in {out}")
    return 1 if results.errors else 0


if __name__ == "__main__":
    sys.exit(main())
