"""Grouped splits: no ``pair_id`` ever has texts on both sides of a split.

A human text and its LLM twin (same prompt, or an LLM continuation of the same human opening) share
a ``pair_id``; putting them on both sides leaks the answer. Every split here moves whole groups.

- :func:`holdout_split`: a grouped hold-out, stratified by label x data_type, deterministic by seed.
- :func:`leave_one_out`: train without one generator (or source), test on it.
- :func:`make_splits`: the train / calibration / hold-out splits of every trained bundle.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from humanlike.detector.bundle import SplitSpec
from humanlike.training.data.schema import CorpusRecord

LeaveOutKey = Literal["generator", "source"]


@dataclass(frozen=True)
class Split:
    """Indices into the record list. ``name`` says what was held out."""

    name: str
    train: np.ndarray
    test: np.ndarray


def group_ids(records: Sequence[CorpusRecord]) -> np.ndarray:
    """An integer group per record (records of one group share a ``pair_id``, else stand alone)."""
    index: dict[str, int] = {}
    return np.array([index.setdefault(r.group, len(index)) for r in records], dtype=np.int64)


def holdout_split(
    records: Sequence[CorpusRecord], fraction: float, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Splits records into (rest, holdout) with about ``fraction`` of every stratum held out.

    A group's stratum is its data_type with the set of labels in it (``free_form:human+llm`` for a
    human text grouped with its LLM twins); groups of each stratum are shuffled with ``seed`` and the
    first ``round(fraction * n)`` held out. Deterministic: same records and seed, same split.
    """
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"fraction must be in (0, 1), got {fraction}")
    groups = group_ids(records)
    members: dict[int, list[int]] = defaultdict(list)
    for i, g in enumerate(groups):
        members[int(g)].append(i)
    strata: dict[str, list[int]] = defaultdict(list)
    for g, idx in members.items():
        labels = "+".join(sorted({records[i].label for i in idx}))
        strata[f"{records[idx[0]].data_type}:{labels}"].append(g)
    rng = np.random.default_rng(seed)
    held = np.zeros(len(records), dtype=bool)
    for key in sorted(strata):
        stratum = np.array(strata[key])
        rng.shuffle(stratum)
        for g in stratum[: round(fraction * len(stratum))]:
            held[members[int(g)]] = True
    return np.flatnonzero(~held), np.flatnonzero(held)


@dataclass(frozen=True)
class LeaveOutColumns:
    """The fields :func:`leave_out` reads, one array each, read off the records once for all the folds
    of a protocol: reading them is a pass of Python over every record, the rest of a fold is numpy."""

    labels: np.ndarray
    data_types: np.ndarray
    groups: np.ndarray

    @classmethod
    def of(cls, records: Sequence[CorpusRecord]) -> LeaveOutColumns:
        return cls(
            labels=np.array([r.label for r in records]),
            data_types=np.array([r.data_type for r in records]),
            groups=group_ids(records),
        )


def leave_one_out(
    records: Sequence[CorpusRecord], key: LeaveOutKey, value: str, holdout: np.ndarray
) -> Split:
    """Train without ``key == value``; test on it (see :func:`leave_out`)."""
    values = np.array([getattr(r, key) for r in records])
    core = values == value
    if not core.any():
        raise ValueError(f"no record has {key} == {value!r}")
    return leave_out(records, core, f"{key}={value}", holdout)


def leave_out(
    records: Sequence[CorpusRecord],
    core: np.ndarray,
    name: str,
    holdout: np.ndarray,
    columns: LeaveOutColumns | None = None,
) -> Split:
    """Train without the records of the mask ``core``; test on them.

    - test: every ``core`` record, plus the human texts grouped with them (their pairs). When that
      leaves a class missing (an LLM-only generator or source, or a human-only source), the hold-out
      records of the missing class and the same data types are added, so that AUROC is defined.
    - train: records outside ``holdout``, minus every group that has a record in test, minus every
      ``core`` record (other-generator twins of a held-out text are dropped too).

    ``holdout`` (indices, e.g. from :func:`holdout_split`) is never trained on. ``columns``: the
    records' :class:`LeaveOutColumns`, when the caller makes many folds of them.
    """
    n = len(records)
    if columns is None:
        columns = LeaveOutColumns.of(records)
    labels, dtypes, groups = columns.labels, columns.data_types, columns.groups
    in_holdout = np.zeros(n, dtype=bool)
    in_holdout[holdout] = True

    touched = np.isin(groups, groups[core])
    test = core | (touched & (labels == "human"))
    missing = {"human", "llm"} - set(labels[test])
    if missing:
        test |= in_holdout & np.isin(labels, list(missing)) & np.isin(dtypes, dtypes[core]) & ~core
    train = ~in_holdout & ~np.isin(groups, groups[test]) & ~core & ~touched
    return Split(name=name, train=np.flatnonzero(train), test=np.flatnonzero(test))


def leave_one_out_splits(
    records: Sequence[CorpusRecord], key: LeaveOutKey, holdout: np.ndarray
) -> list[Split]:
    """One :func:`leave_one_out` split per value of ``key`` (LLM generators only for ``generator``)."""
    columns = LeaveOutColumns.of(records)
    keys = np.array([getattr(r, key) for r in records])
    values = sorted(set((keys if key != "generator" else keys[columns.labels == "llm"]).tolist()))
    return [leave_out(records, keys == v, f"{key}={v}", holdout, columns) for v in values]


@dataclass(frozen=True)
class TrainSplits:
    """Indices of the three grouped splits every trained bundle uses (see :func:`make_splits`)."""

    train: np.ndarray
    calibration: np.ndarray
    holdout: np.ndarray

    def spec(self, seed: int, holdout_fraction: float, calibration_fraction: float) -> SplitSpec:
        """The manifest's record of these splits (with the corpus fingerprint, enough to rebuild them)."""
        return SplitSpec(
            seed=seed,
            holdout_fraction=holdout_fraction,
            calibration_fraction=calibration_fraction,
            n_train=len(self.train),
            n_calibration=len(self.calibration),
            n_holdout=len(self.holdout),
        )


def make_splits(
    records: Sequence[CorpusRecord], seed: int, holdout_fraction: float, calibration_fraction: float
) -> TrainSplits:
    """Train, calibration and hold-out, grouped by pair and stratified; the same records and seed give
    the same splits::

        corpus ─┬─ holdout      (holdout_fraction)      never seen; the manifest's metrics come from here
                └─ rest ─┬─ calibration (calibration_fraction of the corpus)  Platt scaling, thresholds
                         └─ train                                             the model
    """
    rest, holdout = holdout_split(records, holdout_fraction, seed)
    rest_records = [records[i] for i in rest]
    train, calibration = holdout_split(rest_records, calibration_fraction / (1 - holdout_fraction), seed + 1)
    return TrainSplits(train=rest[train], calibration=rest[calibration], holdout=holdout)
