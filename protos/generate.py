"""Generates the Python gRPC code for ``protos/`` into ``humanlike/v1/`` (``make protos``, ``make setup``).

The generated modules are build output: not committed, never edited by hand. Clients import them as
``from humanlike.v1 import humanlike_pb2, humanlike_pb2_grpc``, named after the proto package.
"""

from __future__ import annotations

import sys
from importlib.resources import files
from pathlib import Path

from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTOS = ROOT / "protos"
OUT = ROOT


def main() -> int:
    sources = sorted(str(p.relative_to(PROTOS)) for p in PROTOS.rglob("*.proto"))
    well_known = str(files("grpc_tools") / "_proto")  # google/protobuf/*.proto
    args = [
        "grpc_tools.protoc",
        f"-I{PROTOS}",
        f"-I{well_known}",
        f"--python_out={OUT}",
        f"--pyi_out={OUT}",
        f"--grpc_python_out={OUT}",
        *sources,
    ]
    if protoc.main(args) != 0:
        print(f"protoc failed on {sources}", file=sys.stderr)
        return 1
    for source in sources:
        package = (OUT / source).parent
        for directory in [package, *package.relative_to(OUT).parents]:
            init = OUT / directory / "__init__.py"
            if directory != Path(".") and not init.exists():
                init.write_text('"""Generated from protos/ by protos/generate.py; do not edit."""\n')
    print(f"generated {', '.join(sources)} into {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
