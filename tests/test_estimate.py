"""Corpus-level LLM shares: the estimators on synthetic scores, and `humanlike estimate` end to end."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from humanlike.detector.bundle import read_bundle
from humanlike.estimate import (
    DEFAULT_METHOD,
    DEFAULT_METHOD_WITH_REFERENCE,
    estimate_share,
    estimate_shares,
    of_data_types,
    quantile_reference,
)
from tests.test_layers import blocked_cli


def synthetic_reference(rng: np.random.Generator, shifts: list[float]) -> tuple[object, list[float]]:
    """Human logits ~ N(shift, 1), LLM ~ N(shift + 2.5, 1), one source per shift, 400 texts a side."""
    logits, labels, sources = [], [], []
    for k, shift in enumerate(shifts):
        for label, centre in ((0, shift), (1, shift + 2.5)):
            logits.append(rng.normal(centre, 1.0, 400))
            labels += [label] * 400
            sources += [f"s{k}"] * 400
    x = np.concatenate(logits)
    reference = quantile_reference(x, np.array(labels), np.array(sources), np.array(["free_form"] * len(x)))
    return reference, shifts


def mixture(rng: np.random.Generator, share: float, n: int, shift: float = 0.0) -> np.ndarray:
    n_llm = round(share * n)
    return np.concatenate([rng.normal(shift, 1.0, n - n_llm), rng.normal(shift + 2.5, 1.0, n_llm)])


def test_the_reference_keeps_each_source_and_label_as_quantiles() -> None:
    rng = np.random.default_rng(0)
    reference, _ = synthetic_reference(rng, [0.0, 0.5])
    assert set(reference.human) == {"s0/free_form", "s1/free_form"} == set(reference.llm)
    q = reference.llm["s1/free_form"]
    assert q.n == 400 and q.data_type == "free_form" and len(q.quantiles) == 101
    assert q.quantiles == sorted(q.quantiles) and 2.5 < np.median(q.quantiles) < 3.5
    assert not of_data_types(reference, ["translation"]).human


@pytest.mark.parametrize("method", ["acc", "hdy", "emq"])
def test_a_known_share_is_recovered_within_its_interval(method: str) -> None:
    rng = np.random.default_rng(1)
    reference, _ = synthetic_reference(rng, [-0.1, 0.0, 0.1])
    targets = {str(s): mixture(rng, s, 3000) for s in (0.0, 0.1, 0.5)}
    estimates = estimate_shares(targets, reference, method=method, n_bootstrap=60)
    for name, e in estimates.items():
        truth = float(name)
        assert abs(e.share - truth) < 0.05, (method, name, e)
        assert e.ci[0] - 0.01 <= truth <= e.ci[1] + 0.01, (method, name, e)
        assert e.n == 3000 and e.method == method


def test_sources_that_disagree_widen_the_interval() -> None:
    rng = np.random.default_rng(2)
    agree, _ = synthetic_reference(rng, [0.0, 0.0, 0.0, 0.0])
    disagree, _ = synthetic_reference(rng, [-0.8, -0.3, 0.3, 0.8])
    target = mixture(rng, 0.25, 2000)
    narrow = estimate_share(target, agree, n_bootstrap=80)
    wide = estimate_share(target, disagree, n_bootstrap=80)
    assert wide.ci[1] - wide.ci[0] > 1.5 * (narrow.ci[1] - narrow.ci[0])


def test_an_in_domain_human_reference_removes_the_human_shift() -> None:
    """A corpus whose humans sit 1 logit above every reference source reads as part LLM, unless its
    own human texts are given."""
    rng = np.random.default_rng(3)
    reference, _ = synthetic_reference(rng, [-0.2, 0.0, 0.2])
    target = mixture(rng, 0.1, 3000, shift=1.0)
    humans = rng.normal(1.0, 1.0, 500)
    blind = estimate_share(target, reference, method="acc", n_bootstrap=0)
    adapted = estimate_share(target, reference, method="acc", reference_human=humans, n_bootstrap=0)
    assert blind.share > 0.2
    assert abs(adapted.share - 0.1) < 0.06


def test_bbe_with_an_in_domain_reference_needs_no_matching_llm_side() -> None:
    """A new source whose human and LLM texts both sit 1 logit above the reference's: a method that
    matches both sides reads the shifted LLM side wrong; bbe reads only the given human side."""
    rng = np.random.default_rng(4)
    reference, _ = synthetic_reference(rng, [-0.2, 0.0, 0.2])
    humans = rng.normal(1.0, 1.0, 500)
    for truth in (0.0, 0.25, 0.5):
        target = mixture(rng, truth, 3000, shift=1.0)
        both_sides = estimate_share(target, reference, method="dys", reference_human=humans, n_bootstrap=0)
        human_side = estimate_share(target, reference, method="bbe", reference_human=humans, n_bootstrap=0)
        assert abs(human_side.share - truth) < 0.06, (truth, human_side)
        if truth:
            assert abs(both_sides.share - truth) > abs(human_side.share - truth), (truth, both_sides)


def test_the_default_method_depends_on_whether_a_human_reference_is_given() -> None:
    rng = np.random.default_rng(5)
    reference, _ = synthetic_reference(rng, [0.0, 0.1])
    target = mixture(rng, 0.2, 500)
    humans = rng.normal(0.0, 1.0, 200)
    assert estimate_share(target, reference, n_bootstrap=0).method == DEFAULT_METHOD
    given = estimate_share(target, reference, reference_human=humans, n_bootstrap=0)
    assert given.method == DEFAULT_METHOD_WITH_REFERENCE != DEFAULT_METHOD


def test_a_reference_without_a_side_is_refused() -> None:
    rng = np.random.default_rng(4)
    reference, _ = synthetic_reference(rng, [0.0])
    with pytest.raises(ValueError, match="no LLM texts"):
        estimate_share(
            mixture(rng, 0.5, 100), reference, data_types=["translation"], reference_human=np.ones(5)
        )
    with pytest.raises(ValueError, match="empty"):
        estimate_share(mixture(rng, 0.5, 100), reference, reference_human=np.zeros(0))


def humanlike(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "humanlike", *args], capture_output=True, timeout=600)


def test_the_bundle_carries_its_share_reference(bundle: Path) -> None:
    _, manifest = read_bundle(bundle)
    reference = manifest.share_reference
    assert reference is not None and reference.human and reference.llm
    assert reference.fitted_on.startswith("in distribution")  # the session bundle has no source refits


def test_estimate_accounts_for_every_line_and_slices(
    bundle: Path, small_corpus_file: Path, tmp_path: Path
) -> None:
    lines = small_corpus_file.read_text().splitlines()[:300]
    corpus = tmp_path / "corpus.jsonl"
    broken = [b"{not json\n", b'{"text": ""}\n', b"\xff\xfe broken\n"]
    corpus.write_bytes("".join(line + "\n" for line in lines).encode() + b"".join(broken))
    out, errors = tmp_path / "share.json", tmp_path / "errors.jsonl"
    args = [str(bundle), str(corpus), "--by", "source", "label", "--json", str(out), "--errors", str(errors)]
    result = humanlike("estimate", *args, "--bootstrap", "40")
    assert result.returncode == 1, result.stderr  # some lines could not be scored: said, and counted
    report = json.loads(out.read_text())
    assert report["lines"] == {"n": 303, "scored": 300, "unscorable": 3}
    assert [json.loads(e)["line"] for e in errors.read_text().splitlines()] == [301, 302, 303]
    assert 0.0 <= report["ci"][0] <= report["share"] <= report["ci"][1] <= 1.0 and report["n"] == 300
    by_label = report["by"]["label"]
    assert by_label["human"]["n"] + by_label["llm"]["n"] == 300
    assert by_label["llm"]["share"] > by_label["human"]["share"]  # the label is a slice, never an input
    assert sum(v["n"] for v in report["by"]["source"].values()) == 300
    assert b"LLM share" in result.stdout


def test_estimate_refuses_bad_arguments_before_scoring(bundle: Path, tmp_path: Path) -> None:
    missing = humanlike("estimate", str(bundle), str(tmp_path / "absent.jsonl"))
    assert missing.returncode == 2 and b"is not a file" in missing.stderr
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    nothing = humanlike("estimate", str(bundle), str(empty))
    assert nothing.returncode == 2 and b"no scorable line" in nothing.stderr
    assert humanlike("estimate").returncode == 2


def test_estimate_runs_without_torch_or_the_training_stack(
    bundle: Path, small_corpus_file: Path, tmp_path: Path
) -> None:
    corpus = tmp_path / "c.jsonl"
    corpus.write_text("\n".join(small_corpus_file.read_text().splitlines()[:50]) + "\n")
    blocker = blocked_cli(("torch", "transformers", "humanlike.training", "humanlike.serving"))
    result = subprocess.run(
        [sys.executable, "-c", blocker, "estimate", str(bundle), str(corpus), "--bootstrap", "10"],
        capture_output=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr


def test_the_python_api_scores_and_estimates(bundle: Path, small_corpus: list) -> None:
    from humanlike.detector import Detector
    from humanlike.estimate import estimate_texts

    detector = Detector(bundle)
    humans = [r.text for r in small_corpus if r.label == "human" and r.data_type == "free_form"][:200]
    llm = [r.text for r in small_corpus if r.label == "llm" and r.data_type == "free_form"][:200]
    all_human = estimate_texts(detector, humans[:100], reference_human=humans[100:], n_bootstrap=30)
    all_llm = estimate_texts(detector, llm, reference_human=humans[100:], n_bootstrap=30)
    assert all_human.share < all_llm.share and all_human.n == 100
    assert all_human.ci[0] <= all_human.share <= all_human.ci[1]
