"""Bundles from the packaged LM: ``zero-shot`` (no training data) and ``hybrid`` (LM statistics and an
encoder's embedding under a trained linear model).

Both read text in the LM's token windows (:data:`MAX_TOKENS` tokens, the first being the document start)
and output one ``llm_logit`` per window, which the runtime averages per text like any token bundle.

- zero-shot: ``llm_logit`` is Fast-DetectGPT's criterion (see :mod:`training.lm_graph`). With labelled
  texts at hand (the shared corpus, found as ``humanlike train`` finds it), a sample of them fits Platt
  scaling and the thresholds at 1% and 5% FPR on its human texts; without any, the bundle still scores
  (``p_llm = sigmoid(criterion)``) but carries no thresholds, and says so in its manifest.
- hybrid: a logistic regression over every window's LM statistics and all-MiniLM-L6-v2 embedding of the
  same span, fitted on a grouped sample of the corpus, calibrated and evaluated like the other bundles.

As in :mod:`training.export`, calibration and evaluation score the *exported* graph through
:class:`detector.Detector`, so the manifest's numbers hold for what users run.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler
from tqdm import tqdm

from detector.bundle import (
    ENCODER_TOKENIZER_FILE,
    MODEL_FILE,
    TOKENIZER_FILE,
    BundleManifest,
    Calibration,
    CorpusFingerprint,
    SplitSpec,
    WindowSpec,
    write_bundle,
)
from detector.inputs import HybridWindows, Window
from detector.runtime import aggregate_windows, plan_batches
from training.calibration import fit_platt, thresholds_at_fpr
from training.export import draft_manifest, score_draft
from training.lm_graph import (
    FEATURES,
    HybridGraph,
    WindowFeatures,
    ZeroShotGraph,
    default_lm_gguf,
    load_encoder,
    load_lm,
)
from training.metrics import binary_metrics, evaluate_scores
from training.readers import FieldMapping
from training.schema import CorpusRecord
from training.train import labels_of, make_splits, read_training_corpus, texts_of

log = logging.getLogger("humanlike.zeroshot")

MAX_TOKENS = 128
"""LM window length: the LM's cost is linear in tokens, and 128 keep CPU scoring within reach."""
ENCODER_MAX_TOKENS = 256
OPSET = 17


def export_graph(module: torch.nn.Module, inputs: Sequence[str], outputs: Sequence[str]) -> bytes:
    """``torch.onnx.export`` (TorchScript exporter: one self-contained file) with dynamic batch/length."""
    module.train(False)
    example = tuple(torch.ones((2, 8), dtype=torch.int64) for _ in inputs)
    axes: dict[str, dict[int, str]] = {name: {0: "batch", 1: f"{name}_length"} for name in inputs}
    axes.update({name: {0: "batch"} for name in outputs})
    if "lm_logits" in outputs:
        axes["lm_logits"] = {0: "batch", 1: "input_ids_length"}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / MODEL_FILE
        torch.onnx.export(
            module,
            example,
            str(path),
            input_names=list(inputs),
            output_names=list(outputs),
            dynamic_axes=axes,
            opset_version=OPSET,
            dynamo=False,
        )
        return path.read_bytes()


def build_zero_shot_bundle(
    out: str | Path,
    *,
    corpus_paths: Sequence[str] | None = None,
    calibration_size: int = 400,
    max_tokens: int = MAX_TOKENS,
    seed: int = 0,
    mapping: FieldMapping | None = None,
    threads: int | None = None,
    progress: bool = True,
) -> BundleManifest:
    """Writes a ``zero-shot`` bundle from the packaged LM to ``out``; returns its manifest.

    Args:
        corpus_paths: labelled texts to calibrate on (about ``calibration_size`` of them, a grouped
            sample); None: no calibration, no thresholds.
    """
    t0 = time.perf_counter()
    gguf = default_lm_gguf()
    lm, tokenizer = load_lm(gguf)
    graph = export_graph(
        ZeroShotGraph(lm), ["input_ids", "attention_mask"], ["llm_logit", "features", "lm_logits"]
    )
    export_s = time.perf_counter() - t0
    files = {MODEL_FILE: graph, TOKENIZER_FILE: tokenizer.to_str().encode("utf-8")}
    windows = WindowSpec(max_tokens=max_tokens, overlap=0)
    training: dict[str, Any] = {
        "model": f"zero-shot: Fast-DetectGPT analytic criterion of {gguf.name} (no training)",
        "features": list(FEATURES),
        "export": {"opset": OPSET, "graph": "TorchScript export, fp32", "export_s": round(export_s, 1)},
    }
    if not corpus_paths:
        empty = CorpusFingerprint(sha256="", n_records=0, paths=[])
        split = SplitSpec(
            seed=seed, holdout_fraction=0, calibration_fraction=0, n_train=0, n_calibration=0, n_holdout=0
        )
        manifest = draft_manifest("zero-shot", windows, empty, split).model_copy(
            update={
                "calibration": Calibration(
                    fitted_on="none: no labelled texts were given; p_llm = sigmoid(criterion), no thresholds"
                ),
                "training": training,
            }
        )
        write_bundle(out, manifest, files)
        log.warning("wrote %s uncalibrated: no labelled texts, so no thresholds at fixed FPR", out)
        return manifest

    records, corpus, _ = read_training_corpus(corpus_paths, mapping, calibration_size, seed)
    split = SplitSpec(
        seed=seed,
        holdout_fraction=0,
        calibration_fraction=1.0,
        n_train=0,
        n_calibration=len(records),
        n_holdout=0,
    )
    draft = draft_manifest("zero-shot", windows, corpus, split)
    t = time.perf_counter()
    logits = score_draft(
        draft, files, {"calibration": [r.text for r in records]}, threads=threads, progress=progress, chunk=32
    )["calibration"]
    y = np.array([r.label == "llm" for r in records], dtype=int)
    calibration = fit_platt(logits, y, fitted_on=f"grouped sample of the corpus ({len(y)} texts)")
    thresholds = thresholds_at_fpr(calibration.apply(logits)[y == 0])
    training["export"]["calibrate_s"] = round(time.perf_counter() - t, 1)
    manifest = draft.model_copy(
        update={
            "calibration": calibration,
            "thresholds": thresholds,
            # Nothing was trained, so the calibration sample is as unseen as any: an honest estimate.
            "metrics": {"calibration_sample": binary_metrics(y, calibration.apply(logits), thresholds)},
            "training": training,
        }
    )
    write_bundle(out, manifest, files)
    return manifest


@dataclass
class WindowFeatureTable:
    """Every window of every text, with its :class:`~training.lm_graph.WindowFeatures` row."""

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


def train_hybrid_bundle(
    corpus_paths: Sequence[str],
    out: str | Path,
    *,
    sample_size: int | None = 3000,
    seed: int = 0,
    holdout_fraction: float = 0.1,
    calibration_fraction: float = 0.1,
    mapping: FieldMapping | None = None,
    threads: int | None = None,
    progress: bool = True,
) -> BundleManifest:
    """Fits the hybrid on a grouped sample of the corpus and writes a calibrated, evaluated bundle."""
    timings: dict[str, float] = {}
    t = time.perf_counter()
    records, corpus, _ = read_training_corpus(corpus_paths, mapping, sample_size, seed)
    splits = make_splits(records, seed, holdout_fraction, calibration_fraction)
    featurizer = WindowFeaturizer()
    table = featurizer.table(texts_of(records, splits.train), progress)
    timings["features_s"] = time.perf_counter() - t
    y_train = labels_of(records, splits.train)
    model = fit_window_model(table, np.arange(len(splits.train)), y_train)
    graph_module = HybridGraph(
        featurizer.module,
        torch.from_numpy(model.mean),
        torch.from_numpy(model.scale),
        torch.from_numpy(model.coef),
        model.intercept,
    )
    t = time.perf_counter()
    graph = export_graph(graph_module, GRAPH_INPUTS, ["llm_logit", "features"])
    timings["export_s"] = time.perf_counter() - t
    files = {MODEL_FILE: graph, **featurizer.tokenizer_files()}
    split = splits.spec(seed, holdout_fraction, calibration_fraction)
    draft = draft_manifest("hybrid", featurizer.windows, corpus, split)
    t = time.perf_counter()
    scored = score_draft(
        draft,
        files,
        {"calibration": texts_of(records, splits.calibration), "hold-out": texts_of(records, splits.holdout)},
        threads=threads,
        progress=progress,
        chunk=32,
    )
    cal_logits, hold_logits = scored["calibration"], scored["hold-out"]
    timings["calibrate_and_evaluate_s"] = time.perf_counter() - t
    y_cal = labels_of(records, splits.calibration)
    calibration = fit_platt(cal_logits, y_cal, fitted_on=f"calibration split ({len(y_cal)} texts)")
    thresholds = thresholds_at_fpr(calibration.apply(cal_logits)[y_cal == 0])
    holdout_records: list[CorpusRecord] = [records[i] for i in splits.holdout]
    manifest = draft.model_copy(
        update={
            "calibration": calibration,
            "thresholds": thresholds,
            "metrics": {
                "holdout": evaluate_scores(holdout_records, calibration.apply(hold_logits), thresholds)
            },
            "training": {
                "model": "logistic regression over LM window statistics (SmolLM2-135M) and the "
                "all-MiniLM-L6-v2 embedding of the same span",
                "features": [*FEATURES, f"embedding[{table.features.shape[1] - len(FEATURES)}]"],
                "sample_size": sample_size,
                "C": 1.0,
                "timings": {k: round(v, 1) for k, v in timings.items()},
                "opset": OPSET,
            },
        }
    )
    write_bundle(out, manifest, files)
    return manifest
