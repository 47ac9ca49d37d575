"""The ``transformer`` kind's graph: a fine-tuned checkpoint → calibrated, evaluated ONNX bundles (fp32,
int8).

For each precision:

1. the graph: ``torch.onnx.export`` of the classifier with dynamic batch and sequence axes, inputs
   ``input_ids`` and ``attention_mask``, output ``llm_logit`` [batch]; then ONNX Runtime's transformer
   optimizer fuses attention, layer norm and GELU (what makes CPU inference fast); int8 is dynamic
   quantization of that fused graph (weights int8 per channel, activations quantized per batch at run
   time, attention included);
2. calibration: the *exported* graph, run by the runtime (:class:`humanlike.detector.Detector`, windows
and all),
   scores the checkpoint's calibration split (:func:`humanlike.training.build.build_bundle`); Platt
   scaling and the 1%/5% FPR thresholds come from
   those scores, so they hold for exactly what users run;
3. evaluation: the same on the grouped hold-out, stored in the manifest's metrics.

The splits are rebuilt from the corpus and the checkpoint's split spec; a corpus whose fingerprint
differs from the checkpoint's is refused, since its "hold-out" would not be held out.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import onnx
import torch
from onnxruntime.quantization import QuantType, quantize_dynamic
from onnxruntime.transformers.optimizer import optimize_model
from transformers import PreTrainedModel

from humanlike.detector.atomic import check_output_directory
from humanlike.detector.bundle import (
    MODEL_FILE,
    TOKENIZER_FILE,
    BundleManifest,
    CorpusFingerprint,
    Precision,
    SplitSpec,
    WindowSpec,
)
from humanlike.training.build import BuildData, DraftBundle, build_bundle
from humanlike.training.data.corpus import read_training_corpus
from humanlike.training.data.readers import FieldMapping
from humanlike.training.data.splits import make_splits
from humanlike.training.models.transformer import load_checkpoint

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


def quantize_int8(graph: onnx.ModelProto, *, reduce_range: bool = False) -> onnx.ModelProto:
    """Dynamic int8 quantization: int8 weights, activations quantized per batch at run time.

    Args:
        reduce_range: 7-bit weights, which cannot saturate the int16 pair sums of ONNX Runtime's u8 x s8
            kernel on CPUs without VNNI. The LM graphs need them; this encoder does not (measured by
            ``research/probe_int8_saturation.py``).
    """
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "fp32.onnx", Path(tmp) / "int8.onnx"
        onnx.save(graph, src)
        # Shape inference cannot type the outputs of the fused (com.microsoft) operators; they are float.
        quantize_dynamic(
            src,
            dst,
            weight_type=QuantType.QInt8,
            per_channel=True,
            reduce_range=reduce_range,
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
        OutputPathError: ``OUT/<precision>`` is a place this must not write (before any work starts).
    """
    for precision in precisions:
        check_output_directory(Path(out) / precision, "bundle")
    # Eager attention exports as the plain MatMul/Softmax pattern that ONNX Runtime fuses into its
    # Attention operator; the default (SDPA) exports with NaN guards that block the fusion, and the
    # unfused graph runs slower (bench/RESULTS.md).
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
    data = BuildData(
        records, trained_on, splits, split, f"calibration split ({len(splits.calibration)} texts)"
    )

    t0 = time.perf_counter()
    graphs = build_graphs(model, precisions)
    export_s = time.perf_counter() - t0
    tokenizer = (Path(checkpoint) / TOKENIZER_FILE).read_bytes()

    written: dict[Precision, BundleManifest] = {}
    for precision, graph in graphs.items():
        quantized = " + dynamic int8 quantization (per-channel weights)" if precision == "int8" else ""
        draft = DraftBundle(
            kind="transformer",
            files={MODEL_FILE: graph, TOKENIZER_FILE: tokenizer},
            windows=windows,
            precision=precision,
            training={
                "model": f"{meta['base_model']} fine-tuned as a sequence classifier (transformers)",
                **training,
                "export": {
                    "opset": OPSET,
                    "graph": "TorchScript export + ONNX Runtime BERT fusions" + quantized,
                    "export_s": round(export_s, 1),
                },
            },
        )
        written[precision] = build_bundle(
            draft, Path(out) / precision, data, threads=threads, progress=progress
        )
    return written
