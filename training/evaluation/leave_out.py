"""The leave-out engine: folds x candidates -> scores, the loop cross-validation and the
generalization protocol share.

A *fold* (:class:`~humanlike.training.data.splits.Split`) is a training side and the test texts it
never saw: a held-out generator or source (:func:`~humanlike.training.data.splits.leave_one_out_splits`,
what ``humanlike crossval`` runs), or the protocol's folds (sources, the newest generators, edits).
A *scorer* (:data:`Scorer`) is how one candidate turns a fold into :class:`FoldScores`: an estimator of
a detector kind fitted on the training side (:func:`kind_scorer`), a recipe with its own sample and
held-apart humans, a model over precomputed features, a stack of other candidates' scores. A new fold
type is a list of splits; a new candidate is one scorer; the loop is :func:`score_folds`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Container, Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from humanlike.training.data.corpus import sample_indices, texts_of
from humanlike.training.data.schema import CorpusRecord
from humanlike.training.data.splits import Split
from humanlike.training.kinds import DetectorKind

TARGET_FPR = 0.01
"""The false-positive rate of a candidate's own threshold (:attr:`FoldScores.threshold`)."""


@dataclass
class FoldScores:
    """What one candidate gives on one fold."""

    test: np.ndarray
    """logits of the fold's test texts"""
    held_apart_humans: np.ndarray
    """logits of the human texts the candidate set apart on the training side to choose its own
    thresholds (empty for a candidate that sets none apart)"""
    n_fit: int
    """how many texts the candidate was fitted on"""

    @property
    def threshold(self) -> float:
        """The candidate's own 1% threshold, as a bundle's is chosen."""
        if not len(self.held_apart_humans):
            raise ValueError("no held-apart human texts: this candidate chose no threshold of its own")
        return float(np.quantile(self.held_apart_humans, 1 - TARGET_FPR, method="higher"))


Scorer = Callable[[Sequence[CorpusRecord], Split], FoldScores | None]
"""Fits a candidate on a fold's training side and scores its test texts; None where the candidate
cannot score that fold (a stack whose members have no scores there)."""


@dataclass(frozen=True)
class Scored:
    """One candidate's outcome on one fold."""

    fold: Split
    candidate: str
    scores: FoldScores | None
    seconds: float


def sampled_test(records: Sequence[CorpusRecord], fold: Split, max_test: int | None, seed: int) -> Split:
    """The fold with a grouped, stratified sample of about ``max_test`` of its test texts (the same
    sample for every candidate), to bound the cost of the large folds."""
    return Split(fold.name, fold.train, sample_indices(records, fold.test, max_test, seed))


def kind_scorer(make: Callable[[], DetectorKind]) -> Scorer:
    """A scorer that fits a fresh estimator (``make()``) on a fold's whole training side, as
    ``humanlike train`` fits on its corpus, and scores the test texts; it sets nothing apart."""

    def score(records: Sequence[CorpusRecord], fold: Split) -> FoldScores:
        model = make()
        model.fit([records[i] for i in fold.train.tolist()])
        logits = np.asarray(model.decision_function(texts_of(records, fold.test)), dtype=np.float64)
        return FoldScores(logits, np.empty(0), len(fold.train))

    return score


def score_folds(
    records: Sequence[CorpusRecord],
    folds: Sequence[Split],
    scorers: Mapping[str, Scorer],
    *,
    skip: Container[tuple[str, str]] = frozenset(),
    progress: bool = True,
    desc: str = "leave-out",
) -> Iterator[Scored]:
    """Every (fold, candidate) pair not in ``skip`` (by fold name and candidate name), fold by fold,
    the candidates in the order of ``scorers``: a stack placed after its members finds their scores of
    the same fold. Lazy, so that the caller records each outcome (and can stop and resume) before the
    next fit starts."""
    todo = [(f, name) for f in folds for name in scorers if (f.name, name) not in skip]
    for fold, name in tqdm(todo, desc=desc, unit="fit", disable=not progress):
        started = time.perf_counter()
        scores = scorers[name](records, fold)
        yield Scored(fold, name, scores, time.perf_counter() - started)
