"""The scoring core: a verified bundle, an ONNX Runtime session, and ``score_texts``.

Every entry point (CLI, HTTP, gRPC, batch ranking) scores through :meth:`Detector.score_texts`, so
validation, batching and calibration happen in one place.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import onnxruntime as ort

from detector.bundle import FEATURES_FILE, MODEL_FILE, BundleError, BundleManifest, read_bundle
from detector.features import NgramFeatureSpec, NgramFeaturizer

Device = Literal["auto", "cpu", "cuda"]


class InvalidTextError(ValueError):
    """A text the detector refuses (empty, blank, too long, not a string), with its position."""

    def __init__(self, index: int, reason: str) -> None:
        super().__init__(f"text {index}: {reason}")
        self.index = index
        self.reason = reason


@dataclass(frozen=True)
class TextScore:
    """One text's score. ``human_likeness`` is ``1 - p_llm``: higher reads more human."""

    p_llm: float
    human_likeness: float
    flagged: dict[str, bool]
    """For each stored threshold (key: target false-positive rate, e.g. ``"0.01"``), whether the text
    is flagged as LLM-written at that operating point."""


@dataclass(frozen=True)
class ModelInfo:
    path: str
    kind: str
    format_version: int
    max_length: int
    provider: str
    available_providers: list[str]
    intra_op_threads: int
    thresholds: dict[str, float] = field(default_factory=dict)


def check_text(text: object, max_length: int) -> str | None:
    """Why a text cannot be scored, or None when it can."""
    if not isinstance(text, str):
        return f"expected a string, got {type(text).__name__}"
    if not text.strip():
        return "empty text"
    if len(text) > max_length:
        return f"text has {len(text)} characters, more than this model's limit of {max_length}"
    return None


def usable_cores() -> int:
    """Cores this process may run on (the affinity mask where the OS has one, e.g. in containers)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def choose_providers(device: Device) -> list[str]:
    """CUDA when asked for or present (``auto``), else CPU. CPU always stays as the fallback."""
    available = ort.get_available_providers()
    if device == "cuda" and "CUDAExecutionProvider" not in available:
        raise RuntimeError(
            "device 'cuda' was requested but this onnxruntime has no CUDA execution provider "
            f"(available: {', '.join(available)}); install the 'gpu' extra"
        )
    if device in ("auto", "cuda") and "CUDAExecutionProvider" in available:
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


class Detector:
    """A loaded bundle, ready to score.

    Args:
        path: bundle directory (see :mod:`detector.bundle`).
        device: ``"auto"`` (CUDA when present, else CPU), ``"cpu"`` or ``"cuda"``.
        threads: intra-op threads for the CPU provider; default: the machine's usable cores.
    """

    def __init__(self, path: str | os.PathLike[str], device: Device = "auto", threads: int | None = None):
        root, manifest = read_bundle(path)
        self.path = root
        self.manifest: BundleManifest = manifest
        self._featurizer = NgramFeaturizer(
            NgramFeatureSpec.model_validate_json((root / FEATURES_FILE).read_bytes())
        )
        options = ort.SessionOptions()
        self._threads = threads or usable_cores()
        options.intra_op_num_threads = self._threads
        options.inter_op_num_threads = 1
        try:
            self._session = ort.InferenceSession(
                str(root / MODEL_FILE), sess_options=options, providers=choose_providers(device)
            )
        except Exception as e:  # onnxruntime raises its own Fail/InvalidGraph types
            raise BundleError(f"bundle {root}: {MODEL_FILE} could not be loaded by ONNX Runtime: {e}") from e
        outputs = [o.name for o in self._session.get_outputs()]
        if "llm_logit" not in outputs:
            raise BundleError(f"bundle {root}: the graph has no 'llm_logit' output (outputs: {outputs})")
        self._thresholds = {f"{t.target_fpr:g}": t.p_llm for t in manifest.thresholds}

    @property
    def info(self) -> ModelInfo:
        return ModelInfo(
            path=str(self.path),
            kind=self.manifest.kind,
            format_version=self.manifest.format_version,
            max_length=self.manifest.max_length,
            provider=self._session.get_providers()[0],
            available_providers=ort.get_available_providers(),
            intra_op_threads=self._threads,
            thresholds=dict(self._thresholds),
        )

    def check_text(self, text: object) -> str | None:
        """Why ``text`` cannot be scored by this model, or None when it can."""
        return check_text(text, self.manifest.max_length)

    def llm_logits(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        """Raw (uncalibrated) graph output for each text, in input order."""
        for i, text in enumerate(texts):
            reason = self.check_text(text)
            if reason is not None:
                raise InvalidTextError(i, reason)
        logits = np.empty(len(texts), dtype=np.float64)
        # Sorting by length keeps texts of similar length together, which cuts padding.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            feed = self._featurizer.encode([texts[i] for i in chunk]).as_feed()
            (out,) = self._session.run(["llm_logit"], feed)
            logits[chunk] = out
        return logits

    def calibrate(self, logits: np.ndarray) -> np.ndarray:
        """Calibrated P(llm) for raw logits."""
        return self.manifest.calibration.apply(logits)

    def score_texts(self, texts: Sequence[str], batch_size: int = 32) -> list[TextScore]:
        """Scores texts, in input order.

        Raises:
            InvalidTextError: a text is empty, blank, not a string, or longer than ``max_length``;
                nothing is scored then (check texts with :meth:`check_text` to skip bad ones).
        """
        if isinstance(texts, str):
            raise TypeError("score_texts takes a sequence of texts, not one string")
        p_llm = self.calibrate(self.llm_logits(texts, batch_size))
        return [self._score(float(p)) for p in p_llm]

    def _score(self, p_llm: float) -> TextScore:
        return TextScore(
            p_llm=p_llm,
            human_likeness=1.0 - p_llm,
            flagged={fpr: p_llm > threshold for fpr, threshold in self._thresholds.items()},
        )
