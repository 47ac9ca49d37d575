"""Would learned stack weights beat the protocol's equal weights? A probe on the recorded logits.

For each free-form source fold, a stacker is fitted on the test texts of the *other* free-form folds
(each fold weighted equally; every one of those logits came from a model that never saw that fold's
source) and applied to this fold:

- a logistic regression over the members' standardised logits (one global mix);
- gradient-boosted trees over the same logits and a few surface features of each text (length, word
  length, type-token ratio, line breaks, punctuation, case, digits, non-ASCII share), which could learn
  *per text* which member to trust (short texts, lists, non-native prose).

Nothing is refitted: it reads the report's ``.scores.npz`` and rebuilds the folds' labels from the corpus.

    python research/probe_learned_stack.py
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from protocol_run import ProtocolRun
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

STACKS = (("ngram-c1", "ngram-c1-distorted-300"), ("ngram-c1", "ngram-c1-distorted-300", "transformer"))


def surface_features(text: str) -> list[float]:
    """What a gate could key on: how long the text is and what shape it has, not what it says."""
    words = text.split()
    n_words, n_chars = max(len(words), 1), max(len(text), 1)
    return [
        float(np.log1p(len(text))),
        float(np.log1p(len(words))),
        float(np.mean([len(w) for w in words])) if words else 0.0,
        len({w.lower() for w in words}) / n_words,
        text.count("\n") / n_words,
        sum(c in ",;:" for c in text) / n_words,
        sum(c.isupper() for c in text) / n_chars,
        sum(c.isdigit() for c in text) / n_chars,
        sum(ord(c) > 127 for c in text) / n_chars,
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--report", type=Path, default=Path(__file__).parent / "results" / "generalization-2026-11-30.json"
    )
    parser.add_argument("--corpus", default="../shared/corpus")
    args = parser.parse_args()
    run = ProtocolRun(args.report, args.corpus)
    free = run.free
    labels = {f: run.labels(f) for f in free}
    surface = {f: np.array([surface_features(t) for t in run.texts(f)]) for f in free}
    for members in STACKS:

        def standardised(fold: str, members: tuple[str, ...] = members) -> np.ndarray:
            return np.asarray(run.standardised(fold, members))

        equal, learned, gated = [], [], []
        for fold in free:
            others = [g for g in free if g != fold]
            weight = np.concatenate([np.full(len(labels[g]), 1.0 / len(labels[g])) for g in others])
            meta = LogisticRegression(C=1.0).fit(
                np.vstack([standardised(g) for g in others]),
                np.concatenate([labels[g] for g in others]),
                sample_weight=weight,
            )
            learned.append(roc_auc_score(labels[fold], standardised(fold) @ meta.coef_[0]))
            gate = HistGradientBoostingClassifier(
                max_iter=200, learning_rate=0.05, max_leaf_nodes=15, random_state=0
            )
            gate.fit(
                np.vstack([np.hstack([standardised(g), surface[g]]) for g in others]),
                np.concatenate([labels[g] for g in others]),
                sample_weight=weight,
            )
            both = np.hstack([standardised(fold), surface[fold]])
            gated.append(roc_auc_score(labels[fold], gate.predict_proba(both)[:, 1]))
            equal.append(roc_auc_score(labels[fold], standardised(fold).mean(axis=1)))
        print(
            f"{' + '.join(members)}: LOSO free-form AUROC, equal weights {np.mean(equal):.4f}, "
            f"weights learned on the other folds {np.mean(learned):.4f}, "
            f"trees over the logits and surface features {np.mean(gated):.4f}"
        )


if __name__ == "__main__":
    main()
