"""Leave-one-generator-out and leave-one-source-out evaluation of the n-gram baseline.

In distribution almost any detector looks near-perfect; what matters is how it does on generators
and sources it never saw. Each fold refits the same model ``humanlike train`` fits, on the corpus
minus the bundle's hold-out minus every group touching the held-out value, and scores the held-out
value's texts against human texts (see :func:`training.splits.leave_one_out`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from tqdm import tqdm

from detector.bundle import Calibration
from training.baseline import NgramBaseline, NgramBaselineConfig
from training.corpus import sample
from training.metrics import binary_metrics
from training.readers import load_corpus
from training.splits import LeaveOutKey, leave_one_out_splits
from training.train import labels_of, make_splits, texts_of


def crossval_report(
    corpus_paths: Sequence[str],
    *,
    keys: Sequence[LeaveOutKey] = ("generator", "source"),
    only: Sequence[str] | None = None,
    seed: int = 0,
    holdout_fraction: float = 0.1,
    calibration_fraction: float = 0.1,
    sample_size: int | None = None,
    config: NgramBaselineConfig | None = None,
    progress: bool = True,
    on_fold: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Refits the baseline once per held-out value and scores the held-out texts.

    ``on_fold`` is called with the report so far after every fold (folds take minutes each on the
    full corpus; the CLI rewrites its JSON report there, so that partial results survive).
    """
    records, _ = load_corpus(corpus_paths)
    if sample_size:
        records = sample(records, sample_size, seed)
    holdout = make_splits(records, seed, holdout_fraction, calibration_fraction).holdout
    config = config or NgramBaselineConfig()
    splits = [
        (key, s)
        for key in keys
        for s in leave_one_out_splits(records, key, holdout)
        if not only or s.name.split("=", 1)[1] in only
    ]
    folds: list[dict[str, Any]] = []
    report: dict[str, Any] = {
        "protocol": "leave-one-out; test = held-out value's texts + their human pairs, "
        "topped up with hold-out texts of the missing class and the same data types",
        "seed": seed,
        "n_records": len(records),
        "config": config.as_dict(),
        "n_folds": len(splits),
        "folds": folds,
    }
    for key, split in tqdm(splits, desc="crossval", unit="fold", disable=not progress):
        started = time.perf_counter()
        model = NgramBaseline(config).fit(texts_of(records, split.train), labels_of(records, split.train))
        logits = model.decision_function(texts_of(records, split.test))
        p = Calibration().apply(logits)  # uncalibrated: AUROC and TPR at FPR do not depend on it
        y = labels_of(records, split.test)
        dtypes = np.array([records[i].data_type for i in split.test])
        folds.append(
            {
                "key": key,
                "held_out": split.name.split("=", 1)[1],
                "n_train": len(split.train),
                "seconds": round(time.perf_counter() - started, 1),
                **binary_metrics(y, p),
                "data_type": {d: binary_metrics(y[dtypes == d], p[dtypes == d]) for d in sorted(set(dtypes))},
            }
        )
        if on_fold:
            on_fold(report)
    return report


def format_crossval(report: dict[str, Any]) -> str:
    header = f"{'held out':<40} {'train':>6} {'human':>6} {'llm':>6} {'AUROC':>7} {'TPR@1%':>7} {'TPR@5%':>7}"
    lines = [header, "-" * len(header)]

    def fmt(x: float | None) -> str:
        return "   -" if x is None else f"{x:.3f}"

    for f in report["folds"]:
        lines.append(
            f"{f['key'] + '=' + f['held_out']:<40} {f['n_train']:>6} {f['n_human']:>6} {f['n_llm']:>6} "
            f"{fmt(f['auroc']):>7} {fmt(f['tpr_at_fpr']['0.01']):>7} {fmt(f['tpr_at_fpr']['0.05']):>7}"
        )
    return "\n".join(lines)
