"""The writers of lasting files, each run in a loop by a child process that the crash test SIGKILLs.

    python tests/crash_writers.py WRITER TARGET WORK

The child writes version 0, then version 1, then 0 again, ... to ``TARGET`` with the product's own
writer, for ever; ``WORK`` holds what the versions are made of (prepared by the test). The test kills
it at a random moment and checks that ``TARGET`` is one complete version (:func:`version_at`).
``naive`` is the control: a plain ``open().write()`` in pieces, which the test must catch torn.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

PAD_BYTES = 4 << 20
"""Each version carries this much, so that a write takes long enough to be interrupted."""


def padding(version: int) -> bytes:
    return bytes([65 + version]) * PAD_BYTES


def _bundle(target: Path, work: Path, version: int) -> None:
    from humanlike.detector.bundle import CHECKSUM_FILE, MANIFEST_FILE, read_bundle, write_bundle

    source, manifest = read_bundle(work / "source-bundle")
    files = {p.name: p.read_bytes() for p in source.iterdir() if p.name not in (MANIFEST_FILE, CHECKSUM_FILE)}
    files["padding.bin"] = padding(version)
    write_bundle(target, manifest.model_copy(update={"training": {"crash_version": version}}), files)


def _checkpoint(target: Path, work: Path, version: int) -> None:
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    from humanlike.training.models.transformer import save_checkpoint

    config = BertConfig(
        vocab_size=2000,
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=128,
        num_labels=1,
    )
    model = BertForSequenceClassification(config)
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(float(version))
    save_checkpoint(
        target, model, work / "tokenizer.json", {"crash_version": version, "pad": "x" * PAD_BYTES}
    )


def _report(target: Path, work: Path, version: int) -> None:
    from humanlike.cli.evaluation import _write_report

    report = json.loads((work / "report.json").read_text(encoding="utf-8"))
    report["crash_version"] = version
    _write_report(report, target)


def _json_report(target: Path, work: Path, version: int) -> None:
    from humanlike.detector.atomic import write_text_atomic

    write_text_atomic(target, json.dumps({"crash_version": version, "pad": padding(version).decode()}))


def _rank(target: Path, work: Path, version: int) -> None:
    from humanlike.detector import Detector
    from humanlike.detector.ranking import rank_jsonl

    rank_jsonl(Detector(work / "source-bundle", device="cpu"), work / f"input-{version}.jsonl", target)


def _curriculum(target: Path, work: Path, version: int) -> None:
    from humanlike.curriculum.options import CurriculumOptions
    from humanlike.curriculum.pipeline import build_curriculum
    from humanlike.detector import Detector

    detector = Detector(work / "source-bundle", device="cpu")
    options = CurriculumOptions(chunk_lines=50)
    # One checkpoint directory per version: a killed run of a version resumes from its own.
    build_curriculum(
        detector,
        work / f"input-{version}.jsonl",
        target,
        options,
        work_dir=work / f"curriculum-work-{version}",
        progress=False,
    )


def _generalization(target: Path, work: Path, version: int) -> None:
    import numpy as np

    from humanlike.training.evaluation.generalization import _write

    logits = {"fold": np.full(PAD_BYTES // 8, float(version))}
    _write(target, {"crash_version": version}, target.with_suffix(".scores.npz"), logits)


def _naive(target: Path, work: Path, version: int) -> None:
    data = padding(version)
    with target.open("wb") as f:
        for i in range(0, len(data), 1 << 16):
            f.write(data[i : i + (1 << 16)])
            f.flush()


WRITERS: dict[str, Callable[[Path, Path, int], None]] = {
    "bundle": _bundle,
    "checkpoint": _checkpoint,
    "report": _report,
    "json-report": _json_report,
    "rank": _rank,
    "curriculum": _curriculum,
    "generalization": _generalization,
    "naive": _naive,
}


def main(argv: list[str]) -> None:
    writer, target, work = WRITERS[argv[0]], Path(argv[1]), Path(argv[2])
    version = 0
    while True:
        writer(target, work, version)
        print(version, flush=True)  # the test waits for the first complete write
        version = 1 - version


def load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


if __name__ == "__main__":
    main(sys.argv[1:])
