"""The one build path from a fitted detector to a bundle, the same for every kind.

::

    kind's fit ──▶ DraftBundle (graph, tokenizers, window spec)
                      │
                      ▼ written as an uncalibrated draft, loaded by the runtime (humanlike.detector.Detector)
    calibration split ──▶ raw logits ──▶ Platt scaling, thresholds at 1% / 5% FPR on its human texts
    hold-out split    ──▶ raw logits ──▶ metrics (AUROC, TPR at each threshold, per data type ...)
                      │
                      ▼
                  write_bundle: manifest + files + SHA256SUMS, renamed into place

Calibration and evaluation score the *exported* graph through the runtime, so that the manifest's
numbers hold for exactly what users run. A kind is an estimator (:mod:`humanlike.training.kinds`): its
``fit`` and its ``draft_bundle`` are all this module asks of it; :func:`train_bundle` reads and splits
the corpus, fits the kind (and clones of it for the out-of-source refits) and calls :func:`build_bundle`.
"""

from __future__ import annotations

import logging
import multiprocessing
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
from joblib import parallel_config
from sklearn.base import clone
from tqdm import tqdm

from humanlike.detector.atomic import check_output_directory
from humanlike.detector.bundle import (
    BundleManifest,
    Calibration,
    CorpusFingerprint,
    ModelKind,
    Precision,
    SplitSpec,
    Threshold,
    WindowSpec,
    write_bundle,
)
from humanlike.detector.processes import exit_with_parent
from humanlike.detector.runtime import Detector
from humanlike.estimate import quantile_reference
from humanlike.training.calibration import fit_platt, thresholds_at_fpr
from humanlike.training.config import SamplingConfig, SplitConfig
from humanlike.training.data.balance import Balance, balanced_indices
from humanlike.training.data.corpus import corpus_stats, labels_of, read_training_corpus, texts_of
from humanlike.training.data.readers import FieldMapping
from humanlike.training.data.schema import CorpusRecord
from humanlike.training.data.splits import TrainSplits, make_splits
from humanlike.training.evaluation.metrics import binary_metrics, evaluate_scores
from humanlike.training.kinds import DetectorKind

log = logging.getLogger("humanlike.build")

MAX_TEXT_CHARS = 100_000
"""Longest text a bundle accepts (the manifest's ``max_length``)."""


@dataclass
class DraftBundle:
    """What a detector kind's fit produces: the bundle's files and how the runtime reads text."""

    kind: ModelKind
    files: dict[str, bytes]
    """``model.onnx`` and the kind's other files (tokenizers, n-gram vocabularies)."""
    windows: WindowSpec | None = None
    precision: Precision = "fp32"
    training: dict[str, Any] = field(default_factory=dict)
    """How it was fitted, for the manifest's ``training`` section."""


@dataclass
class BuildData:
    """Labelled texts a bundle is calibrated and evaluated on, with the record of where they came from."""

    records: list[CorpusRecord]
    corpus: CorpusFingerprint
    splits: TrainSplits
    split: SplitSpec
    calibration_name: str
    """How the calibration texts were chosen, for ``Calibration.fitted_on``."""

    @classmethod
    def from_corpus(
        cls, corpus_paths: Sequence[str], config: SplitConfig, *, mapping: FieldMapping | None = None
    ) -> BuildData:
        """The corpus (or a grouped sample of it) in train / calibration / hold-out splits."""
        c = config
        records, corpus, _ = read_training_corpus(corpus_paths, mapping, c.sample_size, c.seed)
        splits = make_splits(records, c.seed, c.holdout_fraction, c.calibration_fraction)
        return cls(
            records,
            corpus,
            splits,
            splits.spec(c.seed, c.holdout_fraction, c.calibration_fraction),
            f"calibration split ({len(splits.calibration)} texts)",
        )

    @classmethod
    def calibration_sample(
        cls, corpus_paths: Sequence[str], size: int, *, seed: int = 0, mapping: FieldMapping | None = None
    ) -> BuildData:
        """A grouped sample used whole for calibration, for a kind that trains on nothing: every text is
        unseen, so its metrics on the sample are an honest estimate and no hold-out is set apart."""
        records, corpus, _ = read_training_corpus(corpus_paths, mapping, size, seed)
        everything = np.arange(len(records))
        none = np.array([], dtype=int)
        split = SplitSpec(
            seed=seed,
            holdout_fraction=0,
            calibration_fraction=1.0,
            n_train=0,
            n_calibration=len(records),
            n_holdout=0,
        )
        name = f"grouped sample of the corpus ({len(records)} texts)"
        return cls(records, corpus, TrainSplits(none, everything, none), split, name)

    def records_at(self, idx: np.ndarray) -> list[CorpusRecord]:
        return [self.records[i] for i in idx.tolist()]

    def with_train(self, train: np.ndarray) -> BuildData:
        """The same data with another training split (calibration and hold-out unchanged)."""
        splits = TrainSplits(train, self.splits.calibration, self.splits.holdout)
        return BuildData(self.records, self.corpus, splits, self.split, self.calibration_name)

    def texts(self, part: str) -> list[str]:
        return texts_of(self.records, getattr(self.splits, part))

    def labels(self, part: str) -> np.ndarray:
        return labels_of(self.records, getattr(self.splits, part))


def draft_manifest(
    draft: DraftBundle, corpus: CorpusFingerprint, split: SplitSpec, calibration: Calibration | None = None
) -> BundleManifest:
    """A bundle's manifest before calibration: enough for the runtime to load and score its graph."""
    return BundleManifest(
        kind=draft.kind,
        precision=draft.precision,
        max_length=MAX_TEXT_CHARS,
        windows=draft.windows,
        calibration=calibration or Calibration(fitted_on="uncalibrated draft"),
        thresholds=[],
        corpus=corpus,
        split=split,
        training=draft.training,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        humanlike_version=version("humanlike"),
    )


def score_draft(
    manifest: BundleManifest,
    files: dict[str, bytes],
    parts: dict[str, list[str]],
    *,
    threads: int | None = None,
    progress: bool = True,
    chunk: int = 256,
) -> dict[str, np.ndarray]:
    """Raw text logits of each named list of texts, from the draft bundle run by the runtime itself.

    ``chunk`` is texts per progress step (the runtime plans its own batches).
    """
    with tempfile.TemporaryDirectory() as tmp:
        detector = Detector(write_bundle(Path(tmp) / "draft", manifest, files), device="cpu", threads=threads)
        return {
            name: _logits(detector, texts, f"{manifest.kind} {manifest.precision}: {name}", progress, chunk)
            for name, texts in parts.items()
        }


def build_bundle(
    draft: DraftBundle,
    out: str | Path,
    data: BuildData,
    *,
    threads: int | None = None,
    progress: bool = True,
    chunk: int = 256,
    oos: OutOfSourceScores | None = None,
) -> BundleManifest:
    """Calibrates, sets thresholds, evaluates and writes ``draft`` to ``out``; returns the manifest.

    The thresholds come from ``oos`` when given (human texts scored by models that never saw their
    source), else from the calibration split's human texts; the metrics from the hold-out, or, when
    ``data`` has none (a kind that trained on nothing), from the calibration sample itself.
    """
    t = time.perf_counter()
    thresholds_out_of_source = oos is not None  # refits' scores given, not the calibration split's
    draft_record = draft_manifest(draft, data.corpus, data.split)
    parts = {"calibration": data.texts("calibration")}
    if len(data.splits.holdout):
        parts["hold-out"] = data.texts("holdout")
    scored = score_draft(draft_record, draft.files, parts, threads=threads, progress=progress, chunk=chunk)

    y_cal = data.labels("calibration")
    calibration = fit_platt(scored["calibration"], y_cal, fitted_on=data.calibration_name)
    if oos is None:
        cal = [data.records[i] for i in data.splits.calibration]
        oos = OutOfSourceScores(
            logits=scored["calibration"],
            labels=y_cal.astype(int),
            sources=np.array([r.source for r in cal]),
            data_types=np.array([r.data_type for r in cal]),
            description=f"in distribution: the texts of the {data.calibration_name}",
        )
    human_logits, human_sources = oos.humans()
    thresholds = thresholds_at_fpr(
        calibration.apply(human_logits),
        sources=human_sources,
        fitted_on=oos.description.replace("texts", "human texts", 1),
    )
    share_reference = quantile_reference(
        oos.logits, oos.labels, oos.sources, oos.data_types, fitted_on=oos.description
    )
    metrics: dict[str, Any]
    if "hold-out" in scored:
        holdout_records = [data.records[i] for i in data.splits.holdout]
        p_holdout = calibration.apply(scored["hold-out"])
        metrics = {"holdout": evaluate_scores(holdout_records, p_holdout, thresholds)}
    else:
        metrics = {
            "calibration_sample": binary_metrics(y_cal, calibration.apply(scored["calibration"]), thresholds)
        }
    if thresholds_out_of_source:
        metrics["out_of_source"] = out_of_source_metrics(oos, calibration.apply(oos.logits), thresholds)
    training = dict(draft.training)
    training["train_sources"] = corpus_stats([data.records[i] for i in data.splits.train])["source"]
    training["timings"] = {
        **training.get("timings", {}),
        "calibrate_and_evaluate_s": round(time.perf_counter() - t, 1),
    }
    manifest = draft_record.model_copy(
        update={
            "calibration": calibration,
            "thresholds": thresholds,
            "share_reference": share_reference,
            "metrics": metrics,
            "training": training,
        }
    )
    write_bundle(out, manifest, draft.files)
    log.info("wrote %s", out)
    return manifest


EMPTY_CORPUS = CorpusFingerprint(sha256="", n_records=0, paths=[])
EMPTY_SPLIT = SplitSpec(
    seed=0, holdout_fraction=0, calibration_fraction=0, n_train=0, n_calibration=0, n_holdout=0
)
"""The record of a bundle with no labelled texts behind it."""


def write_uncalibrated(draft: DraftBundle, out: str | Path, why: str, seed: int = 0) -> BundleManifest:
    """A bundle with no labelled texts behind it: it scores with sigmoid(logit) and has no thresholds."""
    split = EMPTY_SPLIT.model_copy(update={"seed": seed})
    manifest = draft_manifest(draft, EMPTY_CORPUS, split, Calibration(fitted_on=why))
    write_bundle(out, manifest, draft.files)
    return manifest


def train_bundle(
    kind: DetectorKind,
    corpus_paths: Sequence[str],
    out: str | Path,
    *,
    splits: SplitConfig = SplitConfig(),
    sampling: SamplingConfig = SamplingConfig(),
    mapping: FieldMapping | None = None,
    threads: int | None = None,
    progress: bool = True,
    chunk: int = 256,
    refit_processes: int = 1,
) -> BundleManifest:
    """Reads and splits the corpus, fits ``kind`` on (a balanced sample of) its train split, and builds
    the bundle from its draft; with ``sampling.threshold_source_folds``, its thresholds come from
    out-of-source scores (refits run in ``refit_processes`` processes side by side, see
    :func:`out_of_source_scores`).

    Raises:
        OutputPathError: ``out`` is a place this must not write (before any work starts).
    """
    check_output_directory(out, "bundle")
    t = time.perf_counter()
    data = BuildData.from_corpus(corpus_paths, splits, mapping=mapping)
    read_s = time.perf_counter() - t
    full_train = data.splits.train
    data = data.with_train(balanced_train(data.records, full_train, sampling, splits.seed))
    t = time.perf_counter()
    draft = kind.fit(data.records_at(data.splits.train)).draft_bundle()
    timings = {"read_s": round(read_s, 1), "fit_s": round(time.perf_counter() - t, 1)}
    oos = None
    if sampling.threshold_source_folds:
        t = time.perf_counter()
        oos = out_of_source_scores(
            kind,
            data,
            full_train,
            sampling,
            splits.seed,
            threads=threads,
            progress=progress,
            chunk=chunk,
            processes=refit_processes,
        )
        timings["out_of_source_s"] = round(time.perf_counter() - t, 1)
    draft.training = {
        **draft.training,
        "refit_processes": refit_processes if sampling.threshold_source_folds else None,
        "sample_size": splits.sample_size,
        "sampling": asdict(sampling),
        "n_fitted_on": len(data.splits.train),
        "timings": timings,
    }
    return build_bundle(draft, out, data, threads=threads, progress=progress, chunk=chunk, oos=oos)


def balanced_train(
    records: Sequence[CorpusRecord], train: np.ndarray, sampling: SamplingConfig, seed: int
) -> np.ndarray:
    """The training indices after ``sampling``'s caps and length matching, then at most
    ``sampling.max_fit_texts`` of them, uniformly (sorted)."""
    if sampling.cap_per_source_label is not None or sampling.length_match:
        balance = Balance(
            cap_per_source_label=sampling.cap_per_source_label, length_match=sampling.length_match
        )
        train = balanced_indices(records, train, balance, seed)
    if sampling.max_fit_texts is not None and len(train) > sampling.max_fit_texts:
        rng = np.random.default_rng(seed)
        train = np.sort(rng.choice(train, sampling.max_fit_texts, replace=False))
    return train


def out_of_source_metrics(
    oos: OutOfSourceScores, p: np.ndarray, thresholds: Sequence[Threshold]
) -> dict[str, Any]:
    """AUROC and the rest on calibration texts each scored by a refit that never saw its source:
    overall, per source and per data type. The thresholds were chosen on these human texts, so
    their FPR here is the in-sample one."""
    y = oos.labels.astype(int)
    return {
        "fitted_on": oos.description,
        "all": binary_metrics(y, p, thresholds),
        "source": {
            s: binary_metrics(y[oos.sources == s], p[oos.sources == s]) for s in sorted(set(oos.sources))
        },
        "data_type": {
            t: binary_metrics(y[oos.data_types == t], p[oos.data_types == t])
            for t in sorted(set(oos.data_types))
        },
    }


@dataclass
class OutOfSourceScores:
    """Raw logits of calibration-split texts, each from a refit that never saw the text's source."""

    logits: np.ndarray
    labels: np.ndarray
    """0 human, 1 LLM"""
    sources: np.ndarray
    data_types: np.ndarray
    description: str

    def humans(self) -> tuple[np.ndarray, np.ndarray]:
        """The human texts' logits and sources (what the thresholds are chosen on)."""
        human = self.labels == 0
        return self.logits[human], self.sources[human]


def source_folds(records: Sequence[CorpusRecord], k: int) -> list[list[str]]:
    """The sources in ``k`` groups of similar size (largest first, each to the smallest group)."""
    sizes = Counter(r.source for r in records)
    groups: list[list[str]] = [[] for _ in range(k)]
    totals = [0] * k
    for source, n in sorted(sizes.items(), key=lambda kv: (-kv[1], kv[0])):
        g = totals.index(min(totals))
        groups[g].append(source)
        totals[g] += n
    return [g for g in groups if g]


def out_of_source_scores(
    kind: DetectorKind,
    data: BuildData,
    full_train: np.ndarray,
    sampling: SamplingConfig,
    seed: int,
    *,
    threads: int | None = None,
    progress: bool = True,
    chunk: int = 256,
    processes: int = 1,
) -> OutOfSourceScores:
    """Refits ``kind`` (an unfitted clone of it) ``sampling.threshold_source_folds`` times, each without a
    group of sources (and every group of texts paired with them), and scores that group's calibration
    texts.

    With ``processes`` above 1 the refits run side by side in that many processes (``kind``'s parameters
    must then be picklable, as :class:`~humanlike.training.models.ngram.NgramDetector`'s are). The
    n-gram's fit is mostly Python TF-IDF counting on one core, so a second refit beside it uses the
    second core (``bench/bench_refits.py``). Each process holds a copy of ``data`` and its own fit, a
    few GB at the default's 30,000 texts.
    """
    records = data.records
    sources = np.array([r.source for r in records])
    groups = np.array([r.group for r in records])
    human = np.array([r.label == "human" for r in records])
    data_types = np.array([r.data_type for r in records])
    folds = source_folds(records, sampling.threshold_source_folds)
    jobs: list[RefitJob] = []
    for fold in folds:
        held = data.splits.calibration[np.isin(sources[data.splits.calibration], fold)]
        if not human[held].any():
            continue
        blocked = np.isin(sources, fold) | np.isin(groups, groups[held])
        train = full_train[~blocked[full_train]]
        jobs.append(RefitJob(clone(kind), data, balanced_train(records, train, sampling, seed), held, chunk))
    if processes > 1 and len(jobs) > 1:
        # spawn, not fork: the parent may hold joblib's worker pool and ONNX Runtime threads, which a
        # forked child would inherit half-alive. Each job carries its data; the results are logits.
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(
            min(processes, len(jobs)), mp_context=context, initializer=exit_with_parent
        ) as pool:
            runs = pool.map(RefitJob.run_in_child, jobs)
            logits = list(tqdm(runs, total=len(jobs), desc="out-of-source refits", disable=not progress))
    else:
        logits = [job.run(threads=threads, progress=progress) for job in jobs]
    held = np.concatenate([j.held for j in jobs])
    return OutOfSourceScores(
        logits=np.concatenate(logits),
        labels=(~human[held]).astype(int),
        sources=sources[held],
        data_types=data_types[held],
        description=f"out of source: calibration-split texts, each scored by one of {len(folds)} refits "
        "fitted without its source",
    )


@dataclass
class RefitJob:
    """One out-of-source refit: fit on ``train``, score the ``held`` texts whose sources it never saw."""

    kind: DetectorKind
    """Unfitted: a clone of the bundle's kind."""
    data: BuildData
    train: np.ndarray
    held: np.ndarray
    chunk: int = 256

    def run(self, threads: int | None = 1, progress: bool = False) -> np.ndarray:
        """Raw logits of the held-out texts (one ONNX Runtime thread unless told: the refits that run
        side by side share the cores)."""
        refit = self.kind.fit(self.data.records_at(self.train)).draft_bundle()
        manifest = draft_manifest(refit, self.data.corpus, self.data.split)
        parts = {"held": texts_of(self.data.records, self.held)}
        scored = score_draft(
            manifest, refit.files, parts, threads=threads, progress=progress, chunk=self.chunk
        )
        return scored["held"]

    def run_in_child(self) -> np.ndarray:
        """:meth:`run` in a process of its own. The fit's joblib work runs in that process: the refits
        already fill the cores, and a joblib worker pool left idle in the child would hold its exit
        for joblib's idle timeout (300 s)."""
        with parallel_config(backend="sequential"):
            return self.run(threads=1, progress=False)


def _logits(detector: Detector, texts: list[str], desc: str, progress: bool, chunk: int = 256) -> np.ndarray:
    out = np.empty(len(texts), dtype=np.float64)
    with tqdm(total=len(texts), desc=desc, disable=not progress, unit="text") as bar:
        for start in range(0, len(texts), chunk):
            out[start : start + chunk] = detector.llm_logits(texts[start : start + chunk])
            bar.update(min(chunk, len(texts) - start))
    return out
