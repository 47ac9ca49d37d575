"""Calibration on held-out texts: Platt scaling, and thresholds at fixed false-positive rates.

The thresholds are what a user acts on ("flag a text when fewer than 1% of human texts would be
flagged"), so they are chosen on human texts the model never trained on.
"""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression

from humanlike.detector.bundle import Calibration, Threshold

TARGET_FPRS = (0.01, 0.05)


def fit_platt(logits: np.ndarray, y: np.ndarray, fitted_on: str) -> Calibration:
    """``p = sigmoid(slope * logit + intercept)`` fitted by (nearly unregularised) logistic regression."""
    model = LogisticRegression(C=1e6, solver="lbfgs").fit(np.asarray(logits).reshape(-1, 1), y)
    return Calibration(
        slope=float(model.coef_[0, 0]), intercept=float(model.intercept_[0]), fitted_on=fitted_on
    )


def thresholds_at_fpr(
    p_human: np.ndarray,
    target_fprs: tuple[float, ...] = TARGET_FPRS,
    *,
    sources: np.ndarray | None = None,
    fitted_on: str = "",
) -> list[Threshold]:
    """For each target, the smallest ``t`` with ``mean(p_human > t) <= target``.

    Args:
        sources: each human text's source; given, every threshold records its FPR per source and the
            worst of them.

    Raises:
        ValueError: there are no human texts to choose thresholds on.
    """
    p_human = np.asarray(p_human, dtype=np.float64)
    if p_human.size == 0:
        raise ValueError("thresholds need held-out human texts, and there are none")
    thresholds = []
    for target in target_fprs:
        t = float(np.quantile(p_human, 1.0 - target, method="higher"))
        by_source = (
            {str(s): float(np.mean(p_human[sources == s] > t)) for s in sorted(set(sources.tolist()))}
            if sources is not None
            else {}
        )
        thresholds.append(
            Threshold(
                target_fpr=target,
                p_llm=t,
                measured_fpr=float(np.mean(p_human > t)),
                n_human=int(p_human.size),
                fitted_on=fitted_on,
                fpr_by_source=by_source,
                worst_source_fpr=max(by_source.values()) if by_source else None,
            )
        )
    return thresholds
