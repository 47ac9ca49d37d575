"""The four curriculum strategies on the whole shared corpus: one scoring, four orders, four manifests.

    .venv/bin/python research/curriculum_strategies.py --bundle artifacts/baseline

Writes the corpus as JSONL to a temporary directory, runs ``humanlike curriculum`` once per strategy
with ``--keep-work`` (so the corpus is scored once), ``--dedup near``, and copies the four manifests
(statistics only, no corpus text) to research/results/curriculum-<strategy>-<date>.manifest.json. Prints
the per-generator table (human vs each LLM) and the stages of each strategy as Markdown.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from humanlike.curriculum.quality import format_group_table
from humanlike.training.data.corpus import resolve_corpus_paths

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))  # the benchmark's corpus reader
from bench_curriculum import corpus_records

STRATEGIES = ("human-likeness", "quality", "mixed-generators", "combined")


def stage_table(manifest: dict[str, Any]) -> str:
    lines = [
        "| stage | positions | human-likeness range | mean human-likeness | mean quality | mean MTLD "
        "| generators (top 3) |",
        "|---|---|---|---|---|---|---|",
    ]
    for s in manifest["stages"]:
        top = sorted(s["generators"].items(), key=lambda kv: -kv[1])[:3]
        lo, hi = s["human_likeness"]
        lines.append(
            f"| {s['stage']} | {s['positions'][0]}-{s['positions'][1]} | {lo:.3f}-{hi:.3f} "
            f"| {s['mean_human_likeness']:.3f} | {s['mean_quality']:.3f} | {s['mean_mtld']:.1f} "
            f"| {', '.join(f'{g} {n}' for g, n in top)} ({s['n_generators']} in all) |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--bundle", type=Path, default=Path("artifacts/baseline"))
    parser.add_argument("--corpus", nargs="+")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    date = datetime.now(UTC).strftime("%Y-%m-%d")
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus.jsonl"
        with corpus.open("w", encoding="utf-8") as f:
            for record in corpus_records(resolve_corpus_paths(args.corpus)):
                f.write(json.dumps(record, ensure_ascii=False) + "\n")
        for strategy in STRATEGIES:
            out = Path(tmp) / f"{strategy}.jsonl"
            start = time.perf_counter()
            done = subprocess.run(
                [sys.executable, "-m", "humanlike", "curriculum", str(args.bundle), str(corpus),
                 "--out", str(out), "--strategy", strategy, "--dedup", "near", "--keep-work",
                 "--work-dir", str(Path(tmp) / "work"), "--device", "cpu", "--no-progress"],
                capture_output=True, text=True,
            )  # fmt: skip
            if done.returncode != 0:
                print(done.stderr, file=sys.stderr)
                return 1
            manifest = json.loads(Path(f"{out}.manifest.json").read_text())
            manifest["input"]["path"] = "<shared corpus as JSONL>"
            manifest["wall_s"] = round(time.perf_counter() - start, 1)
            target = args.out / f"curriculum-{strategy}-{date}.manifest.json"
            target.write_text(json.dumps(manifest, indent=2) + "\n")
            print(f"## {strategy} ({manifest['wall_s']} s, counts {json.dumps(manifest['counts'])})\n")
            print(stage_table(manifest) + "\n")
        by_generator = manifest["corpus"]["by_generator"]
        order = ["human", *sorted(g for g in by_generator if g != "human")]
        print("## The shared corpus per generator (human first)\n")
        print(format_group_table(by_generator, order) + "\n")
        print(format_group_table(manifest["corpus"]["by_label"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
