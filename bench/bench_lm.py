"""Scoring speed of the LM-based bundles beside the others, and where their time goes.

    .venv/bin/python bench/bench_lm.py --bundles artifacts/zero-shot artifacts/hybrid \\
        artifacts/baseline artifacts/transformer/int8 [--threads 2] [--n-texts 200]

Same texts for every bundle (a fixed grouped sample of the corpus, ``--seed 1``), same thread count,
round-robin over the bundles, best of ``--repeats``. Reported per bundle:

- texts/s of ``Detector.score_texts`` on the whole texts (every window), and windows/s;
- for each LM bundle, one more pass with ONNX Runtime's profiler on (a separate session, same
  options): the share of the wall time spent in the LM's forward pass (graph nodes under ``/lm/``,
  the LM head included), in the encoder (hybrid), in the zero-shot statistics over the logits (the
  rest of the graph), and outside the graph (tokenizing, padding, Python). Nodes that ONNX Runtime
  fused across module boundaries are counted where their name points, or under "graph, unattributed".

Writes bench/results/lm-<date>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from humanlike.detector import Detector

THREADS_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--bundles", type=Path, nargs="+", required=True)
    parser.add_argument("--corpus", nargs="+")
    parser.add_argument("--n-texts", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    for name in THREADS_ENV:
        os.environ[name] = str(args.threads)

    import numpy as np
    import onnxruntime as ort
    from bench_baseline import cpu_model

    from humanlike.detector import Detector
    from humanlike.training.data.corpus import resolve_corpus_paths, sample
    from humanlike.training.data.readers import load_corpus

    records, _ = load_corpus(resolve_corpus_paths(args.corpus))
    texts = [r.text for r in sample(records, args.n_texts, args.seed)]
    detectors = {str(b): Detector(b, device="cpu", threads=args.threads) for b in args.bundles}
    for d in detectors.values():
        d.score_texts(texts[:4])  # warm-up

    best: dict[str, float] = {}
    for _ in range(args.repeats):
        for name, d in detectors.items():
            t = time.perf_counter()
            d.score_texts(texts)
            elapsed = time.perf_counter() - t
            best[name] = min(best.get(name, elapsed), elapsed)
            print(f"{name}: {len(texts) / elapsed:.2f} texts/s", file=sys.stderr)

    results: dict[str, dict[str, object]] = {}
    for name, d in detectors.items():
        n_windows = len(d.windows(texts))
        entry: dict[str, object] = {
            "kind": d.manifest.kind,
            "precision": d.manifest.precision,
            "seconds": round(best[name], 2),
            "texts_per_s": round(len(texts) / best[name], 2),
            "windows": n_windows,
            "windows_per_s": round(n_windows / best[name], 2),
        }
        if d.manifest.kind in ("zero-shot", "hybrid"):
            entry["time_shares"] = _profile(d, texts, args.threads)
        results[name] = entry

    report = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "machine": {"cpu": cpu_model(), "cores": os.cpu_count(), "platform": platform.platform()},
        "onnxruntime": ort.__version__,
        "threads": args.threads,
        "n_texts": len(texts),
        "mean_chars": round(float(np.mean([len(t) for t in texts])), 1),
        "bundles": results,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"lm-{report['date']}.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    print(f"wrote {path}", file=sys.stderr)
    return 0


def _profile(detector: Detector, texts: list[str], threads: int) -> dict[str, object]:
    """One profiled pass: shares of wall time by part of the graph, and outside it."""
    from benchlib import profile_kernels

    profile = profile_kernels(detector, texts, threads)
    by_part: dict[str, float] = defaultdict(float)
    for node, _, seconds in profile.nodes:
        if "/lm/" in node or node.startswith("lm/"):
            part = "lm_forward"
        elif "/encoder/" in node:
            part = "encoder"
        elif node.startswith("/") and node.count("/") <= 2:
            part = "zero_shot_statistics_and_head"
        else:
            part = "graph_unattributed"
        by_part[part] += seconds
    node_total = sum(by_part.values())
    wall, graph_s = profile.wall_s, profile.graph_s
    shares = {part: round(s / node_total * graph_s / wall, 3) for part, s in sorted(by_part.items())}
    shares["outside_graph"] = round(max(0.0, 1 - graph_s / wall), 3)
    return {"profiled_wall_s": round(wall, 2), "graph_s": round(graph_s, 2), "share_of_wall": shares}


if __name__ == "__main__":
    sys.exit(main())
