"""Generalization: source-cue normalisation, balanced samples, the leave-one-out protocol, and
thresholds chosen on human texts from sources the model never saw."""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from humanlike.detector import Detector
from humanlike.detector.bundle import read_bundle
from humanlike.detector.normalize import distort, normalize_text
from humanlike.detector.surprisal import PROFILE_FEATURES, SurprisalTable, surprisal_profiles
from humanlike.training.build import BuildData, out_of_source_scores, source_folds, train_bundle
from humanlike.training.config import ProtocolConfig, SamplingConfig, SplitConfig
from humanlike.training.data.balance import Balance, balanced_indices
from humanlike.training.data.schema import CorpusRecord
from humanlike.training.data.splits import make_splits
from humanlike.training.evaluation.generalization import (
    CANDIDATES,
    Candidate,
    is_edit,
    is_newest,
    protocol_folds,
    run_protocol,
    stack_scores,
)
from humanlike.training.evaluation.leave_out import FoldScores
from humanlike.training.models.ngram import NgramDetector, frequent_words

from .conftest import SMALL_CONFIG


def test_normalisation_removes_source_cues_and_keeps_the_words() -> None:
    text = "Sure, here is a short story about a fox:\n\n\u201cRun,\u201d she said \u2014 quickly\u2026"
    text += " [Your Name]"
    assert normalize_text(text) == '"Run," she said - quickly...'
    assert normalize_text("Certainly! The answer is 4.") == "The answer is 4."
    assert normalize_text("A  line\n\nand\tanother") == "A line and another"
    assert normalize_text("Sure!") == "Sure!"  # nothing but an opener: kept, a valid text stays valid
    assert normalize_text("Surely not.") == "Surely not."  # a word that starts like an opener is not one
    assert normalize_text(text, "none") == text


def test_distortion_masks_topic_words_and_keeps_the_frequent_ones() -> None:
    kept = frozenset({"the", "of", "and"})
    assert distort("The tapestry of 2024, and ÉCOLE!", kept) == "The ******** of ####, and *****!"
    assert distort("\n\tthe  OF\n", kept) == "\n\tthe  OF\n"  # layout and case of kept words stay
    assert frequent_words(["a b a", "c a b"], 2) == {"a", "b"}


def test_balanced_sample_caps_sources_and_matches_lengths(corpus: list[CorpusRecord]) -> None:
    idx = np.arange(len(corpus))
    picked = balanced_indices(corpus, idx, Balance(cap_per_source_label=300), seed=0)
    counts = Counter((corpus[i].source, corpus[i].label) for i in picked)
    assert max(counts.values()) <= 300
    assert {s for s, _ in counts} == {r.source for r in corpus}  # one-sided sources stay in
    # within a two-label source, the length distributions are matched bin by bin
    lorenz = [i for i in picked if corpus[i].source == "lorenz"]
    med = {
        label: np.median([len(corpus[i].text) for i in lorenz if corpus[i].label == label])
        for label in ("human", "llm")
    }
    assert abs(np.log2(med["human"] / med["llm"])) < 0.5
    # a generator with most of a source's texts does not take most of its cap
    biscope_llm = Counter(
        corpus[i].generator for i in picked if corpus[i].source == "biscope" and corpus[i].label == "llm"
    )
    assert max(biscope_llm.values()) <= 300 // len(biscope_llm) + 1


def test_protocol_folds_leave_out_what_they_name(corpus: list[CorpusRecord]) -> None:
    folds = {f.name: f for f in protocol_folds(corpus)}
    two_label = {r.source for r in corpus if r.label == "human"} & {
        r.source for r in corpus if r.label == "llm"
    }
    assert set(folds) == {f"source={s}" for s in two_label} | {"newest-generators", "edits"}
    for name, fold in folds.items():
        train_groups = {corpus[i].group for i in fold.train}
        assert not train_groups & {corpus[i].group for i in fold.test}, name
        if name.startswith("source="):
            assert name.removeprefix("source=") not in {corpus[i].source for i in fold.train}
    newest = folds["newest-generators"]
    assert not any(is_newest(corpus[i].generator) for i in newest.train)
    assert {corpus[i].label for i in newest.test} == {"human", "llm"}
    edits = folds["edits"]
    assert not any(corpus[i].label == "llm" and is_edit(corpus[i].variant) for i in edits.train)
    edited = [i for i in edits.test if corpus[i].label == "llm"]
    assert edited and all(is_edit(corpus[i].variant) for i in edited)


def test_protocol_runs_resumes_and_summarises(small_corpus_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "gen.json"
    folds = ["source=fastdetect_main", "source=detectrl"]
    args: dict[str, Any] = {
        "candidates": ["ngram", "ngram-balanced-normalized"],
        "budget": ProtocolConfig(max_train=400, max_test=200),
        "only": folds,
    }
    report = run_protocol([str(small_corpus_file)], out, progress=False, log=lambda _: None, **args)
    assert len(report["folds"]) == 4
    for row in report["folds"]:
        assert 0 <= row["auroc"] <= 1 and 0 <= row["own_fpr"] <= 1 and row["n_train"] <= 400
        assert 0 <= row["own_tpr"] <= 1
    summary = report["summary"]["ngram"]["free_form_sources"]
    assert summary["n_folds"] == 2 and summary["mean_transferred_fpr"] is not None
    seen: list[str] = []
    again = run_protocol([str(small_corpus_file)], out, progress=False, log=seen.append, **args)
    assert seen == [] and again["folds"] == report["folds"]  # every fit was already on record
    assert json.loads(out.read_text())["summary"] == again["summary"]


def test_source_folds_are_disjoint_and_cover_every_source(small_corpus: list[CorpusRecord]) -> None:
    groups = source_folds(small_corpus, 3)
    flat = [s for g in groups for s in g]
    assert len(groups) == 3 and len(flat) == len(set(flat)) == len({r.source for r in small_corpus})


def test_out_of_source_thresholds_report_every_source(
    small_corpus_file: Path, small_corpus: list[CorpusRecord], tmp_path: Path
) -> None:
    out = tmp_path / "bundle"
    sampling = SamplingConfig(cap_per_source_label=200, length_match=True, threshold_source_folds=3)
    manifest = train_bundle(
        NgramDetector(SMALL_CONFIG),
        [str(small_corpus_file)],
        out,
        splits=SplitConfig(),
        sampling=sampling,
        progress=False,
    )
    one = manifest.thresholds[0]
    calibration = make_splits(small_corpus, 0, 0.1, 0.1).calibration
    humans = [small_corpus[i] for i in calibration if small_corpus[i].label == "human"]
    assert one.fitted_on.startswith("out of source")
    assert one.n_human == len(humans)  # every calibration human, each scored once, by a refit blind to it
    assert set(one.fpr_by_source) == {r.source for r in humans}
    assert one.worst_source_fpr == max(one.fpr_by_source.values())
    assert one.measured_fpr <= one.target_fpr
    assert manifest.training["sampling"]["threshold_source_folds"] == 3
    assert manifest.training["n_fitted_on"] < manifest.split.n_train
    _, read = read_bundle(out)
    assert read.thresholds == manifest.thresholds
    assert Detector(out).score_texts(["A text to score."])[0].flagged.keys() == {"0.01", "0.05"}


def test_refits_side_by_side_score_as_one_after_another(small_corpus_file: Path) -> None:
    """The out-of-source refits in two spawned processes give exactly the logits of the refits run in
    this process, in the same order: the thresholds do not depend on how the work was spread."""
    data = BuildData.from_corpus([str(small_corpus_file)], SplitConfig())
    sampling = SamplingConfig(max_fit_texts=400, threshold_source_folds=3)
    args: dict[str, Any] = {"progress": False, "threads": 1}
    kind = NgramDetector(SMALL_CONFIG)
    alone = out_of_source_scores(kind, data, data.splits.train, sampling, 0, processes=1, **args)
    spread = out_of_source_scores(kind, data, data.splits.train, sampling, 0, processes=2, **args)
    assert len(alone.logits) > 0 and np.unique(alone.sources).size >= 2
    np.testing.assert_array_equal(spread.sources, alone.sources)
    np.testing.assert_allclose(spread.logits, alone.logits, rtol=0, atol=1e-6)


def test_reports_merge_and_a_stack_combines_stored_logits(
    small_corpus_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows fitted elsewhere (another report, another machine) join a report, and a stack candidate is
    computed from its members' stored logits with no fit, only from training-side statistics."""
    stack = Candidate(balance=None, stack=("ngram", "ngram-c1"))
    monkeypatch.setitem(CANDIDATES, "stack-test", stack)
    paths = [str(small_corpus_file)]
    budget = ProtocolConfig(max_train=400, max_test=200)
    args: dict[str, Any] = {"budget": budget, "only": ["source=detectrl"]}
    quiet: dict[str, Any] = {"progress": False, "log": lambda _: None}
    elsewhere = run_protocol(paths, tmp_path / "elsewhere.json", candidates=["ngram-c1"], **args, **quiet)
    log: list[str] = []
    report = run_protocol(
        paths,
        tmp_path / "main.json",
        candidates=["ngram", "stack-test"],
        merge=[tmp_path / "elsewhere.json"],
        progress=False,
        log=log.append,
        **args,
    )
    assert len(log) == 2  # the n-gram and the stack: the merged row was not fitted again
    rows = {r["candidate"]: r for r in report["folds"]}
    assert rows["ngram-c1"] == elsewhere["folds"][0]
    assert set(report["summary"]) == {"ngram", "stack-test", "ngram-c1"}
    scores = np.load(tmp_path / "main.scores.npz")
    members = [
        FoldScores(scores[f"source=detectrl|{m}|test"], scores[f"source=detectrl|{m}|held"], 0)
        for m in ("ngram", "ngram-c1")
    ]
    np.testing.assert_allclose(
        scores["source=detectrl|stack-test|test"], stack_scores(members).test, rtol=1e-5
    )
    combined = stack_scores(members)
    # each member is standardised on its held-apart humans, so the stack's are centred
    assert abs(float(combined.held_apart_humans.mean())) < 1e-6
    # a stack of one model is that model, rescaled: the same ranking
    one = stack_scores(members[:1])
    assert np.array_equal(np.argsort(one.test, kind="stable"), np.argsort(members[0].test, kind="stable"))
    # --redo fits a candidate again; the other rows stay
    again = run_protocol(
        paths,
        tmp_path / "main.json",
        candidates=["ngram"],
        redo=["ngram"],
        progress=False,
        log=log.append,
        **args,
    )
    assert len(log) == 3 and {r["candidate"] for r in again["folds"]} == {"ngram", "stack-test", "ngram-c1"}
    # rows whose logits are gone (the .scores.npz is a build output) are fitted again, not taken bare
    (tmp_path / "elsewhere.scores.npz").unlink()
    log.clear()
    run_protocol(
        paths, tmp_path / "elsewhere.json", candidates=["ngram-c1"], progress=False, log=log.append, **args
    )
    assert len(log) == 1


@pytest.mark.slow
def test_encoder_candidates_fit_on_the_fold(
    small_corpus_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fine-tuned and the frozen encoder run through the same protocol (a tiny budget: the code
    path, not the number; the recorded rows come from a GPU run, research/device_generalization.sh)."""
    # The recipe's validation set is 1,000 texts and its windows 128 tokens; here 32 and 64 suffice.
    recorded = CANDIDATES["transformer"]
    tiny = dataclasses.replace(recorded.config, validation_texts=32, max_tokens=64, window_overlap=16)
    monkeypatch.setitem(CANDIDATES, "transformer", dataclasses.replace(recorded, config=tiny))
    report = run_protocol(
        [str(small_corpus_file)],
        tmp_path / "t.json",
        candidates=["transformer", "encoder-lr"],
        budget=ProtocolConfig(max_train=64, max_test=64),
        only=["source=detectrl"],
        progress=False,
        log=lambda _: None,
    )
    assert [row["candidate"] for row in report["folds"]] == ["transformer", "encoder-lr"]
    for row in report["folds"]:
        assert row["n_train"] <= 64 and 0 <= row["auroc"] <= 1 and 0 <= row["own_fpr"] <= 1


def test_surprisal_profile_reads_word_frequencies_not_words() -> None:
    """The profile of a text depends on how frequent its words are, not on which words they are."""
    table = SurprisalTable(source="test", bits={"the": 4.0, "cat": 14.0, "dog": 14.0, "sat": 15.0, "on": 6.0})
    cat, dog = surprisal_profiles(["The cat sat on the mat.", "The dog sat on the mat."], table)
    assert np.array_equal(cat, dog)  # same frequencies, same shape: same profile
    (plain,) = surprisal_profiles(["the the on the on"], table)
    (rare,) = surprisal_profiles(["zyzzyva quixotry the on"], table)
    assert plain.shape == (PROFILE_FEATURES,) and plain[0] < rare[0]  # mean bits: unknown words are rare
    assert rare[8] == pytest.approx(0.5)  # share of words the table lacks
    assert np.isfinite(surprisal_profiles(["", "...", "one"], table)).all()


def test_the_surprisal_candidate_fits_on_the_fold(small_corpus_file: Path, tmp_path: Path) -> None:
    """The trees over surprisal profiles run through the protocol and join a stack."""
    report = run_protocol(
        [str(small_corpus_file)],
        tmp_path / "t.json",
        candidates=["ngram-c1", "surprisal", "stack-ngram-c1-surprisal"],
        budget=ProtocolConfig(max_train=400, max_test=200),
        only=["source=detectrl"],
        progress=False,
        log=lambda _: None,
    )
    rows = {row["candidate"]: row for row in report["folds"]}
    assert set(rows) == {"ngram-c1", "surprisal", "stack-ngram-c1-surprisal"}
    assert 0.5 < rows["surprisal"]["auroc"] <= 1  # a signal, on a source it never saw
