"""A protocol report's logits: written as .scores.npz, read back from it or from a .scores.json."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from humanlike.training.evaluation.generalization import read_logits


def test_logits_are_read_from_the_npz_first_then_from_json(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    assert read_logits(report) == {}
    text = {"source=a|ngram|test": [0.5, -1.25], "source=a|ngram|n_fit": [10]}
    report.with_suffix(".scores.json").write_text(json.dumps(text))
    from_json = read_logits(report)
    assert from_json["source=a|ngram|test"].dtype == np.float32
    assert from_json["source=a|ngram|test"].tolist() == [0.5, -1.25]
    assert from_json["source=a|ngram|n_fit"].dtype == np.int64
    np.savez(report.with_suffix(".scores.npz"), **{"source=a|ngram|test": np.array([2.0], np.float32)})
    assert list(read_logits(report)) == ["source=a|ngram|test"]  # the npz, not the json
    assert read_logits(report)["source=a|ngram|test"].tolist() == [2.0]
