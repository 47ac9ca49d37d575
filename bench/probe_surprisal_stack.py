"""Does a text's word-surprisal profile read unseen sources? A probe on the recorded logits.

Ghostbuster and GLTR summarise how probable each token is under language models; the cheapest such
model is a unigram one. Here each word's surprisal comes from ``wordfreq``'s English frequencies (a
lexicon of general text, fitted on none of our sources), and each text is summarised by a few dozen
numbers: the distribution of its words' surprisal (mean, spread, quantiles, shares per frequency band),
how that varies from sentence to sentence ("burstiness"), and sentence lengths. No LM pass.

For each free-form source fold, gradient-boosted trees are fitted on the test texts of the *other*
free-form folds (each fold weighted equally) and applied to this fold, with:

- the surprisal profile alone;
- the default's two n-gram logits (standardised as the protocol's stack does) alone, and their mean
  (the shipped stack);
- the logits and the profile together.

Nothing is refitted but the trees: it reads the report's ``.scores.npz`` and rebuilds the folds' texts
from the corpus. Writes a JSON beside the other results with ``--out``.

    python bench/probe_surprisal_stack.py [--report bench/results/generalization-2026-11-30.json]
"""

from __future__ import annotations

import argparse
import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import wordfreq
from benchlib import command, machine, now
from probe_learned_stack import surface_features
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score

from humanlike.training.data.corpus import labels_of, texts_of
from humanlike.training.data.readers import load_corpus
from humanlike.training.evaluation.generalization import protocol_folds, sampled_test

MEMBERS = ("ngram-c1", "ngram-c1-distorted-300")
SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
BANDS = (7.0, 6.0, 5.0, 4.0, 3.0, 2.0)  # Zipf: 7 = once in 10 words ... 3 = once in 10 million


class Surprisal:
    """Word surprisal (in bits) under wordfreq's English unigram frequencies."""

    def __init__(self) -> None:
        self.freq = wordfreq.get_frequency_dict("en", wordlist="best")
        self.floor = -math.log2(1e-9)  # a word the lexicon lacks

    def bits(self, text: str) -> np.ndarray:
        words = wordfreq.tokenize(text, "en")
        return np.array([-math.log2(self.freq[w]) if w in self.freq else self.floor for w in words])

    def profile(self, text: str) -> list[float]:
        bits = self.bits(text)
        if not len(bits):
            return [0.0] * 24
        zipf = 9.0 - bits * math.log10(2)  # Zipf = log10(frequency per billion words)
        sentences = [s for s in SENTENCE_END.split(text) if s.strip()]
        per_sentence = [self.bits(s) for s in sentences]
        means = np.array([b.mean() for b in per_sentence if len(b)]) if per_sentence else np.zeros(1)
        lengths = np.array([len(b) for b in per_sentence]) if per_sentence else np.zeros(1)
        q = np.quantile(bits, [0.1, 0.25, 0.5, 0.75, 0.9, 0.99])
        return [
            float(bits.mean()),
            float(bits.std()),
            *map(float, q),
            float((bits >= self.floor).mean()),  # words the lexicon does not know
            *[float(((zipf < hi) & (zipf >= hi - 1)).mean()) for hi in BANDS],
            float(means.std()) if len(means) > 1 else 0.0,
            float(means.max() - means.min()) if len(means) > 1 else 0.0,
            float(lengths.mean()),
            float(lengths.std()),
            float(lengths.std() / max(lengths.mean(), 1.0)),
            float(np.log1p(len(bits))),
            # how the surprisal of neighbouring words moves (LLM text is smoother, the claim goes)
            float(np.abs(np.diff(bits)).mean()) if len(bits) > 1 else 0.0,
            float(np.corrcoef(bits[:-1], bits[1:])[0, 1]) if len(bits) > 2 and bits.std() > 0 else 0.0,
        ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--report", type=Path, default=Path("bench/results/generalization-2026-11-30.json"))
    parser.add_argument("--corpus", default="../shared/corpus")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    report = json.loads(args.report.read_text())
    logits = dict(np.load(args.report.with_suffix(".scores.npz")))
    records, _ = load_corpus([args.corpus])
    folds = {
        f.name: sampled_test(records, f, report["max_test"], report["seed"]) for f in protocol_folds(records)
    }
    free = sorted(
        {
            r["fold"]
            for r in report["folds"]
            if r["data_types"] == ["free_form"] and r["fold"].startswith("source=")
        }
    )
    surprisal = Surprisal()
    labels = {f: labels_of(records, folds[f].test) for f in free}
    texts = {f: texts_of(records, folds[f].test) for f in free}
    profile = {f: np.array([surprisal.profile(t) + surface_features(t) for t in texts[f]]) for f in free}

    def standardised(fold: str) -> np.ndarray:
        columns = []
        for m in MEMBERS:
            test, held = logits[f"{fold}|{m}|test"], logits[f"{fold}|{m}|held"]
            columns.append((test - held.mean()) / held.std())
        return np.column_stack(columns)

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
