"""Raw scoring with one or more ONNX Runtime threads, spinning or not: texts/s and CPU used.

    .venv/bin/python bench/bench_runtime_threads.py [--bundle artifacts/baseline] [--input FILE] [--n 2000]

Why it exists: ``Detector(spin_wait=False)`` is the default because, for the n-gram bundle, the
Python featurizer is the cost and a second graph thread only spins. This shows it on the same texts,
round-robin, best of ``--repeats``: texts/s and process CPU seconds per wall second (1.0 = one core).
Writes ``bench/results/runtime-threads-<date>.json``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import time
from pathlib import Path

from benchlib import command, machine, now, write_result

from humanlike.detector import Detector


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--bundle", type=Path, default=Path("artifacts/baseline"))
    parser.add_argument("--input", type=Path, default=Path("artifacts/demo-input.jsonl"))
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    with args.input.open(encoding="utf-8") as f:
        texts = [json.loads(line)["text"] for line in itertools.islice(f, args.n)]
    settings = {
        "1 thread": (1, False),
        "2 threads, spinning": (2, True),
        "2 threads, not spinning": (2, False),
    }
    detectors = {
        name: Detector(args.bundle, device="cpu", threads=threads, spin_wait=spin)
        for name, (threads, spin) in settings.items()
    }
    for d in detectors.values():
        d.score_texts(texts[:50])
    best: dict[str, tuple[float, float]] = {name: (float("inf"), 0.0) for name in detectors}
    for _ in range(args.repeats):
        for name, d in detectors.items():
            cpu, wall = os.times(), time.perf_counter()
            d.score_texts(texts, batch_size=args.batch_size)
            wall = time.perf_counter() - wall
            after = os.times()
            used = (after.user - cpu.user + after.system - cpu.system) / wall
            if wall < best[name][0]:
                best[name] = (wall, used)
    result = {
        "benchmark": "raw scoring by ONNX Runtime thread setting",
        "date": now(),
        "command": command(),
        "machine": machine(),
        "bundle": str(args.bundle),
        "n_texts": len(texts),
        "settings": {
            name: {"texts_per_s": round(len(texts) / wall, 1), "cpu_per_wall_s": round(used, 2)}
            for name, (wall, used) in best.items()
        },
    }
    write_result(args.out, "runtime-threads", result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
