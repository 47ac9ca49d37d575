"""A text's word-surprisal profile: how probable its words are under a general unigram model, summarised.

Ghostbuster and GLTR read how probable each token is under language models; the cheapest such model is
a unigram one. Each word's surprisal (bits) comes from a table of general English word frequencies that
a bundle carries (built at training time from ``wordfreq``, fitted on none of the corpus's sources);
:func:`surprisal_profile` summarises a text in :data:`PROFILE_FEATURES` numbers: the distribution of
its words' surprisal (mean, spread, quantiles, shares per frequency band, words the table lacks), how
it moves from sentence to sentence and word to word, sentence lengths, and the text's shape (length,
case, digits, punctuation, line breaks). It says nothing about a text's topic, which is what makes it
worth stacking with the n-gram views; plain, common-word human prose reads machine-like to it. How it
does on unseen sources: docs/research/generalization.md.

The training side and the runtime call the same function on the same table, so a text's profile is
the same in both.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict

WORD = re.compile(r"[^\W_]+(?:['\u2019][^\W_]+)*")
SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
BANDS = (7.0, 6.0, 5.0, 4.0, 3.0, 2.0)
"""Zipf bands (log10 of occurrences per billion words): 7 is once in 100 words, 3 once in a million."""
UNKNOWN_FREQUENCY = 1e-9
"""The frequency of a word the table lacks (Zipf 0)."""
PROFILE_FEATURES = 31


class SurprisalTable(BaseModel):
    """Word -> surprisal in bits (``-log2`` of its frequency in general English), as stored in a bundle."""

    model_config = ConfigDict(frozen=True)

    format: str = "word-surprisal-v1"
    source: str
    """Where the frequencies come from (e.g. ``wordfreq 3.1 en best, top 200000 words``)."""
    bits: dict[str, float]

    @classmethod
    def from_frequencies(cls, frequencies: Mapping[str, float], source: str) -> SurprisalTable:
        return cls(source=source, bits={w: round(-math.log2(f), 3) for w, f in frequencies.items() if f > 0})


def _word_bits(text: str, bits: Mapping[str, float], unknown: float) -> np.ndarray:
    return np.array([bits.get(w, unknown) for w in WORD.findall(text.lower())], dtype=np.float64)


def surprisal_profile(text: str, table: SurprisalTable) -> list[float]:
    """The :data:`PROFILE_FEATURES` numbers that summarise ``text`` (see the module docstring)."""
    unknown = -math.log2(UNKNOWN_FREQUENCY)
    bits = _word_bits(text, table.bits, unknown)
    shape = _shape(text)
    if not len(bits):
        return [0.0] * (PROFILE_FEATURES - len(shape)) + shape
    zipf = 9.0 - bits * math.log10(2)
    per_sentence = [_word_bits(s, table.bits, unknown) for s in SENTENCE_END.split(text) if s.strip()]
    means = np.array([b.mean() for b in per_sentence if len(b)])
    lengths = np.array([len(b) for b in per_sentence], dtype=np.float64)
    q = np.quantile(bits, [0.1, 0.25, 0.5, 0.75, 0.9, 0.99])
    several = len(means) > 1
    return [
        float(bits.mean()),
        float(bits.std()),
        *map(float, q),
        float((bits >= unknown).mean()),
        *[float(((zipf < hi) & (zipf >= hi - 1)).mean()) for hi in BANDS],
        float(means.std()) if several else 0.0,
        float(means.max() - means.min()) if several else 0.0,
        float(lengths.mean()) if len(lengths) else 0.0,
        float(lengths.std()) if len(lengths) else 0.0,
        float(lengths.std() / max(lengths.mean(), 1.0)) if len(lengths) else 0.0,
        float(np.log1p(len(bits))),
        float(np.abs(np.diff(bits)).mean()) if len(bits) > 1 else 0.0,
        _lag_correlation(bits),
        *shape,
    ]


def _shape(text: str) -> list[float]:
    """How long the text is and what shape it has, not what it says."""
    words = text.split()
    n_words, n_chars = max(len(words), 1), max(len(text), 1)
    return [
        float(np.log1p(len(text))),
        float(np.mean([len(w) for w in words])) if words else 0.0,
        len({w.lower() for w in words}) / n_words,
        text.count("\n") / n_words,
        sum(c in ",;:" for c in text) / n_words,
        sum(c.isupper() for c in text) / n_chars,
        sum(c.isdigit() for c in text) / n_chars,
        sum(ord(c) > 127 for c in text) / n_chars,
    ]


def surprisal_profiles(texts: Sequence[str], table: SurprisalTable) -> np.ndarray:
    """``[len(texts), PROFILE_FEATURES]`` float32, one profile a row."""
    out = np.array([surprisal_profile(t, table) for t in texts], dtype=np.float32)
    return out.reshape(len(texts), PROFILE_FEATURES)


def _lag_correlation(bits: np.ndarray) -> float:
    """Correlation of each word's surprisal with the next word's (0 when either side is constant)."""
    if len(bits) < 3 or bits[:-1].std() == 0 or bits[1:].std() == 0:
        return 0.0
    return float(np.corrcoef(bits[:-1], bits[1:])[0, 1])
