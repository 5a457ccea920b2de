"""Generate the Python code for proto/outrider/v1 into shared/pb (or a given directory).

protoc writes imports as `from outrider.v1 import x_pb2`; the generated modules live in the
`shared.pb` package, so those imports are rewritten to absolute `shared.pb.outrider.v1` imports.
The staleness test runs this into a temporary directory and compares byte for byte.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from grpc_tools import protoc  # type: ignore[import-untyped]

ROOT = Path(__file__).resolve().parent.parent
PROTO_ROOT = ROOT / "proto"


def generate(out_root: Path) -> list[Path]:
    target = out_root / "outrider" / "v1"
    target.mkdir(parents=True, exist_ok=True)
    protos = sorted(str(p.relative_to(PROTO_ROOT)) for p in (PROTO_ROOT / "outrider" / "v1").glob("*.proto"))
    include = str(Path(protoc.__file__).parent / "_proto")
    code = protoc.main(
        [
            "protoc",
            f"-I{PROTO_ROOT}",
            f"-I{include}",
            f"--python_out={out_root}",
            f"--pyi_out={out_root}",
            f"--grpc_python_out={out_root}",
            *protos,
        ]
    )
    if code != 0:
        raise SystemExit(f"protoc failed with exit code {code}")
    written = []
    for path in sorted(target.iterdir()):
        if path.suffix not in {".py", ".pyi"}:
            continue
        text = path.read_text()
        text = re.sub(r"^from outrider\.v1 import", "from shared.pb.outrider.v1 import", text, flags=re.M)
        path.write_text(text)
        written.append(path)
    for pkg in (out_root, out_root / "outrider", target):
        (pkg / "__init__.py").touch()
    return written


if __name__ == "__main__":
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "shared" / "pb"
    for p in generate(out):
        print(p.relative_to(out.parent) if out.parent in p.parents else p)
