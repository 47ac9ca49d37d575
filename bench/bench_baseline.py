"""Times the n-gram baseline: training on the corpus, and scoring through the runtime (texts/s).

    .venv/bin/python bench/bench_baseline.py [--corpus PATH] [--sample N] [--n-texts 2000]

Writes bench/results/baseline-<date>.json (machine, command, date, numbers) and prints a Markdown
row for bench/RESULTS.md. Each scoring measurement is the best of --repeats runs on the same texts,
since these machines are noisy.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from benchlib import cpu_model

from humanlike.detector import Detector
from humanlike.detector.ranking import rank_jsonl
from humanlike.detector.runtime import usable_cores
from humanlike.training.config import SplitConfig
from humanlike.training.data.corpus import resolve_corpus_paths
from humanlike.training.data.readers import load_corpus
from humanlike.training.data.splits import make_splits
from humanlike.training.models.ngram import train_ngram_bundle


def best_of(repeats: int, fn: Callable[[], object]) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--corpus", nargs="+")
    parser.add_argument("--sample", type=int, help="train on a sample of about N records")
    parser.add_argument("--n-texts", type=int, default=2000, help="hold-out texts to score")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()

    paths = resolve_corpus_paths(args.corpus)
    work = Path(tempfile.mkdtemp(prefix="humanlike-bench-"))
    t = time.perf_counter()
    manifest = train_ngram_bundle(
        paths, work / "bundle", splits=SplitConfig(sample_size=args.sample), progress=False
    )
    train_s = time.perf_counter() - t

    records, _ = load_corpus(paths)
    s = manifest.split
    holdout = make_splits(records, s.seed, s.holdout_fraction, s.calibration_fraction).holdout
    texts = [records[i].text for i in holdout[: args.n_texts]]
    detector = Detector(work / "bundle", device="cpu")
    scoring = {}
    for batch_size in (1, 16, 64):
        n = len(texts) if batch_size > 1 else min(len(texts), 300)
        seconds = best_of(
            args.repeats, lambda bs=batch_size, n=n: detector.score_texts(texts[:n], batch_size=bs)
        )
        scoring[f"batch_{batch_size}"] = round(n / seconds, 1)

    source = work / "input.jsonl"
    source.write_text("".join(json.dumps({"text": x}) + "\n" for x in texts), encoding="utf-8")
    rank_s = best_of(args.repeats, lambda: rank_jsonl(detector, source, work / "ranked.jsonl"))

    result = {
        "benchmark": "ngram baseline",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "machine": {
            "cpu": cpu_model(),
            "cores": usable_cores(),
            "python": platform.python_version(),
            "provider": detector.info.provider,
            "intra_op_threads": detector.info.intra_op_threads,
        },
        "train": {
            "records": manifest.corpus.n_records,
            "n_train": manifest.split.n_train,
            "seconds_total": round(train_s, 1),
            "stages_s": manifest.training["timings"],
        },
        "score_texts_per_s": scoring,
        "rank_lines_per_s": round(len(texts) / rank_s, 1),
        "n_texts": len(texts),
        "mean_chars": round(float(np.mean([len(x) for x in texts])), 1),
        "holdout_auroc": manifest.metrics["holdout"]["all"]["auroc"],
    }
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out / f"baseline-{result['date'][:10]}.json"
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))
    print(
        f"\n| {result['date'][:10]} | {result['machine']['cpu']} x{result['machine']['cores']} "
        f"| {train_s:.0f} s | {scoring['batch_1']} | {scoring['batch_16']} | {scoring['batch_64']} "
        f"| {result['rank_lines_per_s']} |"
    )
    print(f"written to {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
