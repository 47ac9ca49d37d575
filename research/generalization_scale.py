"""Does the n-gram generalize better when it fits on more texts? Protocol reports of different
``--max-train``, compared on the folds they share.

Each report comes from ``humanlike generalization --max-train N`` (same seed and test texts: the test
sample of a fold does not depend on N). Only the folds every report has are compared, so a report run
on a few folds (``--only``) compares like with like. The threshold transfer (the 1% threshold chosen on
the other folds' unseen human texts) is recomputed over the shared free-form folds only, from each
report's ``.scores.npz`` (where that file is present).

    python research/generalization_scale.py research/results/generalization-2026-11-30.json \\
        research/results/generalization-30k-2026-11-30.json \\
        research/results/generalization-100k-2026-11-30.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from humanlike.training.evaluation.generalization import threshold_transfer

CANDIDATES = ("ngram-c1", "ngram-c1-distorted-300", "stack-ngram-c1-distorted-300")


def rows_by_fold(report: dict[str, Any], candidate: str) -> dict[str, dict[str, Any]]:
    return {f["fold"]: f for f in report["folds"] if f["candidate"] == candidate and f["auroc"] is not None}


def compare(paths: list[Path]) -> dict[str, Any]:
    reports = [json.loads(p.read_text()) for p in paths]
    free_form = {f["fold"] for f in reports[0]["folds"] if f["data_types"] == ["free_form"]}
    out: dict[str, Any] = {"reports": [str(p) for p in paths], "candidates": {}}
    for candidate in CANDIDATES:
        shared = set.intersection(*(set(rows_by_fold(r, candidate)) for r in reports))
        sources = sorted(f for f in shared if f.startswith("source=") and f in free_form)
        rows = []
        for path, report in zip(paths, reports, strict=True):
            by_fold = rows_by_fold(report, candidate)
            scores = path.with_suffix(".scores.npz")
            transfer: dict[str, float] = {}
            if scores.exists():
                stored = np.load(scores)
                humans = {f"{f}|{candidate}": stored[f"{f}|{candidate}"] for f in sources}
                transfer = threshold_transfer(humans, candidate)
            newest = by_fold.get("newest-generators") if "newest-generators" in shared else None
            rows.append(
                {
                    "max_train": report["max_train"],
                    "n_fit": sorted({by_fold[f]["n_train"] for f in sources}),
                    "mean_auroc": round(float(np.mean([by_fold[f]["auroc"] for f in sources])), 4),
                    "mean_tpr_at_1pct_fpr": round(
                        float(np.mean([by_fold[f]["tpr_at_1pct_fpr"] for f in sources])), 4
                    ),
                    "mean_own_fpr": round(float(np.mean([by_fold[f]["own_fpr"] for f in sources])), 4),
                    "mean_transferred_fpr": round(float(np.mean(list(transfer.values()))), 4)
                    if transfer
                    else None,
                    "max_transferred_fpr": round(max(transfer.values()), 4) if transfer else None,
                    "newest_generators_auroc": round(newest["auroc"], 4) if newest else None,
                    "auroc_by_fold": {f: round(by_fold[f]["auroc"], 4) for f in sources},
                }
            )
        out["candidates"][candidate] = {"free_form_folds": sources, "rows": rows}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("reports", type=Path, nargs="+")
    parser.add_argument("--out", type=Path, help="write the comparison here (JSON)")
    args = parser.parse_args()
    result = compare(args.reports)
    for candidate, c in result["candidates"].items():
        print(f"\n{candidate}: {len(c['free_form_folds'])} shared free-form source folds")
        print("max_train  LOSO AUROC  TPR@1%  own FPR  OOS-thr FPR (mean / max)  newest")
        for r in c["rows"]:
            oos = (
                f"{r['mean_transferred_fpr']:.3f} / {r['max_transferred_fpr']:.3f}"
                if r["mean_transferred_fpr"] is not None
                else "(no scores file)"
            )
            newest = f"{r['newest_generators_auroc']:.3f}" if r["newest_generators_auroc"] else "-"
            print(
                f"{r['max_train']:>9}  {r['mean_auroc']:>10.3f}  {r['mean_tpr_at_1pct_fpr']:>6.3f}  "
                f"{r['mean_own_fpr']:>7.3f}  {oos:>24}  {newest:>6}"
            )
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
