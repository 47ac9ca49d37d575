"""Texts → windows → graph feeds, one encoder per model kind.

The runtime scores *windows*, not texts. A window is a span of one text that the graph reads at once:

- n-gram bundles read a whole text as one window (the graph takes any length);
- transformer and zero-shot bundles read at most ``max_tokens`` tokens; a longer text becomes
  overlapping windows, cut by the ``tokenizers`` library's own truncation-with-overflow (``stride`` =
  tokens shared by consecutive windows), exactly as training cut them;
- hybrid bundles read the LM's windows, and their encoder reads each window's character span too.

Each window knows its character span in the text (so a caller can see which part of a document reads
as LLM-written) and its ``size``, the quantity that batches are capped by: tokens for the transformer,
characters for the n-gram graph (whose cost grows with characters).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
from tokenizers import Encoding, Tokenizer

from humanlike.detector.features import NgramFeaturizer, SparseNgramFeaturizer, pad


@dataclass(frozen=True)
class Window:
    """One span of one text, as the graph will read it."""

    text_index: int
    start: int
    """Character offset of the span's first character in the text."""
    end: int
    """Character offset one past the span's last character."""
    size: int
    """Tokens (transformer) or characters (n-gram): what batches are capped by."""
    ids: Sequence[int] = field(default=(), repr=False)
    """Token ids with special tokens (transformer windows only)."""


class InputEncoder(Protocol):
    """What the runtime needs from a model kind's input side."""

    def windows(self, texts: Sequence[str]) -> list[Window]:
        """Every window of every text, texts in order and each text's windows in order."""
        ...

    def feed(self, texts: Sequence[str], windows: Sequence[Window]) -> dict[str, np.ndarray]:
        """The graph inputs for a batch of windows."""
        ...


class NgramWindows:
    """The n-gram graph reads each text whole: one window per text."""

    def __init__(self, featurizer: NgramFeaturizer | SparseNgramFeaturizer) -> None:
        self._featurizer = featurizer

    def windows(self, texts: Sequence[str]) -> list[Window]:
        return [Window(text_index=i, start=0, end=len(t), size=len(t)) for i, t in enumerate(texts)]

    def feed(self, texts: Sequence[str], windows: Sequence[Window]) -> dict[str, np.ndarray]:
        return self._featurizer.encode([texts[w.text_index] for w in windows]).as_feed()


class TokenWindows:
    """WordPiece/BPE windows of at most ``max_tokens`` tokens (special tokens included).

    Args:
        tokenizer_file: the bundle's ``tokenizer.json`` (Hugging Face ``tokenizers`` format).
        max_tokens: window length, the graph's sequence length at training.
        overlap: tokens shared by consecutive windows of one text.
    """

    def __init__(self, tokenizer_file: Path, max_tokens: int, overlap: int) -> None:
        self._tokenizer = Tokenizer.from_file(str(tokenizer_file))
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(max_length=max_tokens, stride=overlap)
        self.max_tokens = max_tokens

    def windows(self, texts: Sequence[str]) -> list[Window]:
        out: list[Window] = []
        for i, encoding in enumerate(self._tokenizer.encode_batch(list(texts))):
            for w in (encoding, *encoding.overflowing):
                start, end = _char_span(w)
                out.append(Window(text_index=i, start=start, end=end, size=len(w.ids), ids=w.ids))
        return out

    def feed(self, texts: Sequence[str], windows: Sequence[Window]) -> dict[str, np.ndarray]:
        ids = pad([np.asarray(w.ids, dtype=np.int64) for w in windows])
        mask = np.zeros_like(ids)
        for row, w in enumerate(windows):
            mask[row, : len(w.ids)] = 1
        return {"input_ids": ids, "attention_mask": mask}


class HybridWindows:
    """The LM's token windows, each also read by an encoder through its own tokenizer.

    The windows are the LM tokenizer's (:class:`TokenWindows`); the encoder reads the same character
    span of the text, cut at ``encoder_max_tokens`` of its tokens. The graph takes both:
    ``input_ids``/``attention_mask`` and ``encoder_input_ids``/``encoder_attention_mask``.
    """

    def __init__(
        self,
        tokenizer_file: Path,
        encoder_tokenizer_file: Path,
        max_tokens: int,
        overlap: int,
        encoder_max_tokens: int,
    ) -> None:
        self._lm = TokenWindows(tokenizer_file, max_tokens, overlap)
        self._encoder = Tokenizer.from_file(str(encoder_tokenizer_file))
        self._encoder.no_padding()
        self._encoder.enable_truncation(max_length=encoder_max_tokens)
        self.max_tokens = max_tokens

    def windows(self, texts: Sequence[str]) -> list[Window]:
        return self._lm.windows(texts)

    def feed(self, texts: Sequence[str], windows: Sequence[Window]) -> dict[str, np.ndarray]:
        feed = self._lm.feed(texts, windows)
        spans = [texts[w.text_index][w.start : w.end] for w in windows]
        encoded = self._encoder.encode_batch(spans)
        ids = pad([np.asarray(e.ids, dtype=np.int64) for e in encoded])
        mask = np.zeros_like(ids)
        for row, e in enumerate(encoded):
            mask[row, : len(e.ids)] = 1
        feed["encoder_input_ids"] = ids
        feed["encoder_attention_mask"] = mask
        return feed


def _char_span(window: Encoding) -> tuple[int, int]:
    """Character span of a window's non-special tokens ((0, 0) for a window of special tokens only)."""
    spans = [o for o, special in zip(window.offsets, window.special_tokens_mask, strict=True) if not special]
    if not spans:
        return 0, 0
    return spans[0][0], spans[-1][1]
