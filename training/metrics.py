"""Detection metrics, overall and per data_type / source / generator.

- ``auroc``: threshold-free ranking quality.
- ``tpr_at_fpr``: share of LLM texts caught at a fixed false-positive rate, read off this set's own
  ROC curve (how the detection literature reports it).
- ``at_thresholds``: the false-positive and true-positive rates this set actually gets at the
  bundle's stored thresholds (what a user of the bundle gets).
- ``f1``: at calibrated ``p_llm > 0.5``.

Per generator, the LLM texts of that generator are scored against the human texts of the same
data types, since a generator has no human texts of its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.metrics import f1_score, roc_auc_score, roc_curve

from detector.bundle import Threshold
from training.schema import CorpusRecord

REPORT_FPRS = (0.01, 0.05)


def tpr_at_fpr(y: np.ndarray, p: np.ndarray, target: float) -> float:
    fpr, tpr, _ = roc_curve(y, p)
    return float(tpr[fpr <= target].max())


def binary_metrics(y: np.ndarray, p: np.ndarray, thresholds: Sequence[Threshold] = ()) -> dict[str, Any]:
    """Metrics for labels ``y`` (1 = llm) and calibrated scores ``p``; AUROC is None with one class."""
    y = np.asarray(y, dtype=int)
    p = np.asarray(p, dtype=np.float64)
    n_llm = int(y.sum())
    out: dict[str, Any] = {"n_human": int(y.size - n_llm), "n_llm": n_llm}
    two_classes = 0 < n_llm < y.size
    out["auroc"] = float(roc_auc_score(y, p)) if two_classes else None
    out["tpr_at_fpr"] = {f"{f:g}": tpr_at_fpr(y, p, f) if two_classes else None for f in REPORT_FPRS}
    out["f1"] = float(f1_score(y, p > 0.5, zero_division=0.0)) if n_llm else None
    out["at_thresholds"] = {
        f"{t.target_fpr:g}": {
            "fpr": float(np.mean(p[y == 0] > t.p_llm)) if n_llm < y.size else None,
            "tpr": float(np.mean(p[y == 1] > t.p_llm)) if n_llm else None,
        }
        for t in thresholds
    }
    return out


def evaluate_scores(
    records: Sequence[CorpusRecord], p: np.ndarray, thresholds: Sequence[Threshold] = ()
) -> dict[str, Any]:
    """Overall metrics and breakdowns by data_type, source and generator."""
    p = np.asarray(p, dtype=np.float64)
    y = np.array([r.label == "llm" for r in records], dtype=int)
    dtypes = np.array([r.data_type for r in records])
    sources = np.array([r.source for r in records])
    generators = np.array([r.generator for r in records])
    report: dict[str, Any] = {"all": binary_metrics(y, p, thresholds)}
    for key, values in (("data_type", dtypes), ("source", sources)):
        report[key] = {
            v: binary_metrics(y[values == v], p[values == v], thresholds) for v in sorted(set(values))
        }
    report["generator"] = {}
    for g in sorted(set(generators[y == 1])):
        own = generators == g
        humans = (y == 0) & np.isin(dtypes, dtypes[own])
        mask = own | humans
        report["generator"][g] = binary_metrics(y[mask], p[mask], thresholds)
    return report


def format_table(section: dict[str, dict[str, Any]], title: str) -> str:
    """A plain-text table of one breakdown (``report["data_type"]``, ...)."""
    header = f"{title:<28} {'human':>6} {'llm':>6} {'AUROC':>7} {'TPR@1%':>7} {'TPR@5%':>7} {'F1':>6}"
    lines = [header, "-" * len(header)]

    def fmt(x: float | None) -> str:
        return "   -" if x is None else f"{x:.3f}"

    for name, m in section.items():
        lines.append(
            f"{name:<28} {m['n_human']:>6} {m['n_llm']:>6} {fmt(m['auroc']):>7} "
            f"{fmt(m['tpr_at_fpr']['0.01']):>7} {fmt(m['tpr_at_fpr']['0.05']):>7} {fmt(m['f1']):>6}"
        )
    return "\n".join(lines)
