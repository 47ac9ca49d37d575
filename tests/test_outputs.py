"""No command destroys what it did not make: every writer of a directory refuses a foreign one before
its work starts, and replaces its own previous output whole (issue: ``--out ~/models``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from humanlike.cli import main
from humanlike.detector.atomic import OUTPUT_MARKER

MISSING = "/nonexistent/humanlike-test"
"""A corpus, bundle or checkpoint that does not exist: a refusal that names the output path, not
this one, came before anything was read."""


def foreign_directory(path: Path) -> Path:
    path.mkdir(parents=True)
    (path / "notes.txt").write_text("not humanlike's")
    return path


WRITERS = {
    "train": lambda d: ["train", "--corpus", MISSING, "--out", str(d), "--no-progress"],
    "train-transformer": lambda d: ["train", "--model", "transformer", "--corpus", MISSING, "--out", str(d)],
    "train-hybrid": lambda d: ["train", "--model", "hybrid", "--corpus", MISSING, "--out", str(d)],
    "zero-shot-bundle": lambda d: ["zero-shot-bundle", "--out", str(d), "--corpus", MISSING],
    "export": lambda d: ["export", MISSING, "--corpus", MISSING, "--out", str(d.parent), "--no-progress"],
    "eval": lambda d: ["eval", MISSING, "--corpus", MISSING, "--report", str(d), "--no-progress"],
    "downstream": lambda d: ["downstream", "--corpus", MISSING, "--out", str(d)],
}


@pytest.mark.parametrize("command", sorted(WRITERS))
def test_a_foreign_directory_survives_and_the_refusal_comes_first(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # export writes OUT/fp32 and OUT/int8: the foreign directory is where its fp32 bundle would go
    target = foreign_directory(tmp_path / "out" / ("fp32" if command == "export" else "models"))
    assert main(WRITERS[command](target)) == 2
    err = capsys.readouterr().err
    assert str(target) in err and "notes.txt" in err and MISSING not in err
    assert (target / "notes.txt").read_text() == "not humanlike's"
    assert sorted(p.name for p in target.parent.iterdir()) == [target.name]  # nothing staged beside it


def test_the_current_directory_is_refused_before_training(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--corpus", MISSING, "--out", ".", "--no-progress"]) == 2
    assert "current directory" in capsys.readouterr().err


def test_a_file_where_a_directory_is_wanted_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "model").write_text("a file")
    assert main(["train", "--corpus", MISSING, "--out", str(tmp_path / "model"), "--no-progress"]) == 2
    assert "is a file" in capsys.readouterr().err
    assert (tmp_path / "model").read_text() == "a file"


def test_eval_keeps_its_json_inside_its_report_and_replaces_its_own_report(
    bundle: Path, small_corpus_file: Path, tmp_path: Path
) -> None:
    report_dir = tmp_path / "report"
    metrics = report_dir / "metrics.json"
    # the output paths are the claim, not the report's figures: no intervals, perturbations or profile
    args = ["eval", str(bundle), "--corpus", str(small_corpus_file), "--no-progress", "--bootstrap", "0"]
    args += ["--robustness-texts", "0", "--no-profile"]
    assert main([*args, "--json", str(metrics), "--report", str(report_dir), "--format", "json"]) == 0
    assert json.loads(metrics.read_text()) == json.loads((report_dir / "report.json").read_text())
    assert (report_dir / "report.html").is_file() and (report_dir / OUTPUT_MARKER).is_file()

    # the same kind of output again, from the saved report: replaced whole (metrics.json was the old one's)
    saved = tmp_path / "saved.json"
    saved.write_text(metrics.read_text())
    assert main(["eval", "--from-json", str(saved), "--report", str(report_dir), "--format", "json"]) == 0
    assert sorted(p.name for p in report_dir.iterdir()) == sorted(
        [OUTPUT_MARKER, "report.html", "report.json"]
    )


def test_curriculum_refuses_a_foreign_work_directory(
    bundle: Path, small_corpus_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    work = foreign_directory(tmp_path / "work")
    out = tmp_path / "curriculum.jsonl"
    args = ["curriculum", str(bundle), str(small_corpus_file), "--out", str(out), "--work-dir", str(work)]
    assert main([*args, "--no-progress"]) == 2
    assert "--work-dir" in capsys.readouterr().err
    assert sorted(p.name for p in work.iterdir()) == ["notes.txt"] and not out.exists()


def test_train_replaces_its_own_bundle_and_nothing_else(
    small_corpus_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "bundle"
    args = ["train", "--corpus", str(small_corpus_file), "--out", str(out), "--sample", "400"]
    args += ["--threshold-source-folds", "0", "--no-progress"]
    for _ in range(2):  # the second run finds its own bundle there and replaces it
        assert main(args) == 0
        assert (out / OUTPUT_MARKER).is_file() and (out / "bundle.json").is_file()
    (out / "notes.txt").write_text("mine now")
    (out / OUTPUT_MARKER).unlink()  # no longer marked, and no longer a whole bundle: not humanlike's
    (out / "bundle.json").unlink()
    assert main(args) == 2
    assert "not a humanlike output" in capsys.readouterr().err
    assert (out / "notes.txt").read_text() == "mine now"
