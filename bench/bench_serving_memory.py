"""Memory of the server's process tree: the scoring thread against scoring processes.

With ``--scoring-processes N`` (the default for an n-gram bundle on CPU: one per core) each scoring
process loads its own copy of the bundle beside the server's. This starts ``humanlike serve
BUNDLE`` once per backend, measures its process tree idle after a 2-second warm-up, then under
``wrk`` load (concurrency 32, 16 texts a request, the texts of ``bench_serving_wrk.py``), sampling
every 0.5 s the sum of the tree's proportional set sizes (pages the processes share count once) and
each role's share: the server (``command``), the forkserver, the scoring processes (``worker``).

    python bench/bench_serving_memory.py artifacts/baseline [--seconds 20]
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_serving import ServerProcess
from bench_serving_wrk import LUA, run_wrk
from benchlib import TreePssSampler, command, machine, now, tree_pss_kib, write_result

from humanlike.training.data.corpus import read_training_corpus, resolve_corpus_paths

BACKENDS = {"server's thread": ("--scoring-processes", "0"), "scoring processes (default)": ()}


def mib(kib: int) -> float:
    return round(kib / 1024, 1)


def measure(
    bundle: str, flags: tuple[str, ...], script: Path, seconds: int, concurrency: int
) -> dict[str, Any]:
    serve = ServerProcess(bundle, None, *flags)
    try:
        run_wrk(serve.http, script, 2, concurrency)  # every scoring process has loaded and run
        time.sleep(1)
        idle, _, idle_roles = tree_pss_kib(serve.process.pid)
        with TreePssSampler(serve.process.pid) as memory:
            load = run_wrk(serve.http, script, seconds, concurrency)
    finally:
        serve.stop()
    return {
        "idle_tree_pss_mib": mib(idle),
        "idle_pss_mib_by_role": {r: mib(k) for r, k in sorted(idle_roles.items())},
        "loaded_tree_pss_mib": mib(memory.peak),
        "loaded_pss_mib_by_role_at_peak": {r: mib(k) for r, k in sorted(memory.at_peak.items())},
        "largest_process_pss_mib_by_role": {r: mib(k) for r, k in sorted(memory.peak_by_role.items())},
        "texts_per_s": round(load["requests_per_s"] * 16, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("bundle")
    parser.add_argument("--corpus", nargs="+")
    parser.add_argument("--n-texts", type=int, default=2000)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        parser.error("wrk is not installed (apt-get install wrk)")
    records, _, _ = read_training_corpus(resolve_corpus_paths(args.corpus), None, args.n_texts, 1)
    texts = [r.text for r in records if r.text.strip()][: args.n_texts]
    work = Path(tempfile.mkdtemp(prefix="humanlike-bench-memory-"))
    bodies = work / "bodies.jsonl"
    bodies.write_text(
        "".join(json.dumps({"texts": texts[i : i + 16]}) + "\n" for i in range(0, len(texts) - 15, 16))
    )
    script = work / "score.lua"
    script.write_text(LUA % bodies)
    results = {
        name: measure(args.bundle, flags, script, args.seconds, args.concurrency)
        for name, flags in BACKENDS.items()
    }
    for name, r in results.items():
        idle, loaded = r["idle_tree_pss_mib"], r["loaded_tree_pss_mib"]
        print(f"{name}: idle {idle} MiB, under load {loaded} MiB, {r['texts_per_s']} texts/s")
    write_result(
        args.out,
        "serving-memory",
        {
            "benchmark": "server process tree memory (PSS), scoring thread vs scoring processes",
            "date": now(),
            "command": command(),
            "machine": machine(),
            "bundle": args.bundle,
            "load": {
                "tool": "wrk",
                "concurrency": args.concurrency,
                "texts_per_request": 16,
                "seconds": args.seconds,
            },
            "backends": results,
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
