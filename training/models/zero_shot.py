"""The ``zero-shot`` kind: Fast-DetectGPT's analytic criterion from the packaged LM, no training data.

``llm_logit`` is the criterion (see :mod:`humanlike.training.models.lm`), one per LM window, averaged per
text by the runtime. With labelled texts at hand (the shared corpus, found as ``humanlike train`` finds
it), a grouped sample of them calibrates it through :func:`humanlike.training.build.build_bundle`: Platt
scaling and the thresholds at 1% and 5% FPR on its human texts, metrics on the same sample (nothing was
trained on it). Without any, the bundle still scores (``p_llm = sigmoid(criterion)``) but carries no
thresholds, and says so in its manifest.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Self

import numpy as np
from tokenizers import Tokenizer
from transformers import PreTrainedModel

from humanlike.detector.atomic import check_output_directory
from humanlike.detector.bundle import MODEL_FILE, TOKENIZER_FILE, BundleManifest, WindowSpec, write_bundle
from humanlike.detector.runtime import Detector
from humanlike.training.build import (
    EMPTY_CORPUS,
    EMPTY_SPLIT,
    BuildData,
    DraftBundle,
    build_bundle,
    draft_manifest,
    write_uncalibrated,
)
from humanlike.training.config import ZeroShotConfig
from humanlike.training.data.readers import FieldMapping
from humanlike.training.data.schema import CorpusRecord
from humanlike.training.kinds import DetectorKind
from humanlike.training.models.lm import (
    OPSET,
    ZeroShotGraph,
    export_graph,
    load_lm,
    quantize_lm,
    smooth_for_int8,
)
from humanlike.training.pretrained import default_lm_gguf

log = logging.getLogger("humanlike.zero_shot")


class ZeroShotDetector(DetectorKind):
    """The ``zero-shot`` kind. Nothing is learnt: ``fit`` exports the packaged LM's graph, in int8
    (``config.precision``) smoothed on the first ``config.smoothing_texts`` texts of ``records`` and
    quantized, in fp32 when it is given no texts to smooth on. ``decision_function`` is the criterion
    as the runtime computes it from that graph."""

    name = "zero-shot"
    recipe_key = "zero-shot"

    def __init__(self, config: ZeroShotConfig = ZeroShotConfig()) -> None:
        self.config = config

    def fit(
        self, records: Sequence[CorpusRecord], *, validation: Sequence[CorpusRecord] | None = None
    ) -> Self:
        c = self.config
        texts = [r.text for r in records][: c.smoothing_texts]
        if c.precision == "int8" and texts:
            self.draft_ = int8_zero_shot_draft(texts, c.max_tokens, c.smoothing_alpha)
        else:
            self.draft_ = zero_shot_draft(c.max_tokens)
        self.runtime_: Detector | None = None  # a new graph: decision_function loads it afresh
        return self

    def decision_function(self, texts: Sequence[str]) -> np.ndarray:
        # The runtime scores the draft graph: written and loaded on the first call, kept for the rest.
        runtime = getattr(self, "runtime_", None)
        if runtime is None:
            self.runtime_dir_ = tempfile.TemporaryDirectory(prefix="zero-shot-draft-")
            manifest = draft_manifest(self.draft_, EMPTY_CORPUS, EMPTY_SPLIT)
            bundle = write_bundle(Path(self.runtime_dir_.name) / "draft", manifest, self.draft_.files)
            runtime = self.runtime_ = Detector(bundle, device="cpu")
        return np.asarray(runtime.llm_logits(list(texts)), dtype=np.float64)

    def draft_bundle(self) -> DraftBundle:
        return self.draft_


def zero_shot_draft(
    max_tokens: int = ZeroShotConfig.max_tokens, lm: tuple[PreTrainedModel, Tokenizer] | None = None
) -> DraftBundle:
    """The packaged LM's graph with the criterion as ``llm_logit`` (and the LM's logits).

    Args:
        lm: the LM and tokenizer from :func:`load_lm`, when loaded already (and perhaps smoothed).
    """
    t = time.perf_counter()
    gguf = default_lm_gguf()
    model, tokenizer = lm or load_lm(gguf)
    graph = export_graph(ZeroShotGraph(model), ["input_ids", "attention_mask"], ["llm_logit", "lm_logits"])
    return DraftBundle(
        kind="zero-shot",
        files={MODEL_FILE: graph, TOKENIZER_FILE: tokenizer.to_str().encode("utf-8")},
        windows=WindowSpec(max_tokens=max_tokens, overlap=0),
        training={
            "model": f"zero-shot: Fast-DetectGPT analytic criterion of {gguf.name} (no training)",
            "criterion": "fast_detectgpt",
            "export": {
                "opset": OPSET,
                "graph": "TorchScript export, fp32",
                "export_s": round(time.perf_counter() - t, 1),
            },
        },
    )


def build_zero_shot_bundle(
    out: str | Path,
    *,
    corpus_paths: Sequence[str] | None = None,
    config: ZeroShotConfig = ZeroShotConfig(),
    seed: int = 0,
    mapping: FieldMapping | None = None,
    threads: int | None = None,
    progress: bool = True,
    draft: DraftBundle | None = None,
) -> BundleManifest:
    """Writes a ``zero-shot`` bundle from the packaged LM to ``out``; returns its manifest.

    Args:
        corpus_paths: labelled texts to calibrate on (a grouped
            sample, ``config.calibration_size``); None: no calibration, no thresholds.
        config: ``precision="int8"`` (the default) smooths the LM on the first calibration texts and
            quantizes it (:func:`int8_zero_shot_draft`); without labelled texts the bundle is fp32.
        draft: a graph from :func:`zero_shot_draft` or :func:`int8_zero_shot_draft`, when one was
            exported already (``config.precision`` is then not read).

    Raises:
        OutputPathError: ``out`` is a place this must not write (before any work starts).
    """
    check_output_directory(out, "bundle")
    if not corpus_paths:
        if draft is None and config.precision == "int8":
            log.warning("no labelled texts to smooth the int8 graph on: the bundle is fp32")
        draft = draft or ZeroShotDetector(config).fit([]).draft_bundle()
        manifest = write_uncalibrated(
            draft, out, "none: no labelled texts were given; p_llm = sigmoid(criterion), no thresholds", seed
        )
        log.warning("wrote %s uncalibrated: no labelled texts, so no thresholds at fixed FPR", out)
        return manifest
    data = BuildData.calibration_sample(corpus_paths, config.calibration_size, seed=seed, mapping=mapping)
    if draft is None:
        draft = ZeroShotDetector(config).fit(data.records_at(data.splits.calibration)).draft_bundle()
    return build_bundle(draft, out, data, threads=threads, progress=progress, chunk=32)


def int8_zero_shot_draft(
    texts: Sequence[str],
    max_tokens: int = ZeroShotConfig.max_tokens,
    alpha: float = ZeroShotConfig.smoothing_alpha,
) -> DraftBundle:
    """The zero-shot graph in int8: the LM smoothed on ``texts`` (:func:`smooth_for_int8`), exported,
    and its weight MatMuls, the LM head's too, quantized (:func:`quantize_lm`).

    The criterion is a difference of near-equal sums, so it is sensitive to rounding: smoothing keeps
    it far closer to fp32's than plain dynamic int8 does (``bench/bench_lm_int8.py``). The bundle is
    its own detector, calibrated and evaluated as one; its manifest says how it was made.
    """
    if not texts:
        raise ValueError("int8 needs texts to measure the LM's activations on")
    t = time.perf_counter()
    lm, tokenizer = load_lm(default_lm_gguf())
    smooth_for_int8(lm, [tokenizer.encode(x).ids[:max_tokens] for x in texts], alpha)
    draft = zero_shot_draft(max_tokens, lm=(lm, tokenizer))
    draft.files[MODEL_FILE] = quantize_lm(draft.files[MODEL_FILE], "int8", keep_fp32=())
    draft.precision = "int8"
    draft.training["export"] = {
        **draft.training["export"],
        "graph": "TorchScript export, SmoothQuant then dynamic int8 (weights per channel, LM head too)",
        "smoothing": {"texts": len(texts), "alpha": alpha, "tokens_per_text": max_tokens},
        "export_s": round(time.perf_counter() - t, 1),
    }
    return draft
