"""Batch ranking: a crash halfway leaves no half-written output; the previous output survives."""

from __future__ import annotations

from pathlib import Path

import pytest

from humanlike.detector import Detector
from humanlike.detector.atomic import atomic_writer
from humanlike.detector.ranking import rank_jsonl


def test_atomic_writer_keeps_the_old_file_when_the_block_fails(tmp_path: Path) -> None:
    target = tmp_path / "out.jsonl"
    target.write_text("previous complete output\n")
    with pytest.raises(RuntimeError), atomic_writer(target) as f:
        f.write(b"half of a new output")
        raise RuntimeError("crash halfway")
    assert target.read_text() == "previous complete output\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.jsonl"]

    with atomic_writer(tmp_path / "new.jsonl") as f:
        f.write(b"complete\n")
    assert (tmp_path / "new.jsonl").stat().st_mode & 0o777 == 0o644


def test_rank_crash_while_scoring_leaves_previous_outputs(bundle: Path, tmp_path: Path) -> None:
    detector = Detector(bundle, device="cpu")
    source = tmp_path / "in.jsonl"
    source.write_text("".join(f'{{"text": "Line number {i} of the input."}}\n' for i in range(50)))
    out = tmp_path / "ranked.jsonl"
    out.write_text("old\n")

    def crash(n_lines: int) -> None:
        raise OSError("disk went away")

    with pytest.raises(OSError, match="disk went away"):
        rank_jsonl(detector, source, out, batch_size=2, on_progress=crash)
    assert out.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl", "ranked.jsonl"]

    summary = rank_jsonl(detector, source, out)
    assert (summary.n_lines, summary.n_ranked, summary.n_errors) == (50, 50, 0)
    assert len(out.read_text().splitlines()) == 50
