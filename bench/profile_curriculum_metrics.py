"""Where a curriculum's per-text CPU goes besides scoring: the quality metrics and the MinHash keys.

    .venv/bin/python bench/profile_curriculum_metrics.py [--input artifacts/demo-input.jsonl] [--n 600]

Runs :func:`humanlike.curriculum.scoring.text_metrics` (what the curriculum's metrics worker runs for
every text) under cProfile on the first ``--n`` texts of a JSONL file and prints ms per text and the
share of the quality metrics and of the dedup keys.
"""

from __future__ import annotations

import argparse
import cProfile
import itertools
import json
import pstats
import time
from pathlib import Path

from humanlike.curriculum.dedup import Deduplicator
from humanlike.curriculum.scoring import text_metrics


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--input", type=Path, default=Path("artifacts/demo-input.jsonl"))
    parser.add_argument("--n", type=int, default=600)
    args = parser.parse_args()
    with args.input.open(encoding="utf-8") as f:
        texts = [json.loads(line)["text"] for line in itertools.islice(f, args.n)]
    dedup = Deduplicator(mode="near")
    text_metrics(texts[:20], "en", dedup)  # warm the lexicon and the hash functions
    t = time.perf_counter()
    text_metrics(texts, "en", dedup)
    print(f"{1000 * (time.perf_counter() - t) / len(texts):.2f} ms a text (no profiler), {len(texts)} texts")
    profile = cProfile.Profile()
    profile.runcall(text_metrics, texts, "en", dedup)
    stats = pstats.Stats(profile)
    total = sum(v[3] for k, v in stats.stats.items() if k[2] == "text_metrics")  # type: ignore[attr-defined]
    parts = {"quality (text_quality)": "text_quality", "dedup keys (Deduplicator.keys)": "keys"}
    for name, function in parts.items():
        cumulative = sum(v[3] for k, v in stats.stats.items() if k[2] == function)  # type: ignore[attr-defined]
        print(f"{name}: {100 * cumulative / total:.0f}%")


if __name__ == "__main__":
    main()
