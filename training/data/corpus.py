"""Where the corpus is, what it holds, and a fingerprint of it."""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from humanlike.detector.bundle import CorpusFingerprint
from humanlike.training.data.readers import FieldMapping, ReadReport, load_corpus
from humanlike.training.data.schema import CorpusRecord
from humanlike.training.data.splits import holdout_split

DATA_ENV = "HUMANLIKE_DATA"
_REPO_ROOT = Path(__file__).resolve().parents[2]  # training/data/corpus.py in a checkout


def resolve_corpus_paths(paths: Sequence[str] | None = None) -> list[str]:
    """``paths`` if given, else ``$HUMANLIKE_DATA``, else ``../shared/corpus`` beside the checkout.

    Raises:
        FileNotFoundError: no path was given and the default location does not exist.
    """
    if paths:
        return list(paths)
    if os.environ.get(DATA_ENV):
        return [os.environ[DATA_ENV]]
    for candidate in (Path.cwd() / ".." / "shared" / "corpus", _REPO_ROOT.parent / "shared" / "corpus"):
        if candidate.is_dir():
            return [str(candidate.resolve())]
    raise FileNotFoundError(
        f"no corpus given and none found at ../shared/corpus; pass --corpus PATH or set {DATA_ENV}"
    )


def fingerprint(records: Sequence[CorpusRecord], paths: Sequence[str]) -> CorpusFingerprint:
    """sha256 over every record, in read order: the same corpus read the same way, the same hash."""
    digest = hashlib.sha256()
    for r in records:
        digest.update(json.dumps(r.model_dump(), sort_keys=True, ensure_ascii=False).encode("utf-8"))
        digest.update(b"\n")
    return CorpusFingerprint(sha256=digest.hexdigest(), n_records=len(records), paths=list(paths))


def sample(records: Sequence[CorpusRecord], n: int, seed: int = 0) -> list[CorpusRecord]:
    """About ``n`` records, whole groups, stratified like :func:`holdout_split` (for quick runs)."""
    if n >= len(records):
        return list(records)
    _, picked = holdout_split(records, n / len(records), seed)
    return [records[i] for i in picked]


def sample_indices(
    records: Sequence[CorpusRecord], idx: np.ndarray, n: int | None, seed: int = 0
) -> np.ndarray:
    """About ``n`` of the indices ``idx`` into ``records``, whole groups, stratified like :func:`sample`
    (all of them when ``n`` is None or not smaller), in their original order."""
    if n is None or n >= len(idx):
        return idx
    _, picked = holdout_split([records[i] for i in idx], n / len(idx), seed)
    keep = np.zeros(len(idx), dtype=bool)
    keep[picked] = True
    return idx[keep]


def corpus_stats(records: Sequence[CorpusRecord]) -> dict[str, Any]:
    """Counts by label x data_type / source / generator, and text lengths in characters."""

    def by(field: str) -> dict[str, dict[str, int]]:
        counts: Counter[tuple[str, str]] = Counter((getattr(r, field), r.label) for r in records)
        keys = sorted({k for k, _ in counts})
        return {k: {"human": counts[(k, "human")], "llm": counts[(k, "llm")]} for k in keys}

    lengths = np.array([len(r.text) for r in records]) if records else np.zeros(1)
    return {
        "n_records": len(records),
        "label": dict(Counter(r.label for r in records)),
        "data_type": by("data_type"),
        "source": by("source"),
        "generator": by("generator"),
        "length_chars": {
            "min": int(lengths.min()),
            "median": float(np.median(lengths)),
            "p95": float(np.percentile(lengths, 95)),
            "max": int(lengths.max()),
        },
    }


def read_training_corpus(
    corpus_paths: Sequence[str], mapping: FieldMapping | None, sample_size: int | None, seed: int
) -> tuple[list[CorpusRecord], CorpusFingerprint, ReadReport]:
    """The records a model trains on (all, or a grouped sample of about ``sample_size``), their
    fingerprint, and the read report; the same call rebuilds the same records for export and eval.

    Raises:
        ValueError: no usable records.
    """
    records, report = load_corpus(corpus_paths, mapping)
    if sample_size:
        records = sample(records, sample_size, seed)
    if not records:
        raise ValueError(f"no usable records in {', '.join(corpus_paths)} ({report.summary()})")
    return records, fingerprint(records, corpus_paths), report


def labels_of(records: Sequence[CorpusRecord], idx: np.ndarray | None = None) -> np.ndarray:
    """1 for LLM, 0 for human, of the records at ``idx`` (default: all of them, in order)."""
    chosen = records if idx is None else [records[i] for i in idx]
    return np.array([r.label == "llm" for r in chosen], dtype=int)


def texts_of(records: Sequence[CorpusRecord], idx: np.ndarray) -> list[str]:
    return [records[i].text for i in idx]
