"""The evaluation metrics against values computed by hand, ties and one-class slices included."""

from __future__ import annotations

import numpy as np
import pytest

from humanlike.detector.bundle import Threshold
from humanlike.training.evaluation.metrics import (
    binary_metrics,
    bootstrap_intervals,
    expected_calibration_error,
    length_bucket,
    paired_auroc_delta,
    reliability_curve,
    replicate_roc_summaries,
    roc_summary,
)

# Two human (0) and two LLM (1) texts; one human and one LLM tie at 0.4.
Y = np.array([0, 0, 1, 1])
P = np.array([0.1, 0.4, 0.4, 0.8])


def test_auroc_counts_a_tie_as_half() -> None:
    # pairs (human, llm): (0.1, 0.4) win, (0.1, 0.8) win, (0.4, 0.4) tie, (0.4, 0.8) win -> 3.5 / 4
    auroc, tpr = roc_summary(Y, P)
    assert auroc == pytest.approx(0.875)
    # at FPR 0 only the 0.8 text is caught; the tie at 0.4 brings a human in with the second LLM text
    assert tpr == {"0.01": 0.5, "0.05": 0.5}


def test_all_scores_tied_is_chance() -> None:
    auroc, tpr = roc_summary(Y, np.full(4, 0.3))
    assert auroc == pytest.approx(0.5)
    assert tpr == {"0.01": 0.0, "0.05": 0.0}


def test_reliability_and_ece_by_hand() -> None:
    curve = reliability_curve(Y, P)
    assert [(b["lo"], b["n"], b["frac_llm"]) for b in curve] == [(0.1, 1, 0.0), (0.4, 2, 0.5), (0.8, 1, 1.0)]
    assert [b["mean_p"] for b in curve] == pytest.approx([0.1, 0.4, 0.8])
    # (1 * |0 - 0.1| + 2 * |0.5 - 0.4| + 1 * |1 - 0.8|) / 4
    assert expected_calibration_error(Y, P) == pytest.approx(0.125)
    # a score of exactly 1 falls in the last bin, not an eleventh one
    assert reliability_curve(np.array([1]), np.array([1.0]))[0]["lo"] == pytest.approx(0.9)


def test_metrics_at_the_bundle_thresholds() -> None:
    thresholds = [Threshold(target_fpr=0.01, p_llm=0.5, measured_fpr=0.0, n_human=2)]
    m = binary_metrics(Y, P, thresholds)
    at = m["at_thresholds"]["0.01"]
    # flagged: only 0.8 -> TP 1, FP 0, FN 1 -> precision 1, recall 0.5, F1 2/3
    assert (at["fpr"], at["tpr"]) == (0.0, 0.5)
    assert at["f1"] == pytest.approx(2 / 3)
    assert m["f1"] == pytest.approx(2 / 3)  # 0.5 is also the default cut
    assert m["brier"] == pytest.approx((0.01 + 0.16 + 0.36 + 0.04) / 4)


def test_one_class_slices_do_not_crash() -> None:
    only_llm = binary_metrics(np.array([1, 1]), np.array([0.2, 0.9]))
    assert only_llm["auroc"] is None and only_llm["tpr_at_fpr"] == {"0.01": None, "0.05": None}
    assert only_llm["f1"] == pytest.approx(2 / 3)
    assert only_llm["ece"] == pytest.approx((0.8 + 0.1) / 2)
    only_human = binary_metrics(np.array([0, 0]), np.array([0.2, 0.9]))
    assert only_human["auroc"] is None and only_human["f1"] is None
    assert bootstrap_intervals(np.array([0, 0]), np.array([0.2, 0.9]), np.array(["a", "b"])) is None
    assert paired_auroc_delta(np.array([1]), np.array([0.2]), np.array([0.3]), np.array(["a"])) is None
    empty = binary_metrics(np.array([], dtype=int), np.array([]))
    assert empty["ece"] is None and empty["brier"] is None


def test_bootstrap_resamples_groups_and_brackets_the_estimate() -> None:
    rng = np.random.default_rng(1)
    y = np.repeat([0, 1], 200)
    p = np.clip(rng.normal(0.35 + 0.3 * y, 0.2), 0, 1)
    groups = np.tile(np.arange(200), 2)  # each human text paired with one LLM text
    ci = bootstrap_intervals(y, p, groups, n_bootstrap=300, seed=0)
    assert ci is not None
    auroc, _ = roc_summary(y, p)
    assert ci["auroc"][0] < auroc < ci["auroc"][1]
    assert ci["auroc"][1] - ci["auroc"][0] < 0.15
    assert ci["n_bootstrap"] + ci["n_discarded"] == 300
    # the same seed draws the same replicates
    assert bootstrap_intervals(y, p, groups, n_bootstrap=300, seed=0) == ci


def test_bootstrap_of_a_perfect_separator_is_a_point() -> None:
    y = np.array([0, 0, 0, 1, 1, 1])
    ci = bootstrap_intervals(y, y * 0.5 + 0.2, np.arange(6), n_bootstrap=50)
    assert ci is not None and ci["auroc"] == [1.0, 1.0]
    # with two groups of one class each, many replicates draw a single class and are discarded
    two = bootstrap_intervals(np.array([0, 1]), np.array([0.1, 0.9]), np.array(["a", "b"]), n_bootstrap=100)
    assert two is not None and two["n_discarded"] > 0


def test_paired_delta_sees_the_better_model() -> None:
    rng = np.random.default_rng(2)
    y = np.repeat([0, 1], 300)
    good = np.clip(rng.normal(0.3 + 0.4 * y, 0.15), 0, 1)
    weak = np.clip(good + rng.normal(0, 0.3, y.size), 0, 1)
    d = paired_auroc_delta(y, good, weak, np.arange(y.size), n_bootstrap=200)
    assert d is not None and d["delta"] == pytest.approx(d["a"] - d["b"])
    assert d["ci"][0] > 0 and d["share_a_better"] == 1.0
    same = paired_auroc_delta(y, good, good, np.arange(y.size), n_bootstrap=50)
    assert same is not None and same["ci"] == [0.0, 0.0]


@pytest.mark.parametrize("seed", range(5))
def test_replicate_curves_are_scikit_learns_curves(seed: int) -> None:
    # scores rounded to two places, so that runs of ties with both classes are common
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, 300)
    p = np.round(np.clip(rng.normal(0.4 + 0.2 * y, 0.2), 0, 1), 2)
    weights = [rng.integers(0, 3, y.size).astype(np.float64) for _ in range(70)]  # zeros: texts not drawn
    aurocs, tprs = replicate_roc_summaries(y, p, weights)
    for i, w in enumerate(weights):
        auroc, tpr = roc_summary(y, p, w)
        assert aurocs[i] == pytest.approx(auroc, abs=1e-12)
        assert {k: v[i] for k, v in tprs.items()} == pytest.approx(tpr, abs=1e-12)


def test_length_buckets() -> None:
    assert length_bucket("one two") == "<50 words"
    assert length_bucket(" ".join(["w"] * 50)) == "50-99 words"
    assert length_bucket(" ".join(["w"] * 400)) == "400+ words"
