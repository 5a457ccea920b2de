"""A stand-in for an operator's custom artifact script; run as `python custom_script.py MODE [ARG]`.

Modes:
  print FILE     copy FILE to stdout (the test writes the JSON it wants the script to print)
  fail           write two lines to stderr and exit 3
  garbage        print something that is not JSON
  hang FILE      start a child that sleeps, write its pid to FILE, then sleep ourselves: a timeout
                 must kill both (the process group), not just us
  env NAME       print {"versions": [...]} with one version whose name is the value of $NAME
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path


def main(argv: list[str]) -> int:
    mode = argv[1]
    if mode == "print":
        sys.stdout.write(Path(argv[2]).read_text())
        return 0
    if mode == "fail":
        print("listing artifacts...", file=sys.stderr)
        print("error: bucket access denied (token expired)", file=sys.stderr)
        return 3
    if mode == "garbage":
        print("Found 3 artifacts:\n  app-1.zip\n  app-2.zip")
        return 0
    if mode == "hang":
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        Path(argv[2]).write_text(str(child.pid))
        print("waiting for the artifact store...", file=sys.stderr, flush=True)
        time.sleep(60)
        return 0
    if mode == "env":
        value = os.environ.get(argv[2], "<unset>")
        print(json.dumps([{"version": value, "url": "https://example.invalid/x.zip"}]))
        return 0
    print(f"unknown mode {mode}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
