"""``humanlike estimate`` on a corpus far larger than its bundle's reference: time, peak memory, lines.

    .venv/bin/python bench/bench_estimate_scale.py BUNDLE [--corpus PATH] [--lines 1000000]

Writes a JSONL file of ``--lines`` lines in a temporary directory (deleted afterwards): free-form texts
of the corpus drawn with replacement (seed 0), cut to 400 characters, with their source and label, and
one malformed line in every 100,000. Runs ``humanlike estimate BUNDLE FILE --by source --json ...
--errors ...`` as a subprocess and records its wall time, its peak resident memory (``getrusage`` of
the child), and whether every line is accounted for (estimated or in the errors file). The true LLM
share of the file is recorded beside the estimate.

Writes bench/results/estimate-scale-<date>.json with the machine, the command and the date.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchlib import command, machine, now, write_result

MALFORMED_EVERY = 100_000


def write_input(corpus: Path, path: Path, lines: int, seed: int) -> dict[str, int]:
    rng = random.Random(seed)
    records = []
    for name in sorted(corpus.glob("*.jsonl.gz")):
        with gzip.open(name, "rt", encoding="utf-8") as f:
            for line in f:
                r = json.loads(line)
                if r["data_type"] == "free_form":
                    records.append((r["text"][:400], r["source"], r["label"]))
    counts = {"lines": 0, "malformed": 0, "llm": 0}
    with path.open("w", encoding="utf-8") as out:
        for i in range(lines):
            counts["lines"] += 1
            if i % MALFORMED_EVERY == 7:
                out.write('{"text": "broken\n')
                counts["malformed"] += 1
                continue
            text, source, label = records[rng.randrange(len(records))]
            counts["llm"] += label == "llm"
            out.write(json.dumps({"text": text, "source": source, "label": label}) + "\n")
    return counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("bundle")
    parser.add_argument("--corpus", type=Path, default=Path("../shared/corpus"))
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out-dir", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        data, report, errors = (
            Path(tmp) / "corpus.jsonl",
            Path(tmp) / "estimate.json",
            Path(tmp) / "errors.jsonl",
        )
        counts = write_input(args.corpus, data, args.lines, args.seed)
        cmd = [sys.executable, "-m", "humanlike", "estimate", args.bundle, str(data), "--by", "source"]
        cmd += ["--json", str(report), "--errors", str(errors)]
        started = time.perf_counter()
        run = subprocess.run(cmd, capture_output=True, text=True)
        wall = time.perf_counter() - started
        peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        # exit 1 says some lines could not be scored (the malformed ones); anything else is a failure
        if run.returncode not in (0, 1) or not report.exists():
            print(run.stderr, file=sys.stderr)
            return 1
        estimate = json.loads(report.read_text())
        n_errors = sum(1 for _ in errors.open(encoding="utf-8"))
        input_mib = data.stat().st_size / 2**20
    estimated = estimate["n"]
    result = {
        "date": now(),
        "command": command(),
        "machine": machine(),
        "bundle": args.bundle,
        "lines": counts["lines"],
        "input_mib": round(input_mib, 1),
        "malformed_lines": counts["malformed"],
        "lines_estimated": estimated,
        "lines_in_errors_file": n_errors,
        "every_line_accounted_for": estimated + n_errors == counts["lines"],
        "exit_code": run.returncode,
        "wall_s": round(wall, 1),
        "lines_per_s": round(counts["lines"] / wall, 1),
        "peak_rss_mib": round(peak_kib / 1024, 1),
        "true_share": round(counts["llm"] / max(1, counts["lines"] - counts["malformed"]), 4),
        "estimate": {k: estimate[k] for k in ("share", "ci", "n", "method")},
    }
    write_result(args.out_dir, "estimate-scale", result)
    return 0 if result["every_line_accounted_for"] else 1


if __name__ == "__main__":
    sys.exit(main())
