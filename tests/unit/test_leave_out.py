"""The leave-out engine: folds x candidates in a stated order, resumable, and the kind scorer's fit on a
fold's training side only."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

import numpy as np
import pytest

from humanlike.training.data.schema import CorpusRecord
from humanlike.training.data.splits import Split
from humanlike.training.evaluation.leave_out import FoldScores, kind_scorer, score_folds
from humanlike.training.kinds import make_kind

from .test_kinds import TINY, records


def folds(n: int) -> list[Split]:
    idx = np.arange(n)
    return [Split(f"source=s{k}", idx[idx % 3 != k], idx[idx % 3 == k]) for k in range(3)]


def test_every_fold_meets_every_candidate_fold_by_fold_and_skips_what_is_done() -> None:
    calls: list[tuple[str, str]] = []

    def scorer(name: str, corpus: Sequence[CorpusRecord], fold: Split) -> FoldScores:
        calls.append((fold.name, name))
        assert not set(fold.train) & set(fold.test)
        return FoldScores(np.zeros(len(fold.test)), np.empty(0), len(fold.train))

    corpus = records(12)
    scorers = {"b": partial(scorer, "b"), "a": partial(scorer, "a")}
    done = {("source=s1", "a")}
    outcomes = score_folds(corpus, folds(12), scorers, skip=done, progress=False)
    assert calls == []  # lazy: nothing is fitted before the caller asks for it
    seen = [(o.fold.name, o.candidate) for o in outcomes]
    expected = [(f"source=s{k}", c) for k in range(3) for c in ("b", "a") if (f"source=s{k}", c) not in done]
    assert seen == calls == expected


def test_a_scorer_placed_after_its_members_reads_their_scores_of_the_same_fold() -> None:
    found: dict[str, FoldScores] = {}

    def member(corpus: Sequence[CorpusRecord], fold: Split) -> FoldScores:
        return FoldScores(np.ones(len(fold.test)), np.empty(0), 1)

    def stack(corpus: Sequence[CorpusRecord], fold: Split) -> FoldScores | None:
        return found.get(fold.name)

    outcomes = []
    for o in score_folds(records(12), folds(12), {"member": member, "stack": stack}, progress=False):
        if o.scores is not None and o.candidate == "member":
            found[o.fold.name] = o.scores
        outcomes.append(o)
    assert all(o.scores is not None for o in outcomes)


def test_the_kind_scorer_fits_on_the_training_side_and_scores_the_test() -> None:
    corpus = records(60)
    fold = folds(60)[0]
    scores = kind_scorer(partial(make_kind, "ngram", config=TINY))(corpus, fold)
    assert scores is not None and scores.n_fit == len(fold.train) and len(scores.test) == len(fold.test)
    labels = np.array([corpus[i].label == "llm" for i in fold.test])
    assert scores.test[labels].min() > scores.test[~labels].max()  # the two templates separate
    with pytest.raises(ValueError, match="no held-apart human texts"):
        _ = scores.threshold


def test_a_held_apart_set_gives_the_candidate_its_own_threshold() -> None:
    humans = np.linspace(0.0, 1.0, 101)
    assert FoldScores(np.zeros(3), humans, 0).threshold == pytest.approx(0.99)
