"""The human-side share estimate (``bbe``) on synthetic logits whose true shares are known."""

from __future__ import annotations

import numpy as np
import pytest

from humanlike.estimate import best_bin_human_share


def mixture(rng: np.random.Generator, n: int, llm_share: float, gap: float) -> np.ndarray:
    n_llm = round(n * llm_share)
    return np.concatenate([rng.normal(0.0, 1.0, n - n_llm), rng.normal(gap, 1.0, n_llm)])


@pytest.mark.parametrize("llm_share", [0.0, 0.1, 0.5, 0.75])
def test_recovers_the_human_share_where_the_sides_separate(llm_share: float) -> None:
    rng = np.random.default_rng(0)
    human = rng.normal(0.0, 1.0, 2000)
    estimate = best_bin_human_share(human, mixture(rng, 5000, llm_share, gap=5.0))
    assert estimate == pytest.approx(1 - llm_share, abs=0.04)


def test_llm_text_that_reads_as_human_is_counted_human() -> None:
    # LLM logits drawn like the human ones: nothing tells them apart, so the corpus reads all human
    rng = np.random.default_rng(1)
    human = rng.normal(0.0, 1.0, 2000)
    assert best_bin_human_share(human, mixture(rng, 4000, 0.5, gap=0.0)) > 0.9


def test_a_shifted_corpus_errs_towards_human() -> None:
    # partial overlap: the estimate lies between the truth and all-human, never below the truth
    rng = np.random.default_rng(2)
    human = rng.normal(0.0, 1.0, 2000)
    estimate = best_bin_human_share(human, mixture(rng, 4000, 0.5, gap=1.5))
    assert 0.5 - 0.03 <= estimate <= 1.0
    assert estimate < 0.9


def test_a_reference_too_small_for_the_bound_reads_all_human() -> None:
    assert best_bin_human_share(np.array([0.0]), np.zeros(10)) == 1.0
