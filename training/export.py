"""Transformer checkpoint → calibrated, evaluated ONNX bundles (fp32 and int8).

For each precision:

1. the graph: ``torch.onnx.export`` of the classifier with dynamic batch and sequence axes, inputs
   ``input_ids`` and ``attention_mask``, output ``llm_logit`` [batch]; then ONNX Runtime's transformer
   optimizer fuses attention, layer norm and GELU (what makes CPU inference fast); int8 is dynamic
   quantization of that fused graph (weights int8 per channel, activations quantized per batch at run
   time, attention included);
2. calibration: the *exported* graph, run by the runtime (:class:`detector.Detector`, windows and all),
   scores the checkpoint's calibration split; Platt scaling and the 1%/5% FPR thresholds come from
   those scores, so they hold for exactly what users run;
3. evaluation: the same on the grouped hold-out, stored in the manifest's metrics.

The splits are rebuilt from the corpus and the checkpoint's split spec; a corpus whose fingerprint
differs from the checkpoint's is refused, since its "hold-out" would not be held out.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch
from onnxruntime.quantization import QuantType, quantize_dynamic
from onnxruntime.transformers.optimizer import optimize_model
from tqdm import tqdm
from transformers import PreTrainedModel

from detector.bundle import (
    MODEL_FILE,
    TOKENIZER_FILE,
    BundleManifest,
    Calibration,
    CorpusFingerprint,
    ModelKind,
    Precision,
    SplitSpec,
    WindowSpec,
    write_bundle,
)
from detector.runtime import Detector
from training.calibration import fit_platt, thresholds_at_fpr
from training.metrics import evaluate_scores
from training.readers import FieldMapping
from training.train import MAX_TEXT_CHARS, labels_of, make_splits, read_training_corpus, texts_of
from training.transformer import load_checkpoint

log = logging.getLogger("humanlike.export")

OPSET = 17


class _LogitOnly(torch.nn.Module):
    """The classifier with the graph contract: (input_ids, attention_mask) → llm_logit [batch]."""

    def __init__(self, model: PreTrainedModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        logits: torch.Tensor = self.model(input_ids=input_ids, attention_mask=attention_mask).logits
        return logits[:, 0]


def to_onnx(model: PreTrainedModel) -> onnx.ModelProto:
    """The fp32 graph as PyTorch computes it (no fusion), with dynamic batch and sequence axes."""
    model.train(False)
    example = (torch.ones((2, 16), dtype=torch.int64), torch.ones((2, 16), dtype=torch.int64))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.onnx"
        _export_torchscript(model, example, path)
        return onnx.load(path)


def _export_torchscript(model: PreTrainedModel, example: tuple[torch.Tensor, ...], path: Path) -> None:
    # The TorchScript exporter (dynamo=False) writes one self-contained file with dynamic axes as named.
    torch.onnx.export(
        _LogitOnly(model),
        example,
        str(path),
        input_names=["input_ids", "attention_mask"],
        output_names=["llm_logit"],
        dynamic_axes={
            "input_ids": {0: "batch", 1: "sequence"},
            "attention_mask": {0: "batch", 1: "sequence"},
        },
        opset_version=OPSET,
        dynamo=False,
    )


def fuse(graph: onnx.ModelProto, model: PreTrainedModel) -> onnx.ModelProto:
    """ONNX Runtime's BERT fusions (attention, skip-layer-norm, GELU); numerically the same model."""
    config = model.config
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw.onnx"
        onnx.save(graph, raw)
        optimized = optimize_model(
            str(raw),
            model_type="bert",
            num_heads=config.num_attention_heads,
            hidden_size=config.hidden_size,
            opt_level=1,
            use_gpu=False,
        )
        return optimized.model  # type: ignore[no-any-return]


def quantize_int8(graph: onnx.ModelProto) -> onnx.ModelProto:
    """Dynamic int8 quantization: int8 weights, activations quantized per batch at run time."""
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "fp32.onnx", Path(tmp) / "int8.onnx"
        onnx.save(graph, src)
        # Shape inference cannot type the outputs of the fused (com.microsoft) operators; they are float.
        quantize_dynamic(
            src,
            dst,
            weight_type=QuantType.QInt8,
            per_channel=True,
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )
        return onnx.load(dst)


def build_graphs(model: PreTrainedModel, precisions: Sequence[Precision]) -> dict[Precision, bytes]:
    """Serialized graphs for each precision."""
    fused = fuse(to_onnx(model), model)
    graphs: dict[Precision, bytes] = {}
    for precision in precisions:
        graph = fused if precision == "fp32" else quantize_int8(fused)
        graphs[precision] = graph.SerializeToString()
    return graphs


def draft_manifest(
    kind: ModelKind,
    windows: WindowSpec | None,
    corpus: CorpusFingerprint,
    split: SplitSpec,
    precision: Precision = "fp32",
) -> BundleManifest:
    """A bundle's manifest before calibration: enough for the runtime to load and score its graph."""
    return BundleManifest(
        kind=kind,
        precision=precision,
        max_length=MAX_TEXT_CHARS,
        windows=windows,
        calibration=Calibration(fitted_on="uncalibrated draft"),
        thresholds=[],
        corpus=corpus,
        split=split,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        humanlike_version=version("humanlike"),
    )


def score_draft(
    draft: BundleManifest,
    files: dict[str, bytes],
    parts: dict[str, list[str]],
    *,
    threads: int | None = None,
    progress: bool = True,
    chunk: int = 256,
) -> dict[str, np.ndarray]:
    """Raw text logits of each named list of texts, from the draft bundle run by the runtime itself.

    Calibration and evaluation score through here, so they hold for exactly what users run.
    ``chunk`` is texts per progress step (the runtime plans its own batches).
    """
    with tempfile.TemporaryDirectory() as tmp:
        detector = Detector(write_bundle(Path(tmp) / "draft", draft, files), device="cpu", threads=threads)
        return {
            name: _logits(detector, texts, f"{draft.kind} {draft.precision}: {name}", progress, chunk)
            for name, texts in parts.items()
        }


def export_bundles(
    checkpoint: str | Path,
    corpus_paths: Sequence[str],
    out: str | Path,
    *,
    precisions: Sequence[Precision] = ("fp32", "int8"),
    mapping: FieldMapping | None = None,
    threads: int | None = None,
    progress: bool = True,
) -> dict[Precision, BundleManifest]:
    """Writes ``OUT/<precision>`` bundles from a checkpoint; returns their manifests.

    Raises:
        ValueError: the corpus is not the one the checkpoint was trained on (fingerprint differs).
    """
    # Eager attention exports as the plain MatMul/Softmax pattern that ONNX Runtime fuses into its
    # Attention operator; the default (SDPA) exports with NaN guards that block the fusion, and the
    # unfused graph ran about 1.1x (fp32) and 1.3x (int8) slower on 2 CPU cores (bench/RESULTS.md).
    # Same weights, same logits.
    model, meta = load_checkpoint(checkpoint, attn_implementation="eager")
    training: dict[str, Any] = meta["training"]
    split = SplitSpec.model_validate(meta["split"])
    trained_on = CorpusFingerprint.model_validate(meta["corpus"])
    config = training["config"]
    windows = WindowSpec(max_tokens=config["max_tokens"], overlap=config["window_overlap"])

    records, corpus, _ = read_training_corpus(corpus_paths, mapping, training.get("sample_size"), split.seed)
    if corpus.sha256 != trained_on.sha256:
        raise ValueError(
            f"the corpus at {', '.join(corpus_paths)} is not the one {checkpoint} was trained on "
            f"(fingerprint {corpus.sha256[:12]} != {trained_on.sha256[:12]}); calibration and hold-out "
            "need the training corpus"
        )
    splits = make_splits(records, split.seed, split.holdout_fraction, split.calibration_fraction)

    t0 = time.perf_counter()
    graphs = build_graphs(model, precisions)
    export_s = time.perf_counter() - t0
    tokenizer = (Path(checkpoint) / TOKENIZER_FILE).read_bytes()

    written: dict[Precision, BundleManifest] = {}
    for precision, graph in graphs.items():
        draft = draft_manifest("transformer", windows, trained_on, split, precision)
        files = {MODEL_FILE: graph, TOKENIZER_FILE: tokenizer}
        t = time.perf_counter()
        scored = score_draft(
            draft,
            files,
            {
                "calibration": texts_of(records, splits.calibration),
                "hold-out": texts_of(records, splits.holdout),
            },
            threads=threads,
            progress=progress,
        )
        cal_logits, hold_logits = scored["calibration"], scored["hold-out"]
        score_s = time.perf_counter() - t
        y_cal = labels_of(records, splits.calibration)
        calibration = fit_platt(cal_logits, y_cal, fitted_on=f"calibration split ({len(y_cal)} texts)")
        thresholds = thresholds_at_fpr(calibration.apply(cal_logits)[y_cal == 0])
        holdout_records = [records[i] for i in splits.holdout]
        metrics = {"holdout": evaluate_scores(holdout_records, calibration.apply(hold_logits), thresholds)}
        manifest = draft.model_copy(
            update={
                "calibration": calibration,
                "thresholds": thresholds,
                "metrics": metrics,
                "training": {
                    "model": f"{meta['base_model']} fine-tuned as a sequence classifier (transformers)",
                    **training,
                    "export": {
                        "opset": OPSET,
                        "graph": "TorchScript export + ONNX Runtime BERT fusions"
                        + (
                            " + dynamic int8 quantization (per-channel weights)"
                            if precision == "int8"
                            else ""
                        ),
                        "export_s": round(export_s, 1),
                        "calibrate_and_evaluate_s": round(score_s, 1),
                    },
                },
            }
        )
        target = Path(out) / precision
        write_bundle(target, manifest, files)
        log.info("wrote %s", target)
        written[precision] = manifest
    return written


def _logits(detector: Detector, texts: list[str], desc: str, progress: bool, chunk: int = 256) -> np.ndarray:
    out = np.empty(len(texts), dtype=np.float64)
    with tqdm(total=len(texts), desc=desc, disable=not progress, unit="text") as bar:
        for start in range(0, len(texts), chunk):
            out[start : start + chunk] = detector.llm_logits(texts[start : start + chunk])
            bar.update(min(chunk, len(texts) - start))
    return out
