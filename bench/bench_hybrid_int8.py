"""The hybrid's graph in fp32 and in int8, one fit, same texts, one run: texts/s and AUROC.

    .venv/bin/python bench/bench_hybrid_int8.py [--sample 1200] [--repeats 1]

Reads a grouped sample of the corpus and splits it (about half to fit, 45% to score). Smooths the
packaged LM for int8 (:func:`humanlike.training.models.lm.smooth_for_int8` on the first 64 training
texts, as ``humanlike train --model hybrid`` does; a rescaling that changes no fp32 feature), fits the
hybrid once with :class:`humanlike.training.models.hybrid.HybridDetector` in fp32, and quantizes that graph
as the int8 build does (the LM's weight MatMuls, its head's too; encoder and linear model fp32). Both
graphs are written as uncalibrated bundles and score the same held-out texts through the runtime
(round-robin, best of ``--repeats``): texts/s, AUROC of the raw logit, and the paired-bootstrap 95%
interval of the AUROC difference. Writes ``bench/results/hybrid-int8-<date>.json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from bench_lm_int8 import paired_auroc_delta_ci
from benchlib import command, logits_round_robin, machine, now, write_result
from sklearn.metrics import roc_auc_score

from humanlike.detector import Detector
from humanlike.detector.bundle import MODEL_FILE
from humanlike.training.build import BuildData, write_uncalibrated
from humanlike.training.config import HybridConfig, SplitConfig
from humanlike.training.data.corpus import resolve_corpus_paths
from humanlike.training.models.hybrid import LM_SCOPE, HybridDetector, WindowFeaturizer
from humanlike.training.models.lm import quantize_lm, smooth_for_int8


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--corpus", nargs="+")
    parser.add_argument("--sample", type=int, default=1200)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()

    split = SplitConfig(sample_size=args.sample, holdout_fraction=0.45, calibration_fraction=0.05)
    data = BuildData.from_corpus(resolve_corpus_paths(args.corpus), split)
    config = HybridConfig()
    featurizer = WindowFeaturizer()
    train_texts = data.texts("train")
    t = time.perf_counter()
    smoothing = train_texts[: config.smoothing_texts]
    max_tokens = featurizer.windows.max_tokens
    smooth_for_int8(
        featurizer.module.lm,
        [featurizer.lm_tokenizer.encode(x).ids[:max_tokens] for x in smoothing],
        config.smoothing_alpha,
    )
    smooth_s = time.perf_counter() - t
    t = time.perf_counter()
    fp32 = (
        HybridDetector(HybridConfig(precision="fp32"), featurizer, progress=False)
        .fit(data.records_at(data.splits.train))
        .draft_bundle()
    )
    fit_s = time.perf_counter() - t
    t = time.perf_counter()
    int8_graph = quantize_lm(fp32.files[MODEL_FILE], "int8", scope=LM_SCOPE, keep_fp32=())
    quantize_s = time.perf_counter() - t

    work = Path(tempfile.mkdtemp(prefix="humanlike-bench-hybrid-int8-"))
    detectors = {}
    int8 = dataclasses.replace(fp32, files={**fp32.files, MODEL_FILE: int8_graph}, precision="int8")
    for name, draft in (("fp32", fp32), ("int8", int8)):
        write_uncalibrated(draft, work / name, "bench: uncalibrated")
        detectors[name] = Detector(work / name, device="cpu", threads=args.threads)
    shutil.rmtree(work)

    texts, labels = data.texts("holdout"), data.labels("holdout")
    logits, best = logits_round_robin(detectors, texts, args.repeats)
    auroc = {name: round(float(roc_auc_score(labels, v)), 4) for name, v in logits.items()}
    texts_per_s = {name: round(len(texts) / s, 2) for name, s in best.items()}
    result = {
        "benchmark": "hybrid graph, fp32 vs int8 (one fit)",
        "date": now(),
        "command": command(),
        "machine": machine(intra_op_threads=detectors["fp32"].info.intra_op_threads),
        "n_fit": len(train_texts),
        "n_texts": len(texts),
        "n_windows": len(detectors["fp32"].windows(texts)),
        "smoothing_texts": len(smoothing),
        "smooth_s": round(smooth_s, 1),
        "fit_s": round(fit_s, 1),
        "quantize_s": round(quantize_s, 1),
        "texts_per_s": texts_per_s,
        "auroc_raw_logit": auroc,
        "int8_vs_fp32": {
            "speedup": round(texts_per_s["int8"] / texts_per_s["fp32"], 2),
            "auroc_delta": round(auroc["int8"] - auroc["fp32"], 4),
            "auroc_delta_95ci": paired_auroc_delta_ci(labels, logits["fp32"], logits["int8"]),
            "logit_correlation": round(float(np.corrcoef(logits["fp32"], logits["int8"])[0, 1]), 5),
        },
    }
    write_result(args.out, "hybrid-int8", result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
