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
import time
from collections.abc import Sequence
from pathlib import Path

from humanlike.detector.bundle import MODEL_FILE, TOKENIZER_FILE, BundleManifest, WindowSpec
from humanlike.training.build import BuildData, DraftBundle, build_bundle, write_uncalibrated
from humanlike.training.config import ZeroShotConfig
from humanlike.training.data.readers import FieldMapping
from humanlike.training.models.lm import FEATURES, OPSET, ZeroShotGraph, export_graph, load_lm
from humanlike.training.pretrained import default_lm_gguf

log = logging.getLogger("humanlike.zero_shot")


def zero_shot_draft(max_tokens: int = ZeroShotConfig.max_tokens) -> DraftBundle:
    """The packaged LM's graph with the criterion as ``llm_logit`` (and its features and LM logits)."""
    t = time.perf_counter()
    gguf = default_lm_gguf()
    lm, tokenizer = load_lm(gguf)
    graph = export_graph(
        ZeroShotGraph(lm), ["input_ids", "attention_mask"], ["llm_logit", "features", "lm_logits"]
    )
    return DraftBundle(
        kind="zero-shot",
        files={MODEL_FILE: graph, TOKENIZER_FILE: tokenizer.to_str().encode("utf-8")},
        windows=WindowSpec(max_tokens=max_tokens, overlap=0),
        training={
            "model": f"zero-shot: Fast-DetectGPT analytic criterion of {gguf.name} (no training)",
            "features": list(FEATURES),
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
        draft: the graph from :func:`zero_shot_draft`, when one was exported already.
    """
    draft = draft or zero_shot_draft(config.max_tokens)
    if not corpus_paths:
        manifest = write_uncalibrated(
            draft, out, "none: no labelled texts were given; p_llm = sigmoid(criterion), no thresholds", seed
        )
        log.warning("wrote %s uncalibrated: no labelled texts, so no thresholds at fixed FPR", out)
        return manifest
    data = BuildData.calibration_sample(corpus_paths, config.calibration_size, seed=seed, mapping=mapping)
    return build_bundle(draft, out, data, threads=threads, progress=progress, chunk=32)
