"""Does a text's word-surprisal profile read unseen sources? A probe on the recorded logits.

The profile is :func:`humanlike.detector.surprisal.surprisal_profiles` (31 numbers a text that never
name a word) under the table the ``surprisal`` candidate uses. Unlike that candidate, which fits its
trees on each fold's training side, this probe asks what trees fitted on *out-of-source* texts make of
the profile and the n-gram logits together.

For each free-form source fold, gradient-boosted trees are fitted on the test texts of the *other*
free-form folds (each fold weighted equally) and applied to this fold, with:

- the surprisal profile alone;
- the default's two n-gram logits (standardised as the protocol's stack does) alone, and their mean
  (the shipped stack);
- the logits and the profile together.

Nothing is refitted but the trees: it reads the report's ``.scores.npz`` and rebuilds the folds' texts
from the corpus. Writes a JSON beside the other results with ``--out``.

    python research/probe_surprisal_stack.py [--report research/results/generalization-2026-11-30.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
from protocol_run import ProtocolRun
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score

from humanlike.detector.surprisal import surprisal_profiles
from humanlike.training.config import SurprisalConfig
from humanlike.training.models.surprisal import english_table

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))  # benchlib: how a result is recorded
from benchlib import command, machine, now

MEMBERS = ("ngram-c1", "ngram-c1-distorted-300")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--report", type=Path, default=Path(__file__).parent / "results" / "generalization-2026-11-30.json"
    )
    parser.add_argument("--corpus", default="../shared/corpus")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    run = ProtocolRun(args.report, args.corpus)
    free = run.free
    table = english_table(SurprisalConfig().table_words)
    labels = {f: run.labels(f) for f in free}
    profile = {f: surprisal_profiles(run.texts(f), table) for f in free}

    def standardised(fold: str) -> np.ndarray:
        return np.asarray(run.standardised(fold, MEMBERS))

    inputs = {
        "surprisal profile (trees)": profile,
        "two n-gram logits (trees)": {f: standardised(f) for f in free},
        "two n-gram logits + surprisal profile (trees)": {
            f: np.hstack([standardised(f), profile[f]]) for f in free
        },
    }
    rows: dict[str, dict[str, float]] = {"two n-gram logits, mean (the default)": {}}
    for fold in free:
        rows["two n-gram logits, mean (the default)"][fold] = roc_auc_score(
            labels[fold], standardised(fold).mean(axis=1)
        )
    for name, x in inputs.items():
        rows[name] = {}
        for fold in free:
            others = [g for g in free if g != fold]
            weight = np.concatenate([np.full(len(labels[g]), 1.0 / len(labels[g])) for g in others])
            trees = HistGradientBoostingClassifier(
                max_iter=200, learning_rate=0.05, max_leaf_nodes=15, random_state=0
            )
            trees.fit(
                np.vstack([x[g] for g in others]),
                np.concatenate([labels[g] for g in others]),
                sample_weight=weight,
            )
            rows[name][fold] = roc_auc_score(labels[fold], trees.predict_proba(x[fold])[:, 1])
    print(f"{'':48s}" + " ".join(f"{f.removeprefix('source=')[:9]:>9s}" for f in free) + "      mean")
    for name, by_fold in rows.items():
        values = [by_fold[f] for f in free]
        print(f"{name:48s}" + " ".join(f"{v:9.3f}" for v in values) + f" {np.mean(values):9.4f}")
    if args.out:
        result: dict[str, Any] = {
            "benchmark": "surprisal-profile stack probe (leave-one-source-out, free-form folds)",
            "date": now(),
            "command": command(),
            "machine": machine(),
            "report": str(args.report),
            "auroc_by_fold": rows,
            "mean_auroc": {name: float(np.mean(list(v.values()))) for name, v in rows.items()},
        }
        args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
