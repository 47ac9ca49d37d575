"""`humanlike eval` as a user runs it: the JSON report, the terminal summary, the HTML page, --compare."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from humanlike.training.config import SplitConfig
from humanlike.training.evaluation.crossval import crossval_report
from humanlike.training.evaluation.evaluate import COMPARE_SCHEMA, SCHEMA, SCHEMA_VERSION
from humanlike.training.evaluation.metrics import BREAKDOWNS
from humanlike.training.evaluation.robustness import BY_NAME
from tests.test_cli import humanlike

from .conftest import SMALL_CONFIG, train_small_bundle

FAST = ("--bootstrap", "30", "--robustness-texts", "40", "--no-progress")


@pytest.fixture(scope="module")
def crossval_file(small_corpus_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    report = crossval_report(
        [str(small_corpus_file)], keys=("generator",), only=["gpt2-xl"], config=SMALL_CONFIG, progress=False
    )
    path = tmp_path_factory.mktemp("cv") / "cv.json"
    path.write_text(json.dumps(report), encoding="utf-8")
    return path


def images(page: str) -> int:
    return len(re.findall(r'src="data:image/png;base64,[A-Za-z0-9+/=]{200,}"', page))


def test_report_has_every_section(
    bundle: Path, small_corpus_file: Path, crossval_file: Path, tmp_path: Path
) -> None:
    out = tmp_path / "report"
    result = humanlike(
        "eval", str(bundle), "--corpus", str(small_corpus_file), "--report", str(out),
        "--crossval", str(crossval_file), *FAST,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = json.loads((out / "report.json").read_text())
    assert (report["schema"], report["schema_version"]) == (SCHEMA, SCHEMA_VERSION)
    assert report["scope"]["split"] == "holdout"

    # every breakdown, with intervals around the estimate where both classes are present
    for key in BREAKDOWNS:
        assert report[key], key
    m = report["all"]
    assert m["ci"]["auroc"][0] <= m["auroc"] <= m["ci"]["auroc"][1]
    assert {"ece", "brier", "f1", "at_thresholds"} <= set(m) and "f1" in m["at_thresholds"]["0.01"]
    one_class = [s for s in report["source"].values() if s["n_human"] == 0 or s["n_llm"] == 0]
    assert one_class and all(s["auroc"] is None and s["ci"] is None for s in one_class)
    assert sum(b["n"] for b in report["reliability"]) == report["scope"]["n_scored"]
    assert set(report["curves"]["roc"]) >= {"all"} and "edges" in report["curves"]["histogram"]

    rob = report["robustness"]
    assert set(rob["perturbations"]) == set(BY_NAME)
    assert rob["n_llm"] <= 40 and rob["n_human"] <= 40
    assert all(p["example"] for p in rob["perturbations"].values())  # the default keeps examples

    judged = report["profile"]["judgements"]["task_labels"]
    assert judged["n_paired_items"] > 0 and 0.0 <= judged["disagreement_rate"] <= 1.0
    assert report["generalization"]["folds"][0]["held_out"] == "gpt2-xl"
    share = report["share"]  # the corpus-level estimate beside the truth on the same texts
    assert share["method"] == "hdy" and share["data_types"] == ["free_form"]
    overall = share["all"]
    assert overall["ci"][0] <= overall["share"] <= overall["ci"][1] and 0 < overall["true_share"] < 1
    free = report["data_type"]["free_form"]
    assert overall["n"] == free["n_human"] + free["n_llm"]
    assert overall["true_share"] == pytest.approx(free["n_llm"] / overall["n"])

    page = (out / "report.html").read_text()
    # ROC, histograms, reliability, generalization, robustness, and one forest plot per breakdown
    assert images(page) == 5 + len(BREAKDOWNS)
    for heading in (
        "Generalization",
        "ROC curves",
        "Calibration",
        "Robustness",
        "The corpus, human vs LLM",
        "Share of LLM text: estimated vs true",
    ):
        assert heading in page
    assert "in-dist. AUROC (this bundle)" in page and "generator=gpt2-xl" in page

    for text in (b"AUROC", b"robustness", b"truncate-16", b"generalization", b"corpus profile", b"LLM share"):
        assert text in result.stdout, text

    # the page is drawn from the JSON alone: re-rendering the saved report gives the same tables
    again = tmp_path / "again"
    rerun = humanlike("eval", "--from-json", str(out / "report.json"), "--report", str(again))
    assert rerun.returncode == 0, rerun.stderr
    strip = re.compile(r'src="data:image/png;base64,[^"]*"')
    assert strip.sub("", (again / "report.html").read_text()) == strip.sub("", page)


def test_no_examples_keeps_corpus_text_out(bundle: Path, small_corpus_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    result = humanlike(
        "eval", str(bundle), "--corpus", str(small_corpus_file), "--json", str(out), "--no-examples",
        "--perturbations", "homoglyphs", "truncate-16", "--no-profile", *FAST,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = json.loads(out.read_text())
    assert list(report["robustness"]["perturbations"]) == ["homoglyphs", "truncate-16"]
    assert all(p["example"] is None for p in report["robustness"]["perturbations"].values())
    assert report["profile"] is None and report["generalization"] is None


def test_compare_two_bundles_on_the_same_texts(
    bundle: Path, transformer_bundles: Path, small_corpus_file: Path, tmp_path: Path
) -> None:
    out = tmp_path / "compare"
    a, b = str(bundle), str(transformer_bundles / "int8")
    result = humanlike(
        "eval", "--compare", a, b, "--corpus", str(small_corpus_file), "--report", str(out),
        "--perturbations", "case-swap", *FAST,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = json.loads((out / "report.json").read_text())
    assert report["schema"] == COMPARE_SCHEMA and report["names"] == [a, b]
    ra, rb = report["reports"][a], report["reports"][b]
    # both on the same texts: same counts everywhere, and the deltas are their AUROC differences
    assert ra["scope"]["n_scored"] == rb["scope"]["n_scored"] == report["n_texts"]
    for name, d in report["auroc_delta"]["data_type"].items():
        assert (ra["data_type"][name]["n_human"], ra["data_type"][name]["n_llm"]) == (
            rb["data_type"][name]["n_human"],
            rb["data_type"][name]["n_llm"],
        )
        if d is not None:
            assert d["delta"] == pytest.approx(
                ra["data_type"][name]["auroc"] - rb["data_type"][name]["auroc"]
            )
    overall = report["auroc_delta"]["all"]
    assert overall["ci"][0] <= overall["delta"] <= overall["ci"][1]
    # the same perturbed texts for both: the LLM texts sampled are the same ones
    assert ra["robustness"]["n_llm"] == rb["robustness"]["n_llm"]
    page = (out / "report.html").read_text()
    assert "AUROC by data type" in page and "Overall AUROC" in page and images(page) == 1
    assert b"A-B" in result.stdout


def test_compare_refuses_bundles_without_a_common_holdout(
    bundle: Path, small_corpus_file: Path, tmp_path: Path
) -> None:
    other = tmp_path / "other"
    # another grouped sample of the same file, so another hold-out (trained here: the CLI's train has its
    # own tests)
    train_small_bundle(small_corpus_file, other, splits=SplitConfig(sample_size=600))
    result = humanlike(
        "eval", "--compare", str(bundle), str(other), "--corpus", str(small_corpus_file), *FAST
    )
    assert result.returncode == 1
    assert b"no hold-out is unseen by both" in result.stderr
    assert humanlike("eval", "--corpus", str(small_corpus_file)).returncode == 1  # nothing to evaluate
