"""Text → integer id sequences for the n-gram model's ONNX graph.

The n-gram detector's graph does the TF-IDF weighting and the linear model itself (ONNX
``TfIdfVectorizer``); what it cannot do is split text the way scikit-learn does. This module is that
split, written down as data (:class:`NgramFeatureSpec`, stored in the bundle as ``features.json``) and
applied the same way at training export and at run time.

It mirrors scikit-learn's ``TfidfVectorizer`` preprocessing exactly:

- words: ``text.lower()`` (if ``lowercase_words``), then ``re.findall(token_pattern)``; each word
  becomes its id in the vocabulary, 0 when unknown (0 is never part of an n-gram in the graph, so
  unknown words and padding both break n-grams, just as a word missing from scikit-learn's
  vocabulary never forms one);
- characters: the text (lowercased if ``lowercase_chars``) with every run of two or more whitespace
  characters collapsed to one space (scikit-learn's ``_white_spaces``), then each Unicode code point
  + 1 (0 stays free for padding).

The parity test (ONNX scores vs scikit-learn's on real texts) is what keeps this mirror honest.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

from humanlike.detector.normalize import Normalization, normalize_text

SKLEARN_TOKEN_PATTERN = r"(?u)\b\w\w+\b"
_WHITESPACE_RUNS = re.compile(r"\s\s+")  # scikit-learn's CountVectorizer._white_spaces

PAD_ID = 0


class NgramFeatureSpec(BaseModel):
    """What a text is turned into before the n-gram graph reads it (``features.json``)."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["sklearn-word-char-ids"] = "sklearn-word-char-ids"
    lowercase_words: bool = True
    lowercase_chars: bool = True
    token_pattern: str = SKLEARN_TOKEN_PATTERN
    normalization: Normalization = "none"
    """Applied to a text before both splits (:mod:`humanlike.detector.normalize`)."""
    words: list[str]
    """Word vocabulary; the id of ``words[i]`` is ``i + 1``."""


@dataclass(frozen=True)
class NgramInputs:
    """A padded batch, ready to feed the graph (names match the graph's inputs)."""

    word_ids: np.ndarray  # int64 [batch, max words]
    char_ids: np.ndarray  # int64 [batch, max chars]

    def as_feed(self) -> dict[str, np.ndarray]:
        return {"word_ids": self.word_ids, "char_ids": self.char_ids}


class NgramFeaturizer:
    """Applies an :class:`NgramFeatureSpec` to texts."""

    def __init__(self, spec: NgramFeatureSpec) -> None:
        self.spec = spec
        self._token_re = re.compile(spec.token_pattern)
        self._word_ids = {word: i + 1 for i, word in enumerate(spec.words)}

    def word_ids(self, text: str) -> np.ndarray:
        lookup = self._word_ids.get
        tokens = self._token_re.findall(text.lower() if self.spec.lowercase_words else text)
        return np.fromiter((lookup(t, PAD_ID) for t in tokens), dtype=np.int64, count=len(tokens))

    def char_ids(self, text: str) -> np.ndarray:
        collapsed = _WHITESPACE_RUNS.sub(" ", text.lower() if self.spec.lowercase_chars else text)
        codepoints = np.frombuffer(collapsed.encode("utf-32-le"), dtype="<u4")
        return codepoints.astype(np.int64) + 1

    def encode(self, texts: Sequence[str]) -> NgramInputs:
        texts = [normalize_text(t, self.spec.normalization) for t in texts]
        return NgramInputs(
            word_ids=pad([self.word_ids(t) for t in texts]),
            char_ids=pad([self.char_ids(t) for t in texts]),
        )


def pad(rows: Sequence[np.ndarray]) -> np.ndarray:
    """Right-pads rows with :data:`PAD_ID` to one matrix (at least one column, which ONNX needs)."""
    width = max([1, *(len(r) for r in rows)])
    out = np.full((len(rows), width), PAD_ID, dtype=np.int64)
    for i, row in enumerate(rows):
        out[i, : len(row)] = row
    return out
