"""Every writer of lasting files survives SIGKILL: the path holds the old complete version or the new
complete version, never a torn file, never a mix, never nothing.

Each writer runs in a child process (``tests/crash_writers.py``) that rewrites its target for ever,
alternating two versions; the test kills it at random moments and checks what is on disk. The control,
a plain ``open().write()``, must be caught torn, or the test would prove nothing.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from humanlike.detector import Detector
from humanlike.detector.bundle import read_bundle
from humanlike.detector.ranking import rank_jsonl

from . import crash_writers
from .crash_writers import PAD_BYTES, padding

# About 1.5 min: each writer is started in a fresh interpreter and killed 4 times; `make test` runs it.
pytestmark = pytest.mark.slow

HELPER = Path(__file__).with_name("crash_writers.py")
REPO = Path(__file__).resolve().parents[1]
REPORT = REPO / "research" / "results" / "eval-report-baseline-2026-11-22.json"
KILLS = 4


def _texts(version: int) -> list[str]:
    return [f"Version {version}, line {i}: the quick brown fox jumps over the lazy dog." for i in range(120)]


@pytest.fixture(scope="module")
def work(bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("crash-work")
    shutil.copytree(bundle, work / "source-bundle")
    (work / "tokenizer.json").write_text("{}")
    shutil.copyfile(REPORT, work / "report.json")
    for version in (0, 1):
        lines = "".join(
            json.dumps({"id": f"{version}-{i}", "text": t}) + "\n" for i, t in enumerate(_texts(version))
        )
        (work / f"input-{version}.jsonl").write_text(lines)
    return work


def _expected_rank_outputs(work: Path, tmp: Path) -> set[bytes]:
    detector = Detector(work / "source-bundle", device="cpu")
    outputs = set()
    for version in (0, 1):
        rank_jsonl(detector, work / f"input-{version}.jsonl", tmp / f"expected-{version}.jsonl")
        outputs.add((tmp / f"expected-{version}.jsonl").read_bytes())
    return outputs


def _version_of_curriculum_rows(path: Path) -> int:
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    versions = {int(r["id"].split("-")[0]) for r in rows}
    assert len(rows) == 120 and len(versions) == 1, "a curriculum file is one complete run"
    return versions.pop()


def _check(writer: str, target: Path, work: Path, expected: dict[str, object]) -> int:
    """The version found at ``target``; fails the test if it is not one complete version."""
    if writer == "bundle":
        _, manifest = read_bundle(target)  # checksums of every file, the padding included
        version = manifest.training["crash_version"]
        assert (target / "padding.bin").read_bytes() == padding(version)
        return int(version)
    if writer == "checkpoint":
        from humanlike.training.models.transformer import load_checkpoint

        model, meta = load_checkpoint(target)
        values = {float(p.detach().flatten()[0]) for p in model.parameters()}
        assert values == {float(meta["crash_version"])}, "weights and checkpoint.json from one write"
        return int(meta["crash_version"])
    if writer == "report":
        from humanlike.training.evaluation.report import render_html

        report = crash_writers.load(target / "report.json")
        assert (target / "report.html").read_text(encoding="utf-8") == render_html(report)
        return int(report["crash_version"])
    if writer == "json-report":
        report = crash_writers.load(target)
        assert report["pad"] == padding(report["crash_version"]).decode()
        return int(report["crash_version"])
    if writer == "rank":
        assert target.read_bytes() in expected["rank"]  # type: ignore[operator]
        return 0
    if writer == "curriculum":
        version = _version_of_curriculum_rows(target)
        manifest = crash_writers.load(target.with_name(target.name + ".manifest.json"))
        assert manifest["input"]["path"].endswith(("input-0.jsonl", "input-1.jsonl"))
        return version
    if writer == "generalization":
        import numpy as np

        report = crash_writers.load(target)
        with np.load(target.with_suffix(".scores.npz")) as scores:
            assert scores["fold"].shape == (PAD_BYTES // 8,)
            assert len(set(scores["fold"].tolist())) == 1
        return int(report["crash_version"])
    data = target.read_bytes()  # naive
    assert data in (padding(0), padding(1)), f"torn: {len(data)} of {PAD_BYTES} bytes"
    return data[0] - 65


def _kill_at_random(writer: str, target: Path, work: Path, rng: random.Random) -> None:
    child = subprocess.Popen(
        [sys.executable, str(HELPER), writer, str(target), str(work)],
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        assert child.stdout is not None
        first = child.stdout.readline()  # one complete write, then kill somewhere in the next ones
        assert first.strip() in (b"0", b"1"), f"{writer} writer failed before its first write"
        time.sleep(rng.uniform(0.0, 0.6))
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()


WRITERS = ["bundle", "report", "json-report", "rank", "curriculum", "generalization"]


@pytest.mark.parametrize("writer", [*WRITERS, "checkpoint"])
def test_sigkill_leaves_a_complete_version(writer: str, work: Path, tmp_path: Path) -> None:
    expected: dict[str, object] = {}
    if writer == "rank":
        expected["rank"] = _expected_rank_outputs(work, tmp_path)
    target = tmp_path / ("out" if writer in ("bundle", "checkpoint", "report") else "out.json")
    if writer in ("rank", "curriculum"):
        target = tmp_path / "out.jsonl"
    rng = random.Random(writer)
    for _ in range(KILLS):
        _kill_at_random(writer, target, work, rng)
        _check(writer, target, work, expected)


def test_the_control_is_caught_torn(work: Path, tmp_path: Path) -> None:
    """A plain write, killed the same way, leaves a torn file at least once: the check can fail."""
    target = tmp_path / "naive.bin"
    rng = random.Random(0)
    torn = 0
    for _ in range(8):
        _kill_at_random("naive", target, work, rng)
        try:
            _check("naive", target, work, {})
        except AssertionError:
            torn += 1
    assert torn >= 1
