"""Corpus → fitted baseline → calibrated, evaluated bundle.

Split (grouped by pair_id, stratified by label x data_type, seeded)::

    corpus ─┬─ holdout      (10%)  never seen; the metrics in the manifest come from here
            └─ rest ─┬─ calibration (10% of the corpus)  Platt scaling and FPR thresholds
                     └─ train                            the model
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from detector.bundle import (
    FEATURES_FILE,
    MODEL_FILE,
    BundleManifest,
    CorpusFingerprint,
    SplitSpec,
    write_bundle,
)
from training.baseline import NgramBaseline, NgramBaselineConfig
from training.calibration import fit_platt, thresholds_at_fpr
from training.corpus import fingerprint, sample
from training.metrics import evaluate_scores
from training.readers import FieldMapping, ReadReport, load_corpus
from training.schema import CorpusRecord
from training.splits import holdout_split

log = logging.getLogger("humanlike.train")

MAX_TEXT_CHARS = 100_000


@dataclass(frozen=True)
class TrainSplits:
    train: np.ndarray
    calibration: np.ndarray
    holdout: np.ndarray

    def spec(self, seed: int, holdout_fraction: float, calibration_fraction: float) -> SplitSpec:
        """The manifest's record of these splits (with the corpus fingerprint, enough to rebuild them)."""
        return SplitSpec(
            seed=seed,
            holdout_fraction=holdout_fraction,
            calibration_fraction=calibration_fraction,
            n_train=len(self.train),
            n_calibration=len(self.calibration),
            n_holdout=len(self.holdout),
        )


def make_splits(
    records: Sequence[CorpusRecord], seed: int, holdout_fraction: float, calibration_fraction: float
) -> TrainSplits:
    """The three grouped splits; rebuilt identically from the same records and seed."""
    rest, holdout = holdout_split(records, holdout_fraction, seed)
    rest_records = [records[i] for i in rest]
    train, calibration = holdout_split(rest_records, calibration_fraction / (1 - holdout_fraction), seed + 1)
    return TrainSplits(train=rest[train], calibration=rest[calibration], holdout=holdout)


def read_training_corpus(
    corpus_paths: Sequence[str], mapping: FieldMapping | None, sample_size: int | None, seed: int
) -> tuple[list[CorpusRecord], CorpusFingerprint, ReadReport]:
    """The records a model trains on (all, or a grouped sample of about ``sample_size``), their
    fingerprint, and the read report; the same call rebuilds the same records for export and eval.

    Raises:
        ValueError: no usable records.
    """
    records, report = load_corpus(corpus_paths, mapping)
    if sample_size:
        records = sample(records, sample_size, seed)
    if not records:
        raise ValueError(f"no usable records in {', '.join(corpus_paths)} ({report.summary()})")
    return records, fingerprint(records, corpus_paths), report


def labels_of(records: Sequence[CorpusRecord], idx: np.ndarray) -> np.ndarray:
    return np.array([records[i].label == "llm" for i in idx], dtype=int)


def texts_of(records: Sequence[CorpusRecord], idx: np.ndarray) -> list[str]:
    return [records[i].text for i in idx]


def train_baseline_bundle(
    corpus_paths: Sequence[str],
    out: str | Path,
    *,
    seed: int = 0,
    holdout_fraction: float = 0.1,
    calibration_fraction: float = 0.1,
    config: NgramBaselineConfig | None = None,
    mapping: FieldMapping | None = None,
    sample_size: int | None = None,
    progress: bool = True,
) -> BundleManifest:
    """Trains the n-gram baseline on a corpus and writes a calibrated, evaluated bundle to ``out``."""
    config = config or NgramBaselineConfig()
    stages = tqdm(
        total=6, desc="train", disable=not progress, bar_format="{l_bar}{bar}| {n}/{total} [{elapsed}]"
    )
    timings: dict[str, float] = {}

    def stage(name: str) -> float:
        stages.set_description(f"train: {name}")
        return time.perf_counter()

    t = stage("reading corpus")
    records, corpus, report = read_training_corpus(corpus_paths, mapping, sample_size, seed)
    timings["read_s"] = time.perf_counter() - t
    stages.update()

    t = stage("splitting")
    splits = make_splits(records, seed, holdout_fraction, calibration_fraction)
    stages.update()

    t = stage(f"fitting on {len(splits.train)} texts")
    model = NgramBaseline(config).fit(texts_of(records, splits.train), labels_of(records, splits.train))
    timings["fit_s"] = time.perf_counter() - t
    stages.update()

    t = stage("calibrating")
    y_cal = labels_of(records, splits.calibration)
    logits_cal = model.decision_function(texts_of(records, splits.calibration))
    calibration = fit_platt(logits_cal, y_cal, fitted_on=f"calibration split ({len(y_cal)} texts)")
    thresholds = thresholds_at_fpr(calibration.apply(logits_cal)[y_cal == 0])
    timings["calibrate_s"] = time.perf_counter() - t
    stages.update()

    t = stage("evaluating hold-out")
    holdout_records = [records[i] for i in splits.holdout]
    p_holdout = calibration.apply(model.decision_function(texts_of(records, splits.holdout)))
    metrics: dict[str, Any] = {"holdout": evaluate_scores(holdout_records, p_holdout, thresholds)}
    timings["evaluate_s"] = time.perf_counter() - t
    stages.update()

    t = stage("exporting")
    graph = model.to_onnx()
    timings["export_s"] = time.perf_counter() - t
    manifest = BundleManifest(
        kind="ngram-linear",
        max_length=MAX_TEXT_CHARS,
        calibration=calibration,
        thresholds=thresholds,
        corpus=corpus,
        split=splits.spec(seed, holdout_fraction, calibration_fraction),
        metrics=metrics,
        training={
            "model": "word+char n-gram TF-IDF, logistic regression (scikit-learn)",
            "config": config.as_dict(),
            "sample_size": sample_size,
            "read_issues": report.n_issues,
            "timings": {k: round(v, 2) for k, v in timings.items()},
        },
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        humanlike_version=version("humanlike"),
    )
    write_bundle(
        out,
        manifest,
        {MODEL_FILE: graph, FEATURES_FILE: model.feature_spec().model_dump_json().encode("utf-8")},
    )
    stages.update()
    stages.close()
    return manifest
