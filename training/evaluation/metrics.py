"""Detection metrics, overall and per slice (data_type, source, generator, domain, length).

Per set of labels ``y`` (1 = llm) and calibrated scores ``p``:

- ``auroc``: threshold-free ranking quality (ties count half, as in the Mann-Whitney statistic).
- ``tpr_at_fpr``: share of LLM texts caught at a fixed false-positive rate, read off this set's own
  ROC curve (how the detection literature reports it).
- ``at_thresholds``: the false-positive and true-positive rates and F1 this set actually gets at the
  bundle's stored thresholds (what a user of the bundle gets).
- ``f1``: at calibrated ``p_llm > 0.5``.
- ``ece`` and ``brier``: calibration. ECE is the count-weighted gap between the mean score and the
  share of LLM texts over ten equal-width score bins (:func:`reliability_curve`); it depends on this
  set's class balance, which is why the reliability curve is reported beside it.
- ``ci`` (with ``n_bootstrap``): percentile bootstrap intervals that resample *groups* (``pair_id``,
  else ``id``), since a human text and its LLM twin are not independent draws.

A slice with one class has no AUROC or TPR (``None``) but still has its calibration numbers. Per
generator, the LLM texts of that generator are scored against the human texts of the same data
types, since a generator has no human texts of its own.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
from sklearn.metrics import auc, f1_score, roc_curve

from humanlike.detector.bundle import Threshold
from humanlike.training.data.corpus import labels_of
from humanlike.training.data.schema import CorpusRecord

REPORT_FPRS = (0.01, 0.05)
RELIABILITY_BINS = 10
# Upper bounds (exclusive) of the length buckets, in whitespace-separated words.
LENGTH_BUCKETS: tuple[tuple[str, int], ...] = (
    ("<50 words", 50),
    ("50-99 words", 100),
    ("100-199 words", 200),
    ("200-399 words", 400),
    ("400+ words", 1 << 62),
)


def _two_classes(y: np.ndarray, weight: np.ndarray | None = None) -> bool:
    w = np.ones(y.size) if weight is None else weight
    return bool(w[y == 1].sum() > 0 and w[y == 0].sum() > 0)


def roc_summary(
    y: np.ndarray, p: np.ndarray, weight: np.ndarray | None = None
) -> tuple[float, dict[str, float]]:
    """AUROC and the TPR at each of :data:`REPORT_FPRS`, from one ROC curve (needs both classes).

    Every threshold stays on the curve (``drop_intermediate=False``): a dropped collinear point can be
    the highest TPR under an FPR, and :func:`replicate_roc_summaries` reads the same full curve.
    """
    fpr, tpr, _ = roc_curve(y, p, sample_weight=weight, drop_intermediate=False)
    return float(auc(fpr, tpr)), {f"{f:g}": float(tpr[fpr <= f].max()) for f in REPORT_FPRS}


# Replicates per block in replicate_roc_summaries: its temporaries (the sorted weights and their
# cumulative sums) are a few arrays of block x texts floats, whatever the number of replicates.
_REPLICATE_BLOCK = 64


def replicate_roc_summaries(
    y: np.ndarray, p: np.ndarray, weights: Sequence[np.ndarray]
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """:func:`roc_summary` for each of ``weights`` (one weight per text, both classes weighted), at once.

    The bootstrap asks for hundreds of ROC curves of the same scores under different weights: one sort
    serves them all, and each curve is the cumulative weighted counts at the last text of every run
    of equal scores, the points :func:`sklearn.metrics.roc_curve` draws (tests/unit/test_metrics.py
    holds the two equal). One scikit-learn call per replicate would check its inputs and sort again
    every time, for every slice.
    """
    order = np.argsort(-np.asarray(p, dtype=np.float64), kind="stable")
    is_llm = np.asarray(y)[order] == 1
    sorted_p = np.asarray(p, dtype=np.float64)[order]
    ends = np.r_[np.flatnonzero(np.diff(sorted_p)), sorted_p.size - 1]  # last text of each score
    aurocs: list[np.ndarray] = []
    tprs: dict[str, list[np.ndarray]] = {f"{f:g}": [] for f in REPORT_FPRS}
    for start in range(0, len(weights), _REPLICATE_BLOCK):
        w = np.vstack(weights[start : start + _REPLICATE_BLOCK])[:, order]
        tps = np.cumsum(np.where(is_llm, w, 0.0), axis=1)[:, ends]
        fps = np.cumsum(np.where(is_llm, 0.0, w), axis=1)[:, ends]
        zero = np.zeros((w.shape[0], 1))
        tpr = np.hstack([zero, tps / tps[:, -1:]])
        fpr = np.hstack([zero, fps / fps[:, -1:]])
        aurocs.append(np.trapezoid(tpr, fpr, axis=1))
        for f in REPORT_FPRS:
            tprs[f"{f:g}"].append(np.where(fpr <= f, tpr, 0.0).max(axis=1))
    return np.concatenate(aurocs), {k: np.concatenate(v) for k, v in tprs.items()}


def reliability_curve(y: np.ndarray, p: np.ndarray, n_bins: int = RELIABILITY_BINS) -> list[dict[str, Any]]:
    """Per non-empty equal-width score bin: its range, size, mean score and share of LLM texts."""
    y = np.asarray(y, dtype=np.float64)
    p = np.asarray(p, dtype=np.float64)
    # Bin b holds lo <= p < hi; the last bin also holds p == 1.
    bins = np.minimum((p * n_bins).astype(int), n_bins - 1)
    curve = []
    for b in range(n_bins):
        mask = bins == b
        if mask.any():
            curve.append(
                {
                    "lo": b / n_bins,
                    "hi": (b + 1) / n_bins,
                    "n": int(mask.sum()),
                    "mean_p": float(p[mask].mean()),
                    "frac_llm": float(y[mask].mean()),
                }
            )
    return curve


def expected_calibration_error(y: np.ndarray, p: np.ndarray, n_bins: int = RELIABILITY_BINS) -> float | None:
    """Count-weighted mean |share of LLM texts - mean score| over the bins; None for no texts."""
    curve = reliability_curve(y, p, n_bins)
    n = sum(b["n"] for b in curve)
    if not n:
        return None
    return float(sum(b["n"] * abs(b["frac_llm"] - b["mean_p"]) for b in curve) / n)


def binary_metrics(y: np.ndarray, p: np.ndarray, thresholds: Sequence[Threshold] = ()) -> dict[str, Any]:
    """Metrics for labels ``y`` (1 = llm) and calibrated scores ``p``; AUROC is None with one class."""
    y = np.asarray(y, dtype=int)
    p = np.asarray(p, dtype=np.float64)
    n_llm = int(y.sum())
    out: dict[str, Any] = {"n_human": int(y.size - n_llm), "n_llm": n_llm}
    if _two_classes(y):
        out["auroc"], out["tpr_at_fpr"] = roc_summary(y, p)
    else:
        out["auroc"], out["tpr_at_fpr"] = None, {f"{f:g}": None for f in REPORT_FPRS}
    out["f1"] = float(f1_score(y, p > 0.5, zero_division=0.0)) if n_llm else None
    out["ece"] = expected_calibration_error(y, p)
    out["brier"] = float(np.mean((p - y) ** 2)) if y.size else None
    out["at_thresholds"] = {
        f"{t.target_fpr:g}": {
            "p_llm": t.p_llm,
            "fpr": float(np.mean(p[y == 0] > t.p_llm)) if n_llm < y.size else None,
            "tpr": float(np.mean(p[y == 1] > t.p_llm)) if n_llm else None,
            "f1": float(f1_score(y, p > t.p_llm, zero_division=0.0)) if n_llm else None,
        }
        for t in thresholds
    }
    return out


def group_resamples(
    y: np.ndarray, groups: np.ndarray, n_bootstrap: int, seed: int
) -> Iterator[np.ndarray | None]:
    """Per replicate, the weight of every text: how often its group was drawn.

    Each replicate draws as many groups as there are, with replacement. A replicate that drew a
    single class yields None (no AUROC exists on it; callers count it as discarded).
    """
    _, group_of_text = np.unique(np.asarray(groups), return_inverse=True)
    n_groups = int(group_of_text.max()) + 1
    rng = np.random.default_rng(seed)
    for _ in range(n_bootstrap):
        weight = np.bincount(rng.integers(0, n_groups, n_groups), minlength=n_groups)[group_of_text]
        yield weight.astype(np.float64) if _two_classes(y, weight.astype(np.float64)) else None


def _percentiles(values: Sequence[float] | np.ndarray, level: float) -> list[float]:
    tail = (1.0 - level) / 2 * 100
    return [float(np.percentile(values, tail)), float(np.percentile(values, 100 - tail))]


def bootstrap_intervals(
    y: np.ndarray,
    p: np.ndarray,
    groups: np.ndarray,
    *,
    n_bootstrap: int = 200,
    seed: int = 0,
    level: float = 0.95,
) -> dict[str, Any] | None:
    """Percentile intervals of AUROC and TPR at each report FPR, resampling whole groups.

    Replicates that draw a single class are discarded (counted in ``n_discarded``). Returns None for
    a slice with one class.
    """
    y = np.asarray(y, dtype=int)
    p = np.asarray(p, dtype=np.float64)
    if not _two_classes(y) or n_bootstrap <= 0:
        return None
    weights = [w for w in group_resamples(y, groups, n_bootstrap, seed) if w is not None]
    if not weights:
        return None
    aurocs, tprs = replicate_roc_summaries(y, p, weights)
    return {
        "level": level,
        "n_bootstrap": len(weights),
        "n_discarded": n_bootstrap - len(weights),
        "auroc": _percentiles(aurocs, level),
        "tpr_at_fpr": {k: _percentiles(v, level) for k, v in tprs.items()},
    }


def paired_auroc_delta(
    y: np.ndarray,
    p_a: np.ndarray,
    p_b: np.ndarray,
    groups: np.ndarray,
    *,
    n_bootstrap: int = 200,
    seed: int = 0,
    level: float = 0.95,
) -> dict[str, Any] | None:
    """AUROC(A) - AUROC(B) on the same texts, with a grouped bootstrap interval of the difference.

    Both models are scored on each replicate's same resample, so the interval reflects the
    difference itself rather than two independent uncertainties. None for a one-class slice.
    """
    y = np.asarray(y, dtype=int)
    if not _two_classes(y):
        return None
    a, _ = roc_summary(y, p_a)
    b, _ = roc_summary(y, p_b)
    out: dict[str, Any] = {"a": a, "b": b, "delta": a - b, "ci": None}
    weights = [w for w in group_resamples(y, groups, n_bootstrap, seed) if w is not None]
    if weights:
        deltas = replicate_roc_summaries(y, p_a, weights)[0] - replicate_roc_summaries(y, p_b, weights)[0]
        out["ci"] = _percentiles(deltas, level)
        out["share_a_better"] = float(np.mean(deltas > 0))
    return out


def length_bucket(text: str) -> str:
    n = len(text.split())
    return next(name for name, upper in LENGTH_BUCKETS if n < upper)


def slice_masks(records: Sequence[CorpusRecord]) -> dict[str, dict[str, np.ndarray]]:
    """Boolean masks over ``records`` for every slice of every breakdown, in a stable order."""
    y = labels_of(records).astype(bool)
    columns = {
        "data_type": np.array([r.data_type for r in records]),
        "source": np.array([r.source for r in records]),
        "domain": np.array([r.domain or "(none)" for r in records]),
    }
    masks: dict[str, dict[str, np.ndarray]] = {
        key: {v: values == v for v in sorted(set(values))} for key, values in columns.items()
    }
    generators = np.array([r.generator for r in records])
    masks["generator"] = {}
    for g in sorted(set(generators[y])):
        own = generators == g
        masks["generator"][g] = own | (~y & np.isin(columns["data_type"], columns["data_type"][own]))
    lengths = np.array([length_bucket(r.text) for r in records])
    masks["length"] = {name: lengths == name for name, _ in LENGTH_BUCKETS if (lengths == name).any()}
    return masks


BREAKDOWNS = ("data_type", "source", "generator", "domain", "length")


def evaluate_scores(
    records: Sequence[CorpusRecord],
    p: np.ndarray,
    thresholds: Sequence[Threshold] = (),
    *,
    n_bootstrap: int = 0,
    seed: int = 0,
) -> dict[str, Any]:
    """Overall metrics, the reliability curve, and every breakdown of :data:`BREAKDOWNS`.

    With ``n_bootstrap``, every slice also gets grouped bootstrap intervals (``ci``).
    """
    p = np.asarray(p, dtype=np.float64)
    y = labels_of(records)
    groups = np.array([r.group for r in records])

    def metrics(mask: np.ndarray) -> dict[str, Any]:
        m = binary_metrics(y[mask], p[mask], thresholds)
        if n_bootstrap:
            m["ci"] = bootstrap_intervals(y[mask], p[mask], groups[mask], n_bootstrap=n_bootstrap, seed=seed)
        return m

    everything = np.ones(y.size, dtype=bool)
    report: dict[str, Any] = {"all": metrics(everything), "reliability": reliability_curve(y, p)}
    for key, masks in slice_masks(records).items():
        report[key] = {name: metrics(mask) for name, mask in masks.items()}
    return report


def format_table(section: dict[str, dict[str, Any]], title: str) -> str:
    """A plain-text table of one breakdown (``report["data_type"]``, ...).

    AUROC carries its bootstrap interval when the report has one.
    """
    header = (
        f"{title:<30} {'human':>6} {'llm':>6} {'AUROC':>7} {'95% CI':>13} {'TPR@1%':>7} {'TPR@5%':>7} "
        f"{'F1':>6} {'ECE':>6}"
    )
    lines = [header, "-" * len(header)]

    def fmt(x: float | None) -> str:
        return "   -" if x is None else f"{x:.3f}"

    for name, m in section.items():
        ci = m.get("ci")
        interval = f"{ci['auroc'][0]:.3f}-{ci['auroc'][1]:.3f}" if ci else "-"
        lines.append(
            f"{name[:30]:<30} {m['n_human']:>6} {m['n_llm']:>6} {fmt(m['auroc']):>7} {interval:>13} "
            f"{fmt(m['tpr_at_fpr']['0.01']):>7} {fmt(m['tpr_at_fpr']['0.05']):>7} {fmt(m['f1']):>6} "
            f"{fmt(m.get('ece')):>6}"
        )
    return "\n".join(lines)
