"""A logistic regression over the frozen all-MiniLM-L6-v2 sentence embedding of each token window: a
candidate of the generalization protocol (``encoder-lr``), not a bundle kind.

Nothing is fine-tuned: the encoder reads a window (``max_tokens`` of its WordPiece tokens) and gives its
sentence embedding (mean of token states, L2-normalised, as sentence-transformers makes it); a linear
model over the standardised embedding gives the window's logit, and a text's logit is the size-weighted
mean of its windows', as the runtime makes it for every token kind. On the protocol it generalised worst
of all candidates (docs/research/generalization.md), so it makes no bundle.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Self

import numpy as np
import torch
from tqdm import tqdm
from transformers import PreTrainedModel

from humanlike.detector.bundle import TOKENIZER_FILE
from humanlike.detector.inputs import TokenWindows
from humanlike.detector.runtime import plan_batches
from humanlike.training.config import EncoderConfig
from humanlike.training.data.corpus import labels_of
from humanlike.training.data.schema import CorpusRecord
from humanlike.training.kinds import DetectorKind
from humanlike.training.models.hybrid import HybridModel, WindowFeatureTable, fit_window_model
from humanlike.training.models.lm import load_encoder
from humanlike.training.torch_device import torch_device

GRAPH_INPUTS = ("input_ids", "attention_mask")


class SentenceEmbedding(torch.nn.Module):
    """(input_ids, attention_mask) → the window's sentence embedding [batch, 384]."""

    def __init__(self, encoder: PreTrainedModel) -> None:
        super().__init__()
        self.encoder = encoder

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        states = self.encoder(input_ids=input_ids, attention_mask=attention_mask)[0]
        mask = attention_mask.unsqueeze(-1).to(states.dtype)
        pooled = (states * mask).sum(1) / mask.sum(1).clamp(min=1.0)
        return torch.nn.functional.normalize(pooled, dim=-1)


class WindowEmbedder:
    """The frozen encoder in PyTorch (CUDA when there is one), fed by the runtime's own window encoder."""

    def __init__(self, config: EncoderConfig, device: torch.device | None = None) -> None:
        encoder, tokenizer = load_encoder()
        self.config = config
        self.device = device or torch_device()
        self.module = SentenceEmbedding(encoder).to(self.device)
        self.tokenizer_json = tokenizer.to_str().encode("utf-8")
        self._tmp = tempfile.TemporaryDirectory()
        (Path(self._tmp.name) / TOKENIZER_FILE).write_bytes(self.tokenizer_json)
        self.inputs = TokenWindows(Path(self._tmp.name) / TOKENIZER_FILE, config.max_tokens, config.overlap)

    @torch.inference_mode()
    def table(self, texts: Sequence[str], progress: bool = False) -> WindowFeatureTable:
        """Every window of every text with its embedding."""
        windows = self.inputs.windows(texts)
        rows = np.empty((len(windows), 384), dtype=np.float32)
        cap = self.config.batch_windows
        with tqdm(total=len(windows), desc="encoder", unit="window", disable=not progress) as bar:
            for batch in plan_batches([w.size for w in windows], cap * self.config.max_tokens, cap):
                feed = self.inputs.feed(texts, [windows[i] for i in batch])
                x = self.module(*(torch.from_numpy(feed[k]).to(self.device) for k in GRAPH_INPUTS))
                rows[batch] = x.float().cpu().numpy()
                bar.update(len(batch))
        return WindowFeatureTable(windows, rows.astype(np.float64), len(texts))


class FrozenEncoderClassifier(DetectorKind):
    """The ``encoder-lr`` kind: a logistic regression over frozen window embeddings; ``decision_function``
    gives text logits as the runtime makes them (size-weighted mean of window logits).

    Args:
        config: windows, penalty and batch size.
        embedder: an existing :class:`WindowEmbedder` to share (the encoder loads once).
    """

    name = "encoder-lr"
    recipe_key = "encoder"

    def __init__(
        self, config: EncoderConfig = EncoderConfig(), embedder: WindowEmbedder | None = None
    ) -> None:
        self.config = config
        self.embedder = embedder

    def fit(
        self, records: Sequence[CorpusRecord], *, validation: Sequence[CorpusRecord] | None = None
    ) -> Self:
        self.embedder_ = self.embedder or WindowEmbedder(self.config)
        table = self.embedder_.table([r.text for r in records])
        y = labels_of(records)
        self.model_: HybridModel = fit_window_model(table, np.arange(len(records)), y, C=self.config.C)
        return self

    def decision_function(self, texts: Sequence[str]) -> np.ndarray:
        table = self.embedder_.table(texts)
        return table.text_logits(self.model_.window_logits(table.features))
