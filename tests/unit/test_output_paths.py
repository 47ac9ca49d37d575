"""Output directories: humanlike replaces only what it made (detector/atomic.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from humanlike.detector.atomic import (
    OUTPUT_MARKER,
    OutputPathError,
    atomic_directory,
    check_output_directory,
    output_kind,
)


def test_a_new_an_empty_or_an_own_directory_may_be_written(tmp_path: Path) -> None:
    assert check_output_directory(tmp_path / "new" / "deeper", "bundle") == tmp_path / "new" / "deeper"
    (tmp_path / "empty").mkdir()
    check_output_directory(tmp_path / "empty", "bundle")
    with atomic_directory(tmp_path / "mine", "bundle") as staging:
        (staging / "a.txt").write_text("first")
    assert output_kind(tmp_path / "mine") == "bundle"
    check_output_directory(tmp_path / "mine", "bundle")


def test_a_previous_output_of_the_same_kind_is_replaced_whole(tmp_path: Path) -> None:
    target = tmp_path / "report"
    with atomic_directory(target, "eval-report") as staging:
        (staging / "old.txt").write_text("old")
    with atomic_directory(target, "eval-report") as staging:
        (staging / "new.txt").write_text("new")
    assert sorted(p.name for p in target.iterdir()) == sorted([OUTPUT_MARKER, "new.txt"])
    assert json.loads((target / OUTPUT_MARKER).read_text())["kind"] == "eval-report"


def test_a_directory_with_foreign_files_is_refused_before_the_block_runs(tmp_path: Path) -> None:
    target = tmp_path / "models"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    ran = False
    refused = pytest.raises(OutputPathError, match=r"notes\.txt.*choose a new or empty directory")
    with refused, atomic_directory(target, "bundle"):
        ran = True
    assert not ran and (target / "notes.txt").read_text() == "mine"
    assert [p.name for p in tmp_path.iterdir()] == ["models"]  # no staging directory left behind


def test_another_kind_of_output_is_refused(tmp_path: Path) -> None:
    with atomic_directory(tmp_path / "out", "eval-report"):
        pass
    with pytest.raises(OutputPathError, match="holds a humanlike eval-report, not a bundle"):
        check_output_directory(tmp_path / "out", "bundle")


def test_a_bundle_from_before_the_marker_is_still_a_bundle(tmp_path: Path) -> None:
    old = tmp_path / "old-bundle"
    old.mkdir()
    (old / "bundle.json").write_text("{}")
    (old / "SHA256SUMS").write_text("")
    assert output_kind(old) == "bundle"
    check_output_directory(old, "bundle")
    with pytest.raises(OutputPathError):
        check_output_directory(old, "eval-report")


def test_an_eval_report_from_before_the_marker_is_still_a_report(tmp_path: Path) -> None:
    old = tmp_path / "report"
    old.mkdir()
    (old / "report.json").write_text("{}")
    (old / "report.html").write_text("<html></html>")
    check_output_directory(old, "eval-report")
    (old / "notes.txt").write_text("mine")  # no longer only what eval writes
    with pytest.raises(OutputPathError, match=r"notes\.txt"):
        check_output_directory(old, "eval-report")


def test_paths_that_cannot_be_a_directory_of_its_own(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    with pytest.raises(OutputPathError, match="current directory"):
        check_output_directory(".", "bundle")
    with pytest.raises(OutputPathError, match="current directory"):
        check_output_directory("..", "bundle", "--report")
    (work / "a-file").write_text("x")
    with pytest.raises(OutputPathError, match="is a file"):
        check_output_directory("a-file", "bundle")
    with pytest.raises(OutputPathError, match="is a file, so nothing can be made under it"):
        check_output_directory("a-file/sub", "bundle")
    (work / "link").symlink_to(tmp_path)
    with pytest.raises(OutputPathError, match="link"):
        check_output_directory("link", "bundle")


def test_the_flag_is_named_in_the_refusal(tmp_path: Path) -> None:
    (tmp_path / "x").write_text("x")
    with pytest.raises(OutputPathError, match=r"^--work-dir "):
        check_output_directory(tmp_path / "x", "curriculum-work", "--work-dir")
