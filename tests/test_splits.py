"""Splits: no group on both sides, deterministic, stratified; leave-one-out holds out what it says."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from humanlike.training.data.schema import CorpusRecord
from humanlike.training.data.splits import holdout_split, leave_one_out, leave_one_out_splits, make_splits
from tests.datacard import batch_counts


def groups(records: list[CorpusRecord], idx: np.ndarray) -> set[str]:
    return {records[i].group for i in idx}


def test_holdout_has_no_group_on_both_sides(corpus: list[CorpusRecord]) -> None:
    rest, held = holdout_split(corpus, 0.1, seed=0)
    assert len(rest) + len(held) == len(corpus)
    assert not set(rest) & set(held)
    assert not groups(corpus, rest) & groups(corpus, held)
    paired = [i for i in held if corpus[i].pair_id is not None]
    assert paired, "the hold-out should contain paired texts, or this test proves nothing"


def test_holdout_is_deterministic_and_seeded(corpus: list[CorpusRecord]) -> None:
    a = holdout_split(corpus, 0.1, seed=3)[1]
    b = holdout_split(corpus, 0.1, seed=3)[1]
    c = holdout_split(corpus, 0.1, seed=4)[1]
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_holdout_is_stratified_by_label_and_data_type(corpus: list[CorpusRecord]) -> None:
    _, held = holdout_split(corpus, 0.1, seed=0)
    total = Counter((r.data_type, r.label) for r in corpus)
    got = Counter((corpus[i].data_type, corpus[i].label) for i in held)
    for key, n in total.items():
        assert got[key] / n == pytest.approx(0.1, abs=0.02), key


def test_train_calibration_holdout_are_disjoint_by_group(corpus: list[CorpusRecord]) -> None:
    s = make_splits(corpus, seed=0, holdout_fraction=0.1, calibration_fraction=0.1)
    parts = [groups(corpus, s.train), groups(corpus, s.calibration), groups(corpus, s.holdout)]
    assert not parts[0] & parts[1] and not parts[0] & parts[2] and not parts[1] & parts[2]
    assert len(s.train) + len(s.calibration) + len(s.holdout) == len(corpus)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("generator", "gpt2-xl"),
        ("generator", "gpt-3.5-turbo-instruct"),
        ("source", "topical_chat"),
        ("source", "detectrl"),
    ],
)
def test_leave_one_out(corpus: list[CorpusRecord], key: str, value: str) -> None:
    _, held = holdout_split(corpus, 0.1, seed=0)
    split = leave_one_out(corpus, key, value, held)  # type: ignore[arg-type]
    train_values = {getattr(corpus[i], key) for i in split.train}
    assert value not in train_values
    assert not groups(corpus, split.train) & groups(corpus, split.test)
    assert not set(split.train) & set(held)
    test_records = [corpus[i] for i in split.test]
    assert {r.label for r in test_records} == {"human", "llm"}
    core = {i for i, r in enumerate(corpus) if getattr(r, key) == value}
    assert core <= set(split.test)


def test_leave_one_generator_out_covers_every_llm_generator(
    corpus_paths: list[str], corpus: list[CorpusRecord]
) -> None:
    _, held = holdout_split(corpus, 0.1, seed=0)
    names = {s.name for s in leave_one_out_splits(corpus, "generator", held)}
    assert names == {f"generator={g}" for g in {r.generator for r in corpus if r.label == "llm"}}
    stated = set().union(*(b.generators for b in batch_counts(Path(corpus_paths[0]) / "DATACARD.md")))
    assert names == {f"generator={g}" for g in stated}
