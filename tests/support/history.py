"""The history checker of the fault suite, reading the control plane's store and AWS state.

(a) every task ended exactly once: terminal, and at most one attempt reached a terminal report;
(b) every log line a task produced is stored exactly once and in order (for tasks whose lines are
    numbered, like diagnostic.sleep: "line i of n");
(c) no function has two versions published for one execution;
(d) the final Lambda state equals the expected one (alias -> code, configuration, tags).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from control_plane.store import Store

LINE = re.compile(r"^line (\d+) of (\d+)$")
MARK = re.compile(r"outrider execution (\S+)")


def record(line: str) -> None:
    """Print a scenario's counts and append them to .bench/fault-summary.txt (xdist hides stdout)."""
    print(line)
    out = Path(__file__).resolve().parents[2] / ".bench" / "fault-summary.txt"
    out.parent.mkdir(exist_ok=True)
    with open(out, "a") as f:
        f.write(line + "\n")


@dataclass
class History:
    tasks: int = 0
    log_lines: int = 0
    lost: int = 0
    duplicated: int = 0
    problems: list[str] = field(default_factory=list)

    def check(self) -> None:
        assert not self.problems, "history check failed:\n" + "\n".join(self.problems)

    def summary(self) -> str:
        return f"tasks={self.tasks} log_lines={self.log_lines} lost={self.lost} duplicated={self.duplicated}"


def check_tasks(store: Store, history: History | None = None) -> History:
    history = history or History()
    for task in store.list_tasks(limit=100_000):
        history.tasks += 1
        if not task.terminal:
            history.problems.append(f"task {task.id} did not end: {task.state}")
        reported = [a for a in store.list_attempts(task.id) if a.state in ("SUCCEEDED", "FAILED", "CANCELLED")]
        if len(reported) > 1:
            history.problems.append(f"task {task.id} ended {len(reported)} times: {[a.attempt for a in reported]}")
        batches = store.read_logs(task.id, (0, 0), 100_000)
        per_attempt: dict[int, list[str]] = {}
        for b in batches:
            per_attempt.setdefault(b.attempt, []).extend(line["text"] for line in json.loads(b.lines))
        seqs = Counter((b.attempt, b.seq) for b in batches)
        dup = [k for k, n in seqs.items() if n > 1]
        if dup:
            history.duplicated += len(dup)
            history.problems.append(f"task {task.id}: log batches stored twice: {dup}")
        for attempt, texts in per_attempt.items():
            history.log_lines += len(texts)
            numbered = [LINE.match(t) for t in texts]
            numbers = [int(m.group(1)) for m in numbered if m]
            if not numbers:
                continue
            expected_total = int(next(m for m in numbered if m).group(2))  # type: ignore[union-attr]
            if numbers != sorted(numbers) or len(numbers) != len(set(numbers)):
                history.duplicated += len(numbers) - len(set(numbers))
                history.problems.append(f"task {task.id} attempt {attempt}: lines out of order or repeated")
            if task.state == "SUCCEEDED" and attempt == task.attempt and numbers != list(range(1, expected_total + 1)):
                missing = sorted(set(range(1, expected_total + 1)) - set(numbers))
                history.lost += len(missing)
                history.problems.append(f"task {task.id}: lines missing from the final attempt: {missing[:10]}")
    return history


def check_versions(lambda_client: Any, functions: list[str], history: History | None = None) -> History:
    history = history or History()
    for fn in functions:
        versions = lambda_client.list_versions_by_function(FunctionName=fn)["Versions"]
        per_execution = Counter(
            m.group(1) for v in versions if v["Version"] != "$LATEST" and (m := MARK.search(v.get("Description", "")))
        )
        for execution, n in per_execution.items():
            if n > 1:
                history.duplicated += n - 1
                history.problems.append(f"function {fn}: {n} versions published by execution {execution}")
    return history


def lambda_state(lambda_client: Any, fn: str) -> dict[str, Any]:
    """What an operator cares about, without ids and timestamps: what each alias serves, config, tags."""
    latest = lambda_client.get_function_configuration(FunctionName=fn)
    aliases = {}
    for alias in lambda_client.list_aliases(FunctionName=fn)["Aliases"]:
        cfg = lambda_client.get_function_configuration(FunctionName=fn, Qualifier=alias["FunctionVersion"])
        aliases[alias["Name"]] = {
            "codeSha256": cfg["CodeSha256"],
            "memory": cfg["MemorySize"],
            "env": cfg.get("Environment", {}).get("Variables", {}),
        }
    return {
        "codeSha256": latest["CodeSha256"],
        "memory": latest["MemorySize"],
        "timeout": latest["Timeout"],
        "handler": latest["Handler"],
        "env": latest.get("Environment", {}).get("Variables", {}),
        "aliases": aliases,
        "tags": lambda_client.list_tags(Resource=latest["FunctionArn"])["Tags"],
    }
