"""Training samples that no one source, generator or length decides.

The wide corpus is lopsided: some sources hold 8,000 LLM texts against 1,300 human ones, a few
sources are LLM-only or human-only, and within a source LLM texts are often longer than human ones.
A model fitted on it as it is learns those proportions. :func:`balanced_indices` draws the training
texts so that:

- each (source, label) contributes at most ``cap_per_source_label`` texts, and each LLM generator at
  most its share of its source's cap (generators are sampled round-robin);
- within a source that has both labels, human and LLM texts are length-matched: texts are binned by
  log-length and each bin keeps as many of each label as the scarcer label has there (``length_match``).

Groups (``pair_id``) are not split by this; it only drops texts from a training split.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from humanlike.training.data.schema import CorpusRecord


@dataclass(frozen=True)
class Balance:
    cap_per_source_label: int | None = 2000
    length_match: bool = True
    length_bins_per_octave: int = 2


def _length_bin(text: str, per_octave: int) -> int:
    return int(math.log2(max(len(text), 1)) * per_octave)


def balanced_indices(
    records: Sequence[CorpusRecord], idx: np.ndarray, balance: Balance, seed: int = 0
) -> np.ndarray:
    """The subset of ``idx`` to train on (sorted), drawn as the module docstring says."""
    rng = np.random.default_rng(seed)
    by_source: dict[str, list[int]] = defaultdict(list)
    for i in idx.tolist():
        by_source[records[i].source].append(i)
    keep: list[int] = []
    for source in sorted(by_source):
        members = by_source[source]
        labels = {records[i].label for i in members}
        if balance.length_match and labels == {"human", "llm"}:
            members = _length_matched(records, members, balance.length_bins_per_octave, rng)
        for label in ("human", "llm"):
            of_label = [i for i in members if records[i].label == label]
            keep.extend(_capped(records, of_label, balance.cap_per_source_label, rng))
    return np.array(sorted(keep), dtype=int)


def _length_matched(
    records: Sequence[CorpusRecord], members: list[int], per_octave: int, rng: np.random.Generator
) -> list[int]:
    bins: dict[int, dict[str, list[int]]] = defaultdict(lambda: {"human": [], "llm": []})
    for i in members:
        bins[_length_bin(records[i].text, per_octave)][records[i].label].append(i)
    kept: list[int] = []
    for b in sorted(bins):
        human, llm = bins[b]["human"], bins[b]["llm"]
        n = min(len(human), len(llm))
        for side in (human, llm):
            kept.extend(rng.permutation(side)[:n].tolist())
    return kept


def _capped(
    records: Sequence[CorpusRecord], members: list[int], cap: int | None, rng: np.random.Generator
) -> list[int]:
    if cap is None or len(members) <= cap:
        return members
    by_generator: dict[str, list[int]] = defaultdict(list)
    for i in members:
        by_generator[records[i].generator].append(i)
    queues = [list(rng.permutation(v)) for _, v in sorted(by_generator.items())]
    picked: list[int] = []
    while len(picked) < cap:  # round-robin: every generator gets an equal share while it has texts
        for q in queues:
            if q and len(picked) < cap:
                picked.append(int(q.pop()))
    return picked


def source_balanced_weights(records: Sequence[CorpusRecord], idx: np.ndarray) -> np.ndarray:
    """One weight per text of ``idx`` (mean 1) so that every source weighs the same in a fit, its
    weight split equally between the labels it has.

    A large source no longer decides the boundary by its size alone; a one-sided source still counts
    only once, for its one label, so that it cannot teach "this domain is LLM" by volume.
    """
    cells: dict[tuple[str, str], int] = defaultdict(int)
    labels_of_source: dict[str, set[str]] = defaultdict(set)
    for i in idx.tolist():
        r = records[i]
        cells[(r.source, r.label)] += 1
        labels_of_source[r.source].add(r.label)
    weights = np.array(
        [
            1.0 / (len(labels_of_source[records[i].source]) * cells[(records[i].source, records[i].label)])
            for i in idx.tolist()
        ]
    )
    return weights * (len(weights) / weights.sum()) if len(weights) else weights
