"""How long the default bundle's out-of-source refits take one after another and side by side.

The shipped n-gram bundle chooses its thresholds on human texts scored by four refits, each fitted
without a group of sources (:func:`humanlike.training.build.out_of_source_scores`). This times them
with ``processes=1`` and with one process per core, in the same run, on the data and configuration
``humanlike train`` uses (the whole corpus directory, at most ``--max-fit-texts`` texts a fit), and
checks that both give the same logits. Peak memory is each run's largest process (``ru_maxrss``).

    python bench/bench_refits.py [--corpus ../shared/corpus] [--out bench/results]
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

import numpy as np
from benchlib import command, machine, now, write_result

from humanlike.training.build import BuildData, balanced_train, out_of_source_scores
from humanlike.training.config import NgramBaselineConfig, SamplingConfig, SplitConfig
from humanlike.training.models.ngram import NgramDetector, default_refit_processes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", default="../shared/corpus")
    parser.add_argument("--max-fit-texts", type=int, default=SamplingConfig().max_fit_texts)
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    args = parser.parse_args()
    splits, sampling = SplitConfig(), SamplingConfig(max_fit_texts=args.max_fit_texts)
    data = BuildData.from_corpus([args.corpus], splits)
    full_train = data.splits.train
    data = data.with_train(balanced_train(data.records, full_train, sampling, splits.seed))
    kind = NgramDetector(NgramBaselineConfig(), splits.seed)
    runs, logits = {}, {}
    for processes in (1, default_refit_processes()):
        started = time.perf_counter()
        oos = out_of_source_scores(kind, data, full_train, sampling, splits.seed, processes=processes)
        seconds = time.perf_counter() - started
        logits[processes] = oos.logits
        runs[f"processes={processes}"] = {
            "seconds": round(seconds, 1),
            "texts_scored": len(oos.logits),
            "peak_rss_mib_self": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            "peak_rss_mib_children": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024),
        }
        print(processes, runs[f"processes={processes}"], flush=True)
    one, many = (runs[f"processes={p}"]["seconds"] for p in logits)
    write_result(
        args.out,
        "refits",
        {
            "benchmark": "out-of-source refits of the default n-gram bundle: one after another, side by side",
            "date": now(),
            "command": command(),
            "machine": machine(),
            "max_fit_texts": args.max_fit_texts,
            "refits": sampling.threshold_source_folds,
            "runs": runs,
            "speedup": round(one / many, 2),
            "max_abs_logit_difference": float(np.max(np.abs(logits[1] - logits[max(logits)]))),
        },
    )


if __name__ == "__main__":
    main()
