"""Leave-one-generator-out and leave-one-source-out evaluation, one or several models side by side.

In distribution almost any detector looks near-perfect; what matters is how it does on generators
and sources it never saw. Each fold refits each model (the kind's estimator,
:mod:`humanlike.training.kinds`, as ``humanlike train`` fits it) on the corpus
minus the bundle's hold-out minus every group touching the held-out value, and scores the held-out
value's texts against human texts (see :func:`humanlike.training.data.splits.leave_one_out`). With
several models, every model of a fold is scored on the same test texts. The loop over folds and
models is the leave-out engine's (:mod:`humanlike.training.evaluation.leave_out`); what is particular
here is the folds and how each model is fitted (:func:`~humanlike.training.evaluation.leave_out.kind_scorer`,
:func:`_lm_scorer`).

The LM-based models (``zero-shot``, ``encoder``, ``hybrid``, see :data:`LM_MODELS`) read features computed
once for every record; a fold refits only their logistic regression on its training records.

The transformer fold fine-tunes with the given
:class:`~humanlike.training.models.transformer.TransformerConfig`
(usually a smaller budget than the full run) and scores whole texts window by window in PyTorch,
exactly as the exported graph would (the parity test holds the two together).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from humanlike.detector.bundle import Calibration
from humanlike.training.config import NgramBaselineConfig
from humanlike.training.data.corpus import labels_of, sample
from humanlike.training.data.readers import load_corpus
from humanlike.training.data.schema import CorpusRecord
from humanlike.training.data.splits import LeaveOutKey, Split, leave_one_out_splits, make_splits
from humanlike.training.evaluation.leave_out import FoldScores, Scorer, kind_scorer, sampled_test, score_folds
from humanlike.training.evaluation.metrics import binary_metrics
from humanlike.training.kinds import make_kind

if TYPE_CHECKING:
    from humanlike.training.config import TransformerConfig
    from humanlike.training.models.hybrid import WindowFeatureTable

ModelName = Literal["ngram", "transformer", "zero-shot", "encoder", "hybrid"]
LM_MODELS = ("zero-shot", "encoder", "hybrid")
"""Models scored from one table of window features (:mod:`humanlike.training.models.hybrid`), computed
once for every
record before the folds: the LM reads every window of every record, which dominates the run, so use them
with a sample. ``zero-shot`` is the Fast-DetectGPT criterion (nothing to fit); ``encoder`` a logistic
regression on the frozen all-MiniLM-L6-v2 embedding alone; ``hybrid`` the same on the embedding and the
LM statistics (the ``hybrid`` bundle's model)."""


class UnknownFoldError(ValueError):
    """An ``only`` value that is no generator or source of the corpus read: nothing to hold out."""


def _lm_scorer(table: WindowFeatureTable, name: str) -> Scorer:
    """A scorer for an LM-based model: only its logistic regression is fitted, on the fold's training
    records' rows of the feature table computed once for every record (nothing for ``zero-shot``)."""
    from humanlike.training.models.hybrid import fit_window_model
    from humanlike.training.models.lm import FEATURES

    def score(records: Sequence[CorpusRecord], fold: Split) -> FoldScores:
        if name == "zero-shot":
            window_logits = table.features[:, 0]
        else:
            columns = slice(len(FEATURES), None) if name == "encoder" else None
            model = fit_window_model(table, fold.train, labels_of(records, fold.train), columns)
            window_logits = model.window_logits(table.features)
        logits = np.asarray(table.text_logits(window_logits)[fold.test], dtype=np.float64)
        return FoldScores(logits, np.empty(0), len(fold.train))

    return score


def crossval_report(
    corpus_paths: Sequence[str],
    *,
    keys: Sequence[LeaveOutKey] = ("generator", "source"),
    only: Sequence[str] | None = None,
    seed: int = 0,
    holdout_fraction: float = 0.1,
    calibration_fraction: float = 0.1,
    sample_size: int | None = None,
    models: Sequence[ModelName] = ("ngram",),
    config: NgramBaselineConfig | None = None,
    transformer_config: TransformerConfig | None = None,
    max_test_texts: int | None = None,
    progress: bool = True,
    on_fold: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Refits each model once per held-out value and scores the held-out texts.

    Args:
        max_test_texts: score a grouped, stratified sample of about this many of a fold's test texts
            (the same sample for every model), to bound the cost of large sources.
        on_fold: called with the report so far after every fold (folds take minutes each on the
            full corpus; the CLI rewrites its JSON report there, so that partial results survive).
    """
    records, _ = load_corpus(corpus_paths)
    if sample_size:
        records = sample(records, sample_size, seed)
    holdout = make_splits(records, seed, holdout_fraction, calibration_fraction).holdout
    config = config or NgramBaselineConfig()
    if "transformer" in models and transformer_config is None:
        from humanlike.training.config import TransformerConfig

        transformer_config = TransformerConfig(seed=seed)
    splits = [
        (key, s)
        for key in keys
        for s in leave_one_out_splits(records, key, holdout)
        if not only or s.name.split("=", 1)[1] in only
    ]
    if only:
        found = {s.name.split("=", 1)[1] for _, s in splits}
        if missing := [v for v in only if v not in found]:
            raise UnknownFoldError(
                f"--only names no {' or '.join(keys)} of this corpus: {', '.join(missing)}"
            )
    folds: list[dict[str, Any]] = []
    report: dict[str, Any] = {
        "protocol": "leave-one-out; test = held-out value's texts + their human pairs, "
        "topped up with hold-out texts of the missing class and the same data types",
        "seed": seed,
        "n_records": len(records),
        "models": list(models),
        "config": config.as_dict(),
        "transformer_config": transformer_config.as_dict() if transformer_config else None,
        "max_test_texts": max_test_texts,
        "n_folds": len(splits),
        "folds": folds,
    }
    table = None
    if any(m in LM_MODELS for m in models):
        from humanlike.training.models.hybrid import WindowFeaturizer

        started = time.perf_counter()
        table = WindowFeaturizer().table([r.text for r in records], progress)
        report["lm_features_s"] = round(time.perf_counter() - started, 1)

    def scorer(name: str) -> Scorer:
        if name in LM_MODELS:
            assert table is not None
            return _lm_scorer(table, name)
        kind_config = config if name == "ngram" else transformer_config
        return kind_scorer(partial(make_kind, name, config=kind_config, seed=seed))

    scorers: dict[str, Scorer] = {m: scorer(m) for m in models}
    tests = [sampled_test(records, s, max_test_texts, seed) for _, s in splits]
    names = list(scorers)
    fold: dict[str, Any] = {}
    for scored in score_folds(records, tests, scorers, progress=progress, desc="crossval"):
        split, model, fitted = scored.fold, scored.candidate, scored.scores
        assert fitted is not None  # kind and LM scorers score every fold
        if model == names[0]:  # the engine yields a fold's candidates together, in the scorers' order
            key, held_out = split.name.split("=", 1)
            fold = {"key": key, "held_out": held_out, "n_train": fitted.n_fit}
        y = labels_of(records, split.test)
        dtypes = np.array([records[i].data_type for i in split.test])
        p = Calibration().apply(fitted.test)  # uncalibrated: AUROC and TPR at FPR do not depend on it
        scores = {
            "seconds": round(scored.seconds, 1),
            **binary_metrics(y, p),
            "data_type": {d: binary_metrics(y[dtypes == d], p[dtypes == d]) for d in sorted(set(dtypes))},
        }
        if len(names) == 1:
            fold.update(scores)  # the single-model report keeps its flat layout
        else:
            fold.setdefault("n_human", scores["n_human"])
            fold.setdefault("n_llm", scores["n_llm"])
            fold[model] = scores
        if model == names[-1]:
            folds.append(fold)
            if on_fold:
                on_fold(report)
    return report


def format_crossval(report: dict[str, Any]) -> str:
    models = report.get("models", ["ngram"])
    header = f"{'held out':<40} {'train':>6} {'human':>6} {'llm':>6}"
    for name in models:
        prefix = "" if len(models) == 1 else f"{name[:5]} "
        header += f" {prefix + 'AUROC':>12} {prefix + 'TPR@1%':>12} {prefix + 'TPR@5%':>12}"
    lines = [header, "-" * len(header)]

    def fmt(x: float | None) -> str:
        return "   -" if x is None else f"{x:.3f}"

    for f in report["folds"]:
        row = f"{f['key'] + '=' + f['held_out']:<40} {f['n_train']:>6} {f['n_human']:>6} {f['n_llm']:>6}"
        for name in models:
            m = f if len(models) == 1 else f[name]
            tpr = m["tpr_at_fpr"]
            row += f" {fmt(m['auroc']):>12} {fmt(tpr['0.01']):>12} {fmt(tpr['0.05']):>12}"
        lines.append(row)
    return "\n".join(lines)
