"""Perturbations do what they say, reproducibly, and the robustness report measures change, not noise."""

from __future__ import annotations

import random
import re
from pathlib import Path

import numpy as np
import pytest

from humanlike.detector import Detector
from humanlike.training.data.schema import CorpusRecord
from humanlike.training.evaluation.evaluate import score_texts
from humanlike.training.evaluation.robustness import (
    BY_NAME,
    HOMOGLYPHS,
    PUNCTUATION,
    Perturbation,
    packaged_neighbours,
    robustness_report,
)

TEXT = (
    "The committee reviewed the proposal carefully. However, several members raised important concerns "
    "about the budget! Would the project finish on time? Everyone agreed to meet again next week."
)


def record(text: str = TEXT, id: str = "r1", label: str = "llm") -> CorpusRecord:
    return CorpusRecord.model_validate(
        {"id": id, "text": text, "label": label, "data_type": "free_form", "source": "test"}
    )


def test_each_perturbation_is_reproducible_and_seeded_per_record() -> None:
    for p in BY_NAME.values():
        assert p(record(), seed=0) == p(record(), seed=0), p.name
    assert BY_NAME["homoglyphs"](record(), 0) != BY_NAME["homoglyphs"](record(id="r2"), 0)
    assert BY_NAME["homoglyphs"](record(), 0) != BY_NAME["homoglyphs"](record(), 1)


def test_character_edits_keep_the_text_underneath() -> None:
    glyphs = BY_NAME["homoglyphs"](record(), 0)
    assert glyphs != TEXT and len(glyphs) == len(TEXT)
    back = {v: k for k, v in HOMOGLYPHS.items()}
    assert "".join(back.get(c, c) for c in glyphs) == TEXT

    swapped = BY_NAME["case-swap"](record(), 0)
    assert swapped != TEXT and swapped.lower() == TEXT.lower()

    spaced = BY_NAME["whitespace"](record(), 0)
    assert spaced != TEXT and spaced.split() == TEXT.split()

    punct = BY_NAME["punctuation"](record(), 0)
    strip = str.maketrans("", "", PUNCTUATION)
    assert punct != TEXT and punct.translate(strip).split() == TEXT.translate(strip).split()


def test_sentence_shuffle_and_truncation() -> None:
    shuffled = BY_NAME["sentence-shuffle"](record(), 3)
    split = re.compile(r"(?<=[.!?])\s+")
    assert sorted(split.split(shuffled)) == sorted(split.split(TEXT))
    assert BY_NAME["sentence-shuffle"](record("One sentence only."), 0) == "One sentence only."

    short = BY_NAME["truncate-16"](record(), 0)
    assert TEXT.startswith(short) and len(short.split()) == 16
    assert BY_NAME["truncate-64"](record(), 0) == TEXT  # already shorter


def test_word_swaps_come_from_embedding_neighbours() -> None:
    neighbours = packaged_neighbours()
    quickly = neighbours("quickly")
    assert "rapidly" in quickly
    assert all(not w.startswith("quic") for w in quickly)  # no morphological variants
    assert neighbours("zzzznotaword") == []

    swapped = BY_NAME["word-swap"](record(), 0)
    before, after = TEXT.split(), swapped.split()
    assert len(before) == len(after) and before != after
    for old, new in zip(before, after, strict=True):
        if old != new:
            word = re.sub(r"[^A-Za-z]", "", old).lower()
            assert re.sub(r"[^A-Za-z]", "", new).lower() in neighbours(word), (old, new)


def test_robustness_report_on_a_real_bundle(bundle: Path, small_corpus: list[CorpusRecord]) -> None:
    detector = Detector(bundle)
    records = small_corpus[:300]
    clean = score_texts(detector, [r.text for r in records])

    def score(texts: list[str]) -> np.ndarray:
        return score_texts(detector, texts)

    identity = Perturbation("identity", "no change", "llm", lambda text, rng: text)
    drop_case = Perturbation("lower", "lower-cased", "llm", lambda text, rng: text.lower())
    report = robustness_report(
        records,
        clean,
        score,
        detector.manifest.thresholds,
        perturbations=[identity, drop_case, BY_NAME["truncate-16"]],
        max_per_class=80,
    )
    assert (report["n_human"], report["n_llm"]) == (80, 80)
    same = report["perturbations"]["identity"]
    assert same["n_changed"] == 0 and same["auroc_drop"] == pytest.approx(0.0, abs=1e-12)
    lower = report["perturbations"]["lower"]
    assert lower["n_changed"] > 0 and lower["mean_p_llm"]["human"] == report["clean"]["mean_p_llm"]["human"]
    truncated = report["perturbations"]["truncate-16"]
    assert truncated["applies_to"] == "both" and truncated["n_changed"] > 80  # human texts were cut too
    assert set(truncated["auroc_by_data_type"]) <= {r.data_type for r in records}


def test_perturbations_never_touch_the_record() -> None:
    r = record()
    for p in BY_NAME.values():
        p.apply(r.text, random.Random(0))
    assert r.text == TEXT
