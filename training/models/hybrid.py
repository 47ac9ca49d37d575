"""The ``hybrid`` kind: a logistic regression over every LM window's statistics and the all-MiniLM-L6-v2
embedding of the same span, fitted on a grouped sample of the corpus (the LM reads every sampled text,
the cost of the fit), in one graph with both models; built, calibrated and evaluated by
:mod:`humanlike.training.build`.

It reads text in the LM's token windows (:data:`~humanlike.training.models.lm.MAX_TOKENS` tokens, the
first being the document start) and outputs one ``llm_logit`` per window, which the runtime averages.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Self

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler
from tqdm import tqdm

from humanlike.detector.bundle import (
    ENCODER_TOKENIZER_FILE,
    MODEL_FILE,
    TOKENIZER_FILE,
    BundleManifest,
    WindowSpec,
)
from humanlike.detector.inputs import HybridWindows, Window
from humanlike.detector.runtime import aggregate_windows, plan_batches
from humanlike.training.build import DraftBundle, train_bundle
from humanlike.training.config import HybridConfig, SamplingConfig, SplitConfig
from humanlike.training.data.corpus import labels_of
from humanlike.training.data.readers import FieldMapping
from humanlike.training.data.schema import CorpusRecord
from humanlike.training.kinds import DetectorKind
from humanlike.training.models.lm import (
    ENCODER_MAX_TOKENS,
    FEATURES,
    MAX_TOKENS,
    OPSET,
    HybridGraph,
    WindowFeatures,
    export_graph,
    load_encoder,
    load_lm,
    quantize_lm,
    smooth_for_int8,
)


@dataclass
class WindowFeatureTable:
    """Every window of every text, with its :class:`~humanlike.training.models.lm.WindowFeatures` row."""

    windows: list[Window]
    features: np.ndarray
    """[windows, len(FEATURES) + embedding size]"""
    n_texts: int

    def text_logits(self, window_logits: np.ndarray) -> np.ndarray:
        """Text logits as the runtime makes them: size-weighted means of window logits."""
        return aggregate_windows(self.windows, window_logits, self.n_texts)

    def rows_of(self, texts: np.ndarray) -> np.ndarray:
        """Window rows of the texts at positions ``texts``."""
        wanted = np.zeros(self.n_texts, dtype=bool)
        wanted[texts] = True
        return np.flatnonzero(wanted[[w.text_index for w in self.windows]])


class WindowFeaturizer:
    """The hybrid's inputs: the LM and the encoder in PyTorch, fed by the runtime's own window encoder."""

    def __init__(self, max_tokens: int = MAX_TOKENS, encoder_max_tokens: int = ENCODER_MAX_TOKENS) -> None:
        lm, self.lm_tokenizer = load_lm()
        encoder, self.encoder_tokenizer = load_encoder()
        self.module = WindowFeatures(lm, encoder)
        self.windows = WindowSpec(max_tokens=max_tokens, overlap=0, encoder_max_tokens=encoder_max_tokens)
        self._tmp = tempfile.TemporaryDirectory()
        files = self.tokenizer_files()
        for name, data in files.items():
            (Path(self._tmp.name) / name).write_bytes(data)
        self.inputs = HybridWindows(
            Path(self._tmp.name) / TOKENIZER_FILE,
            Path(self._tmp.name) / ENCODER_TOKENIZER_FILE,
            max_tokens,
            0,
            encoder_max_tokens,
        )

    def tokenizer_files(self) -> dict[str, bytes]:
        return {
            TOKENIZER_FILE: self.lm_tokenizer.to_str().encode("utf-8"),
            ENCODER_TOKENIZER_FILE: self.encoder_tokenizer.to_str().encode("utf-8"),
        }

    @torch.inference_mode()
    def table(
        self, texts: Sequence[str], progress: bool = True, batch_windows: int = 8
    ) -> WindowFeatureTable:
        windows = self.inputs.windows(texts)
        rows: np.ndarray | None = None
        batches = plan_batches(
            [w.size for w in windows], batch_windows * self.windows.max_tokens, batch_windows
        )
        with tqdm(
            total=len(windows), desc="LM + encoder features", unit="window", disable=not progress
        ) as bar:
            for batch in batches:
                feed = self.inputs.feed(texts, [windows[i] for i in batch])
                x = self.module(*(torch.from_numpy(feed[k]) for k in GRAPH_INPUTS)).numpy()
                if rows is None:
                    rows = np.empty((len(windows), x.shape[1]), dtype=np.float32)
                rows[batch] = x
                bar.update(len(batch))
        assert rows is not None
        return WindowFeatureTable(windows, rows.astype(np.float64), len(texts))


GRAPH_INPUTS = ("input_ids", "attention_mask", "encoder_input_ids", "encoder_attention_mask")


@dataclass(frozen=True)
class HybridModel:
    """The fitted linear model over standardised window features."""

    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float

    def window_logits(self, features: np.ndarray) -> np.ndarray:
        return np.asarray(((features - self.mean) / self.scale) @ self.coef + self.intercept)


def fit_window_model(
    table: WindowFeatureTable, texts: np.ndarray, y: np.ndarray, columns: slice | None = None, C: float = 1.0
) -> HybridModel:
    """Logistic regression on the windows of ``texts`` (each window labelled as its text).

    Args:
        y: labels of ``texts`` (1 = llm).
        columns: which feature columns to use (others get coefficient 0); default all.
    """
    rows = table.rows_of(texts)
    label_of = dict(zip(texts.tolist(), y.tolist(), strict=True))
    yw = np.array([label_of[table.windows[r].text_index] for r in rows])
    x = table.features[rows]
    keep = np.zeros(x.shape[1], dtype=bool)
    keep[columns if columns is not None else slice(None)] = True
    scaler = StandardScaler().fit(x[:, keep])
    model = LogisticRegression(C=C, max_iter=5000).fit(scaler.transform(x[:, keep]), yw)
    mean, scale, coef = np.zeros(x.shape[1]), np.ones(x.shape[1]), np.zeros(x.shape[1])
    mean[keep], scale[keep], coef[keep] = scaler.mean_, scaler.scale_, model.coef_[0]
    return HybridModel(mean, scale, coef, float(model.intercept_[0]))


LM_SCOPE = "/features/lm/"
"""Where the LM's nodes are in the exported hybrid graph (what int8 quantizes)."""


class HybridDetector(DetectorKind):
    """The ``hybrid`` kind: LM and encoder features of every training window, a logistic regression over
    them, and the graph that computes both.

    With ``config.precision == "int8"`` the LM is smoothed first (:func:`smooth_for_int8` on the first
    ``config.smoothing_texts`` training texts; an exact rescaling in fp32, so the features and the fit
    are unchanged) and the exported graph's LM MatMuls, its head's too, are quantized; the encoder and
    the linear model stay fp32. The build path then calibrates and thresholds the int8 graph's scores.

    Args:
        featurizer: the LM and encoder loaded already (they load once per process otherwise); smoothing
            rescales its LM in place.
    """

    name = "hybrid"
    recipe_key = "hybrid"

    def __init__(
        self,
        config: HybridConfig = HybridConfig(),
        featurizer: WindowFeaturizer | None = None,
        progress: bool = True,
    ) -> None:
        self.config = config
        self.featurizer = featurizer
        self.progress = progress

    def fit(
        self, records: Sequence[CorpusRecord], *, validation: Sequence[CorpusRecord] | None = None
    ) -> Self:
        config = self.config
        windows = self.featurizer_ = self.featurizer or WindowFeaturizer()
        texts = [r.text for r in records]
        self.smoothing_texts_ = 0
        if config.precision == "int8":
            smoothing = texts[: config.smoothing_texts]
            tokens = [windows.lm_tokenizer.encode(x).ids[: windows.windows.max_tokens] for x in smoothing]
            smooth_for_int8(windows.module.lm, tokens, config.smoothing_alpha)
            self.smoothing_texts_ = len(smoothing)
        t = time.perf_counter()
        table = windows.table(texts, self.progress)
        self.features_s_ = time.perf_counter() - t
        y = labels_of(records)
        self.model_ = fit_window_model(table, np.arange(len(records)), y, C=config.C)
        self.n_features_ = table.features.shape[1]
        return self

    def decision_function(self, texts: Sequence[str]) -> np.ndarray:
        table = self.featurizer_.table(texts, progress=False)
        return table.text_logits(self.model_.window_logits(table.features))

    def draft_bundle(self) -> DraftBundle:
        config, windows, model = self.config, self.featurizer_, self.model_
        int8 = config.precision == "int8"
        graph_module = HybridGraph(
            windows.module,
            torch.from_numpy(model.mean),
            torch.from_numpy(model.scale),
            torch.from_numpy(model.coef),
            model.intercept,
        )
        t = time.perf_counter()
        graph = export_graph(graph_module, GRAPH_INPUTS, ["llm_logit", "features"])
        if int8:
            graph = quantize_lm(graph, "int8", scope=LM_SCOPE, keep_fp32=())
        return DraftBundle(
            kind="hybrid",
            files={MODEL_FILE: graph, **windows.tokenizer_files()},
            windows=windows.windows,
            precision=config.precision,
            training={
                "model": "logistic regression over LM window statistics (SmolLM2-135M) and the "
                "all-MiniLM-L6-v2 embedding of the same span",
                "features": [*FEATURES, f"embedding[{self.n_features_ - len(FEATURES)}]"],
                "C": config.C,
                "opset": OPSET,
                "graph": "SmoothQuant on the LM, then its weight MatMuls dynamic int8 (LM head too); "
                "encoder and linear model fp32"
                if int8
                else "fp32",
                "smoothing": {"texts": self.smoothing_texts_, "alpha": config.smoothing_alpha}
                if int8
                else None,
                "fit_timings": {
                    "features_s": round(self.features_s_, 1),
                    "export_s": round(time.perf_counter() - t, 1),
                },
            },
        )


def train_hybrid_bundle(
    corpus_paths: Sequence[str],
    out: str | Path,
    *,
    splits: SplitConfig = SplitConfig(sample_size=HybridConfig.sample_size),
    config: HybridConfig = HybridConfig(),
    # The LM reads every training text: no source-fold refits for thresholds unless asked.
    sampling: SamplingConfig = SamplingConfig(threshold_source_folds=0),
    mapping: FieldMapping | None = None,
    threads: int | None = None,
    progress: bool = True,
) -> BundleManifest:
    """Fits the hybrid on a grouped sample of the corpus and writes a calibrated, evaluated bundle."""
    return train_bundle(
        HybridDetector(config, progress=progress),
        corpus_paths,
        out,
        splits=splits,
        sampling=sampling,
        mapping=mapping,
        threads=threads,
        progress=progress,
        chunk=32,
    )
