"""Evaluate a bundle on a corpus, through the runtime (the same path users score with).

When the corpus is the one the bundle was trained on (same fingerprint), only the bundle's own
hold-out is scored: evaluating on training texts would report memorisation as skill.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
from tqdm import tqdm

from detector import Detector
from training.corpus import fingerprint
from training.metrics import evaluate_scores
from training.readers import FieldMapping, load_corpus
from training.train import make_splits

EvalSplit = Literal["auto", "holdout", "all"]


def evaluate_bundle(
    bundle: str | Path,
    corpus_paths: Sequence[str],
    *,
    split: EvalSplit = "auto",
    mapping: FieldMapping | None = None,
    batch_size: int = 64,
    progress: bool = True,
) -> dict[str, Any]:
    """Scores a corpus with a bundle and returns the metrics report (see :mod:`training.metrics`).

    Args:
        split: ``auto``: the bundle's hold-out if the corpus is its training corpus, else everything;
            ``holdout``: the hold-out (fails on another corpus); ``all``: every record.
    """
    detector = Detector(bundle)
    manifest = detector.manifest
    records, report = load_corpus(corpus_paths, mapping)
    same_corpus = fingerprint(records, corpus_paths).sha256 == manifest.corpus.sha256
    if split == "holdout" and not same_corpus:
        raise ValueError("--split holdout needs the corpus the bundle was trained on (fingerprints differ)")
    scope = "holdout" if split == "holdout" or (split == "auto" and same_corpus) else "all"
    if scope == "holdout":
        s = manifest.split
        idx = make_splits(records, s.seed, s.holdout_fraction, s.calibration_fraction).holdout
        records = [records[i] for i in idx]

    valid = [r for r in records if detector.check_text(r.text) is None]
    skipped = len(records) - len(valid)
    p = np.empty(len(valid))
    bar = tqdm(total=len(valid), desc="eval", unit="text", disable=not progress)
    for start in range(0, len(valid), batch_size):
        chunk = valid[start : start + batch_size]
        p[start : start + len(chunk)] = [s.p_llm for s in detector.score_texts([r.text for r in chunk])]
        bar.update(len(chunk))
    bar.close()
    result = evaluate_scores(valid, p, manifest.thresholds)
    result["scope"] = {
        "split": scope,
        "same_corpus_as_training": same_corpus,
        "n_scored": len(valid),
        "n_skipped_invalid": skipped,
        "read_issues": report.n_issues,
        "bundle": str(bundle),
    }
    return result
