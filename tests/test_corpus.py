"""The shared corpus itself: read whole, as its DATACARD describes it."""

from __future__ import annotations

from pathlib import Path

from humanlike.training.data.schema import CorpusRecord
from tests.datacard import batch_counts


def test_real_corpus_reads_whole(corpus_paths: list[str], corpus: list[CorpusRecord]) -> None:
    """The directory reads as every file the DATACARD describes, together, and nothing is lost."""
    stated = batch_counts(Path(corpus_paths[0]) / "DATACARD.md")
    assert len(stated) >= 2, "the card describes the first file and at least one later batch"
    assert len(corpus) == sum(b.human + b.llm for b in stated)
    assert sum(r.label == "human" for r in corpus) == sum(b.human for b in stated)
    assert len({r.id for r in corpus}) == len(corpus)
