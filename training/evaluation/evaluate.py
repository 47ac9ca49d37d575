"""Evaluate a bundle on a corpus, through the runtime (the same path users score with).

When the corpus is the one the bundle was trained on (same fingerprint), only the bundle's own
hold-out is scored: evaluating on training texts would report memorisation as skill.

The report (``schema: humanlike-eval``, see :data:`SCHEMA_VERSION`) holds, beside the metrics of
:func:`humanlike.training.evaluation.metrics.evaluate_scores` at its top level:

- ``curves``: ROC points and score histograms (overall and per data type), enough to redraw the plots;
- ``robustness``: :func:`humanlike.training.evaluation.robustness.robustness_report` (perturbed LLM
texts, short texts);
- ``profile``: :func:`humanlike.training.evaluation.profile.corpus_profile` of the whole corpus read;
- ``generalization``: a ``humanlike crossval`` report, when one is given (leave-one-out needs refits,
  which a bundle cannot do; the eval carries the table beside the in-distribution numbers).

:func:`compare_bundles` scores two bundles on the same texts and same perturbations and adds paired
bootstrap intervals of their AUROC difference.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
from sklearn.metrics import roc_curve
from tqdm import tqdm

from humanlike.detector import Detector
from humanlike.detector.bundle import BundleManifest
from humanlike.training.config import option
from humanlike.training.data.corpus import fingerprint, labels_of
from humanlike.training.data.readers import FieldMapping, load_corpus
from humanlike.training.data.schema import CorpusRecord
from humanlike.training.data.splits import make_splits
from humanlike.training.evaluation.metrics import evaluate_scores, paired_auroc_delta, slice_masks

EvalSplit = Literal["auto", "holdout", "all"]
SCHEMA = "humanlike-eval"
COMPARE_SCHEMA = "humanlike-eval-compare"
SCHEMA_VERSION = 1
HISTOGRAM_BINS = 20
ROC_GRID = np.unique(np.concatenate([np.logspace(-4, 0, 41), np.linspace(0, 1, 101)]))


@dataclass(frozen=True)
class EvalOptions:
    """What ``humanlike eval`` computes beyond the plain metrics.

    Attributes:
        split: ``auto``: the bundle's hold-out if the corpus is its training corpus, else everything;
            ``holdout``: the hold-out (fails on another corpus); ``all``: every record.
        n_bootstrap: bootstrap replicates behind every interval of the report, the metrics' (grouped)
            and the LLM share's (0: no intervals).
        robustness_per_class: human and LLM texts perturbed per perturbation (0: no robustness).
        perturbations: names from :data:`humanlike.training.evaluation.robustness.BY_NAME` (empty: all of
        them).
        profile: profile the corpus (lengths, lexical diversity, judgements).
        crossval: a ``humanlike crossval --json`` report to embed as the generalization table.
        examples: keep one before/after text per perturbation (corpus text) in the report.
    """

    split: EvalSplit = option(
        "auto", "auto: the bundle's hold-out when the corpus is its training corpus, else all records"
    )
    n_bootstrap: int = option(200, "bootstrap replicates behind every interval (0: none)")
    robustness_per_class: int = option(1000, "human and LLM texts each, perturbed per perturbation (0: skip)")
    perturbations: tuple[str, ...] = ()
    profile: bool = option(True, "profile the corpus (lengths, lexical diversity)")
    crossval: Path | None = None
    examples: bool = option(True, "keep example corpus texts in the report (--no-examples to publish it)")
    seed: int = 0
    batch_size: int = 64
    progress: bool = True
    mapping: FieldMapping | None = None


def score_texts(
    detector: Detector,
    texts: Sequence[str],
    *,
    batch_size: int = 64,
    progress: bool = False,
    desc: str = "score",
) -> np.ndarray:
    """Calibrated p_llm per text; NaN for a text the bundle refuses (empty, too long)."""
    p = np.full(len(texts), np.nan)
    ok = [i for i, t in enumerate(texts) if detector.check_text(t) is None]
    bar = tqdm(total=len(ok), desc=desc, unit="text", disable=not progress, leave=False)
    for start in range(0, len(ok), batch_size):
        chunk = ok[start : start + batch_size]
        p[chunk] = [s.p_llm for s in detector.score_texts([texts[i] for i in chunk])]
        bar.update(len(chunk))
    bar.close()
    return p


def select_records(
    manifest: BundleManifest, corpus_paths: Sequence[str], split: EvalSplit, mapping: FieldMapping | None
) -> tuple[list[CorpusRecord], list[CorpusRecord], dict[str, Any]]:
    """Reads the corpus; returns every record, the records to evaluate on, and the scope."""
    records, read = load_corpus(corpus_paths, mapping)
    same_corpus = fingerprint(records, corpus_paths).sha256 == manifest.corpus.sha256
    if split == "holdout" and not same_corpus:
        raise ValueError("--split holdout needs the corpus the bundle was trained on (fingerprints differ)")
    scope = "holdout" if split == "holdout" or (split == "auto" and same_corpus) else "all"
    chosen = records
    if scope == "holdout":
        s = manifest.split
        idx = make_splits(records, s.seed, s.holdout_fraction, s.calibration_fraction).holdout
        chosen = [records[i] for i in idx]
    return (
        records,
        chosen,
        {"split": scope, "same_corpus_as_training": same_corpus, "read_issues": read.n_issues},
    )


def curves(records: Sequence[CorpusRecord], p: np.ndarray) -> dict[str, Any]:
    """ROC points on a fixed FPR grid and score histograms, overall and per data type."""
    y = labels_of(records)
    masks = {"all": np.ones(y.size, dtype=bool), **slice_masks(records)["data_type"]}
    edges = np.linspace(0.0, 1.0, HISTOGRAM_BINS + 1)
    roc: dict[str, Any] = {}
    hist: dict[str, Any] = {"edges": edges.tolist()}
    for name, mask in masks.items():
        ym, pm = y[mask], p[mask]
        hist[name] = {
            label: np.histogram(pm[ym == k], edges)[0].tolist() for k, label in enumerate(("human", "llm"))
        }
        if 0 < ym.sum() < ym.size:
            fpr, tpr, _ = roc_curve(ym, pm)
            # the best TPR reachable at each grid FPR (the ROC curve is a step function)
            idx = np.searchsorted(fpr, ROC_GRID, side="right") - 1
            roc[name] = {"fpr": ROC_GRID.round(6).tolist(), "tpr": tpr[idx].round(6).tolist()}
    return {"roc": roc, "histogram": hist}


def _bundle_info(path: Path, manifest: BundleManifest) -> dict[str, Any]:
    return {
        "path": str(path),
        "kind": manifest.kind,
        "precision": manifest.precision,
        "created_at": manifest.created_at,
        "corpus_sha256": manifest.corpus.sha256,
        "thresholds": {f"{t.target_fpr:g}": t.p_llm for t in manifest.thresholds},
    }


def _evaluate_scored(
    detector: Detector,
    path: Path,
    everything: Sequence[CorpusRecord],
    records: list[CorpusRecord],
    p: np.ndarray,
    scope: dict[str, Any],
    options: EvalOptions,
) -> dict[str, Any]:
    from humanlike.training.evaluation.robustness import BY_NAME, PERTURBATIONS, robustness_report

    manifest = detector.manifest
    ok = ~np.isnan(p)
    scored = [r for r, good in zip(records, ok, strict=True) if good]
    report: dict[str, Any] = {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "bundle": _bundle_info(path, manifest),
        "scope": {
            **scope,
            "n_scored": len(scored),
            "n_skipped_invalid": int((~ok).sum()),
            "bundle": str(path),
            "seed": options.seed,
            "n_bootstrap": options.n_bootstrap,
        },
    }
    report.update(
        evaluate_scores(
            scored, p[ok], manifest.thresholds, n_bootstrap=options.n_bootstrap, seed=options.seed
        )
    )
    report["curves"] = curves(scored, p[ok])
    report["robustness"] = None
    if options.robustness_per_class:
        chosen = [BY_NAME[n] for n in options.perturbations] if options.perturbations else list(PERTURBATIONS)
        bar = tqdm(total=len(chosen), desc="robustness", unit="perturbation", disable=not options.progress)

        def step(name: str) -> None:
            bar.set_postfix_str(name)
            bar.update(1)

        report["robustness"] = robustness_report(
            scored,
            p[ok],
            lambda texts: score_texts(detector, texts, batch_size=options.batch_size),
            manifest.thresholds,
            perturbations=chosen,
            max_per_class=options.robustness_per_class,
            seed=options.seed,
            examples=options.examples,
            on_done=step,
        )
        bar.close()
    report["profile"] = None
    if options.profile:
        from humanlike.training.evaluation.profile import corpus_profile

        report["profile"] = corpus_profile(everything)
    report["generalization"] = None
    if options.crossval:
        report["generalization"] = json.loads(Path(options.crossval).read_text(encoding="utf-8"))
    report["share"] = share_section(
        manifest, scored, p[ok], seed=options.seed, n_bootstrap=options.n_bootstrap
    )
    return report


def share_section(
    manifest: BundleManifest,
    records: Sequence[CorpusRecord],
    p: np.ndarray,
    *,
    seed: int = 0,
    n_bootstrap: int = 200,
) -> dict[str, Any] | None:
    """``humanlike estimate``'s answer beside the truth on the evaluated texts of its default data
    types, overall and per source: how close the corpus-level share comes where the labels are known.
    None when the bundle has no share reference or no such texts."""
    from humanlike.estimate import DEFAULT_DATA_TYPES, DEFAULT_METHOD, estimate_shares

    if manifest.share_reference is None:
        return None
    kept = [i for i, r in enumerate(records) if r.data_type in DEFAULT_DATA_TYPES]
    if not kept:
        return None
    # back from calibrated p_llm to the raw logit the reference holds (Platt scaling is invertible)
    q = np.clip(p[kept], 1e-12, 1 - 1e-12)
    c = manifest.calibration
    logits = (np.log(q / (1 - q)) - c.intercept) / c.slope
    y = labels_of(records, np.asarray(kept))
    sources = np.array([records[i].source for i in kept])
    slices = {"all": np.ones(len(kept), dtype=bool)} | {
        f"source={s}": sources == s for s in sorted(set(sources.tolist()))
    }
    slices = {k: m for k, m in slices.items() if m.sum() >= 20}
    estimates = estimate_shares(
        {k: logits[m] for k, m in slices.items()},
        manifest.share_reference,
        n_bootstrap=n_bootstrap,
        seed=seed,
    )
    rows = {k: {"true_share": float(y[m].mean()), **estimates[k].as_dict()} for k, m in slices.items()}
    errors = [abs(r["share"] - r["true_share"]) for k, r in rows.items() if k != "all"]
    return {
        "method": DEFAULT_METHOD,
        "data_types": list(DEFAULT_DATA_TYPES),
        "note": "the bundle's own evaluation texts: in distribution when they are its hold-out, so this is "
        "the estimate's best case; humanlike estimate --validate measures it on left-out sources",
        "all": rows.pop("all", None),
        "source": rows,
        "mean_abs_error_by_source": float(np.mean(errors)) if errors else None,
    }


def evaluate_bundle(
    bundle: str | Path, corpus_paths: Sequence[str], options: EvalOptions | None = None
) -> dict[str, Any]:
    """Scores a corpus with a bundle and returns the evaluation report (see the module docstring)."""
    options = options or EvalOptions()
    detector = Detector(bundle)
    everything, records, scope = select_records(
        detector.manifest, corpus_paths, options.split, options.mapping
    )
    p = score_texts(
        detector,
        [r.text for r in records],
        batch_size=options.batch_size,
        progress=options.progress,
        desc="eval",
    )
    return _evaluate_scored(detector, Path(bundle), everything, records, p, scope, options)


def compare_bundles(
    bundle_a: str | Path,
    bundle_b: str | Path,
    corpus_paths: Sequence[str],
    options: EvalOptions | None = None,
) -> dict[str, Any]:
    """Evaluates two bundles on the same texts; adds paired AUROC differences (A - B) per slice.

    The texts are chosen with A's manifest; with ``split`` ``auto`` or ``holdout`` both bundles must
    have been trained on the same corpus with the same split, or one bundle's hold-out would be the
    other's training data.
    """
    options = options or EvalOptions()
    a, b = Detector(bundle_a), Detector(bundle_b)
    if options.split != "all" and (
        a.manifest.corpus.sha256 != b.manifest.corpus.sha256 or a.manifest.split != b.manifest.split
    ):
        raise ValueError(
            "the bundles were trained on different corpora or splits, so no hold-out is unseen by both; "
            "compare them on another corpus with --split all"
        )
    everything, records, scope = select_records(a.manifest, corpus_paths, options.split, options.mapping)
    texts = [r.text for r in records]
    p_a = score_texts(a, texts, batch_size=options.batch_size, progress=options.progress, desc="eval A")
    p_b = score_texts(b, texts, batch_size=options.batch_size, progress=options.progress, desc="eval B")
    both = ~np.isnan(p_a) & ~np.isnan(p_b)
    records = [r for r, ok in zip(records, both, strict=True) if ok]
    p_a, p_b = p_a[both], p_b[both]
    names = [str(bundle_a), str(bundle_b)]
    if names[0] == names[1]:
        names = [f"A: {names[0]}", f"B: {names[1]}"]
    y = labels_of(records)
    groups = np.array([r.group for r in records])
    delta: dict[str, Any] = {
        "all": paired_auroc_delta(y, p_a, p_b, groups, n_bootstrap=options.n_bootstrap, seed=options.seed)
    }
    for key, masks in slice_masks(records).items():
        delta[key] = {
            name: paired_auroc_delta(
                y[m], p_a[m], p_b[m], groups[m], n_bootstrap=options.n_bootstrap, seed=options.seed
            )
            for name, m in masks.items()
        }
    each = replace(options, profile=False, crossval=None)  # corpus-wide: once, below
    report: dict[str, Any] = {
        "schema": COMPARE_SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "names": names,
        "n_texts": len(records),
        "reports": {
            names[0]: _evaluate_scored(a, Path(bundle_a), everything, records, p_a, scope, each),
            names[1]: _evaluate_scored(b, Path(bundle_b), everything, records, p_b, scope, each),
        },
        "auroc_delta": delta,
        "profile": None,
    }
    if options.profile:
        from humanlike.training.evaluation.profile import corpus_profile

        report["profile"] = corpus_profile(everything)
    return report
