"""The n-gram fit's options for generalization: source weights and mirror-pair differences."""

from __future__ import annotations

import dataclasses

import numpy as np
import scipy.sparse as sp

from humanlike.training.config import NgramBaselineConfig
from humanlike.training.data.balance import source_balanced_weights
from humanlike.training.data.schema import CorpusRecord
from humanlike.training.evaluation.generalization import is_edit
from humanlike.training.models.ngram import NgramBaseline, fit_arguments, pair_differences

TINY = NgramBaselineConfig(max_word_features=500, max_char_features=500, distorted_view_words=None)


def record(i: int, source: str, label: str, pair: str | None = None, text: str = "") -> CorpusRecord:
    return CorpusRecord(
        id=str(i),
        text=text or f"text number {i} from {source}",
        label=label,  # type: ignore[arg-type]
        data_type="free_form",
        source=source,
        pair_id=pair,
    )


def test_every_source_weighs_the_same_split_between_its_labels() -> None:
    records = (
        [record(i, "big", "llm") for i in range(90)]
        + [record(100 + i, "big", "human") for i in range(10)]
        + [record(200 + i, "small", "human") for i in range(5)]
    )
    idx = np.arange(len(records))
    w = source_balanced_weights(records, idx)
    assert np.isclose(w.mean(), 1.0)
    by_cell = {
        (s, label): w[[i for i in idx if (records[i].source, records[i].label) == (s, label)]].sum()
        for s, label in [("big", "llm"), ("big", "human"), ("small", "human")]
    }
    # a two-label source splits its weight in halves; a one-sided source weighs as much as a whole one
    assert np.isclose(by_cell[("big", "llm")], by_cell[("big", "human")])
    assert np.isclose(by_cell[("small", "human")], by_cell[("big", "llm")] + by_cell[("big", "human")])


def test_pair_differences_subtract_the_mean_of_the_pairs_humans() -> None:
    x = sp.csr_matrix(np.array([[1.0, 0, 0], [0, 1.0, 0], [0, 0, 4.0], [0, 0, 2.0], [5.0, 5, 5]]))
    y = np.array([0, 1, 1, 0, 1])
    groups = ["a", "a", "b", "a", None]
    d = pair_differences(x, y, groups).toarray()
    # texts 1 and 2 are LLM: 1 pairs with humans 0 and 3 of group a; 2 (group b) and 4 have no human
    np.testing.assert_allclose(d, [[-0.5, 1.0, -1.0]])


def test_fit_arguments_follow_the_config() -> None:
    records = [record(0, "s", "human", "p"), record(1, "s", "llm", "p")]
    idx = np.arange(2)
    assert fit_arguments(records, idx, TINY) == {}
    both = fit_arguments(records, idx, dataclasses.replace(TINY, pair_contrast=1.0, source_weighting=True))
    assert both["groups"] == ["p", "p"]
    np.testing.assert_allclose(both["sample_weight"], [1.0, 1.0])


def test_pair_contrast_learns_what_tells_a_pair_apart() -> None:
    # Inside each pair the LLM text says "beta" where its human twin says "alpha"; the many unpaired
    # texts say the opposite. A plain fit follows the unpaired majority and ranks every pair the wrong
    # way round; weighted enough, the pairs' differences turn it.
    records = []
    for p in range(40):
        records.append(record(2 * p, "s", "human", f"p{p}", f"topic{p} some words alpha"))
        records.append(record(2 * p + 1, "s", "llm", f"p{p}", f"topic{p} some words beta"))
    for i in range(200):
        label = "llm" if i % 2 else "human"
        word = "alpha" if label == "llm" else "beta"
        records.append(record(1000 + i, "s", label, None, f"topic{100 + i % 7} some words {word}"))
    texts = [r.text for r in records]
    y = np.array([r.label == "llm" for r in records], dtype=int)
    idx = np.arange(len(records))
    config = dataclasses.replace(TINY, pair_contrast=20.0)
    paired = NgramBaseline(config).fit(texts, y, n_jobs=1, **fit_arguments(records, idx, config))
    plain = NgramBaseline(TINY).fit(texts, y, n_jobs=1)

    def pairs_ranked_right(model: NgramBaseline) -> float:
        s = model.decision_function(texts[:80])
        return float(np.mean(s[1::2] > s[0::2]))

    assert pairs_ranked_right(plain) < 0.1
    assert pairs_ranked_right(paired) > 0.9
    # the joint fit stands in for the plain classifier: its intercept and weights are what export reads
    assert paired.classifier.coef_.shape == plain.classifier.coef_.shape
    assert np.isfinite(paired.classifier.intercept_).all()


def test_edit_variants() -> None:
    assert is_edit("polish-of-human") and is_edit("paraphrase(quillbot-fluency)")
    assert is_edit("concise-rewrite") and is_edit("rephrase_expert")
    assert not is_edit(None) and not is_edit("direct_prompt") and not is_edit("continuation-of-human-prefix")
