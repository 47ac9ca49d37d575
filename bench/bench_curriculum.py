"""Peak memory and throughput of `humanlike curriculum` at corpus scale, beside the raw scoring rate.

    .venv/bin/python bench/bench_curriculum.py --bundle artifacts/baseline --sizes 100000 1000000

For each size N it writes an N-line corpus (the shared corpus in a seeded random order, so that a
size below the corpus's is a uniform sample of it rather than its first files; repeated, every repeat
after the first perturbed, seeded: a dropped word and a few case swaps per text, new ids, so the
copies are near but not exact duplicates), then runs the whole command (`humanlike curriculum ...
--dedup near`) in a child process and records its wall time and peak RSS: of its largest process
(``ru_maxrss`` of a fresh wrapper process per size, so sizes do not share a maximum), and of its
whole process tree (the sum of proportional set sizes over the command, its forkserver and its
scoring workers, sampled every 0.5 s from /proc), with the largest PSS of one process of each role
(the command, the forkserver, a scoring worker). The raw rate is ``Detector.score_texts`` alone on
``--raw-texts`` texts sampled evenly from the same input, in the same run, once before and once
after the command (their mean is the reference), so the ratio compares like with like.

Writes bench/results/curriculum-<tag>-<date>.json (machine, command, date, numbers).
"""

from __future__ import annotations

import argparse
import gzip
import json
import platform
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchlib import TreePssSampler

from humanlike.curriculum.extsort import DEFAULT_RUN_BYTES
from humanlike.detector import Detector
from humanlike.detector.runtime import usable_cores
from humanlike.training.data.corpus import resolve_corpus_paths

RSS_WRAPPER = (
    "import resource, subprocess, sys; rc = subprocess.run(sys.argv[1:]).returncode; "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(rc)"
)


def run_sampling_tree_pss(
    command: list[str], every_s: float = 0.5
) -> tuple[subprocess.CompletedProcess[str], int, dict[str, int], dict[str, int]]:
    """Runs ``command``; returns its result, the peak of its process tree's summed PSS (KiB), the
    peak PSS of one process of each role (KiB), and each role's summed PSS at the tree's peak (KiB):
    what the peak is made of."""
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    with TreePssSampler(proc.pid, every_s) as memory:
        stdout, stderr = proc.communicate()
    done = subprocess.CompletedProcess(command, proc.returncode, stdout, stderr)
    return done, memory.peak, memory.peak_by_role, memory.at_peak


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def corpus_records(paths: list[str]) -> Iterator[dict[str, Any]]:
    files = [f for p in map(Path, paths) for f in (sorted(p.glob("*.jsonl*")) if p.is_dir() else [p])]
    for path in files:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8") as f:
            for line in f:
                obj = json.loads(line)
                yield {k: obj.get(k) for k in ("id", "text", "label", "generator", "data_type", "source")}


def perturb(text: str, rng: random.Random) -> str:
    words = text.split(" ")
    if len(words) > 3:
        del words[rng.randrange(len(words))]
    for _ in range(max(1, len(words) // 50)):
        i = rng.randrange(len(words))
        words[i] = words[i].swapcase()
    return " ".join(words)


def write_corpus(paths: list[str], n: int, out: Path, seed: int = 0) -> None:
    base = list(corpus_records(paths))
    rng = random.Random(seed)
    rng.shuffle(base)  # 100k lines are then a sample of every file, as 1M lines (repeats) are
    with out.open("w", encoding="utf-8") as f:
        for i in range(n):
            record = dict(base[i % len(base)])
            repeat = i // len(base)
            if repeat:
                record["id"] = f"{record['id']}-r{repeat}"
                record["text"] = perturb(record["text"], rng)
            f.write(json.dumps(record, ensure_ascii=False) + "\n")


def raw_rate(bundle: Path, input_path: Path, n_lines: int, n_texts: int, batch_size: int) -> float:
    """Texts/s of ``Detector.score_texts`` alone on every (n_lines // n_texts)-th text of the input: a
    sample spread over the whole file, so its length mix is the command's."""
    step = max(1, n_lines // n_texts)
    texts = []
    with input_path.open(encoding="utf-8") as f:
        for i, line in enumerate(f):
            if i % step == 0:
                texts.append(json.loads(line)["text"])
    detector = Detector(bundle, device="cpu")
    detector.score_texts(texts[:64], batch_size=batch_size)  # warm up
    start = time.perf_counter()
    for i in range(0, len(texts), 10_000):  # the command's chunk size
        detector.score_texts(texts[i : i + 10_000], batch_size=batch_size)
    return len(texts) / (time.perf_counter() - start)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--bundle", type=Path, default=Path("artifacts/baseline"))
    parser.add_argument("--corpus", nargs="+")
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--strategy", default="combined")
    parser.add_argument("--dedup", default="near")
    parser.add_argument("--raw-texts", type=int, default=10_000)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--sort-memory-mb", type=int, help="passed to the command (default: the command's)")
    parser.add_argument("--work", type=Path, help="where the corpora go (default: a temporary directory)")
    parser.add_argument("--tag", help="result file name part (default: the bundle directory's name)")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()

    paths = resolve_corpus_paths(args.corpus)
    runs = []
    with tempfile.TemporaryDirectory(dir=args.work) as tmp:
        for n in args.sizes:
            input_path = Path(tmp) / f"corpus-{n}.jsonl"
            write_corpus(paths, n, input_path)
            raw_before = raw_rate(args.bundle, input_path, n, min(n, args.raw_texts), args.batch_size)
            out = Path(tmp) / f"curriculum-{n}.jsonl"
            command = [
                sys.executable, "-m", "humanlike", "curriculum", str(args.bundle), str(input_path),
                "--out", str(out), "--strategy", args.strategy, "--dedup", args.dedup, "--device", "cpu",
                "--batch-size", str(args.batch_size), "--no-progress",
            ]  # fmt: skip
            if args.sort_memory_mb is not None:
                command += ["--sort-memory-mb", str(args.sort_memory_mb)]
            start = time.perf_counter()
            done, tree_peak_kib, by_role, at_peak = run_sampling_tree_pss(
                [sys.executable, "-c", RSS_WRAPPER, *command]
            )
            wall = time.perf_counter() - start
            if done.returncode != 0:
                print(done.stderr, file=sys.stderr)
                return 1
            # Raw rate again after the command: the machine drifts over minutes, so the ratio uses the
            # mean of a measurement on each side of it.
            raw_after = raw_rate(args.bundle, input_path, n, min(n, args.raw_texts), args.batch_size)
            raw = (raw_before + raw_after) / 2
            peak_kib = int(done.stdout.strip().splitlines()[-1])
            summary = json.loads(done.stderr.strip().splitlines()[-1])
            manifest = json.loads(Path(summary["manifest"]).read_text())
            run = {
                "texts": n,
                "input_mib": round(input_path.stat().st_size / 2**20, 1),
                "wall_s": round(wall, 1),
                "texts_per_s": round(n / wall, 1),
                "raw_score_texts_per_s": round(raw, 1),
                "raw_before_after": [round(raw_before, 1), round(raw_after, 1)],
                "ratio_to_raw": round(n / wall / raw, 3),
                # Where the wall time goes: the command's own phase clocks (its summary line).
                "phases_s": {"score": summary["score_s"], "order": summary["order_s"]},
                "score_phase_ratio_to_raw": round(n / summary["score_s"] / raw, 3),
                "peak_rss_mib": round(peak_kib / 1024, 1),
                "peak_tree_pss_mib": round(tree_peak_kib / 1024, 1),
                "peak_pss_mib_by_process": {
                    role: round(kib / 1024, 1) for role, kib in sorted(by_role.items()) if role != "wrapper"
                },
                "tree_pss_mib_at_peak_by_role": {
                    role: round(kib / 1024, 1) for role, kib in sorted(at_peak.items()) if role != "wrapper"
                },
                "counts": manifest["counts"],
            }
            print(json.dumps(run), flush=True)
            runs.append(run)
            for p in (input_path, out, Path(summary["errors"]), Path(summary["manifest"])):
                p.unlink(missing_ok=True)

    date = datetime.now(UTC).strftime("%Y-%m-%d")
    result = {
        "benchmark": "curriculum",
        "date": date,
        "command": " ".join(["python", *sys.argv]),
        "machine": {
            "cpu": cpu_model(),
            "usable_cores": usable_cores(),
            "python": platform.python_version(),
        },
        "bundle": str(args.bundle),
        "strategy": args.strategy,
        "sort_memory_mb": args.sort_memory_mb or DEFAULT_RUN_BYTES >> 20,
        "dedup": args.dedup,
        "runs": runs,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"curriculum-{args.tag or args.bundle.name}-{date}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
