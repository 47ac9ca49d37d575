"""The scoring core: a verified bundle, an ONNX Runtime session, and ``score_texts``.

Every entry point (CLI, HTTP, gRPC, batch ranking) scores through :meth:`Detector.score_texts`, so
validation, batching and calibration happen in one place.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import onnxruntime as ort

from humanlike.detector.bundle import (
    ENCODER_TOKENIZER_FILE,
    FEATURES_FILE,
    MODEL_FILE,
    TOKENIZER_FILE,
    BundleError,
    BundleManifest,
    VerifiedBundle,
    read_bundle,
)
from humanlike.detector.devices import Device
from humanlike.detector.features import load_featurizer
from humanlike.detector.inputs import HybridWindows, InputEncoder, NgramWindows, TokenWindows, Window


class InvalidTextError(ValueError):
    """A text the detector refuses (empty, blank, too long, not a string), with its position."""

    def __init__(self, index: int, reason: str) -> None:
        super().__init__(f"text {index}: {reason}")
        self.index = index
        self.reason = reason


@dataclass(frozen=True)
class WindowScore:
    """The score of one span of a text (characters ``start:end``), read by the model on its own."""

    start: int
    end: int
    p_llm: float


@dataclass(frozen=True)
class TextScore:
    """One text's score. ``human_likeness`` is ``1 - p_llm``: higher reads more human."""

    p_llm: float
    human_likeness: float
    flagged: dict[str, bool]
    """For each stored threshold (key: target false-positive rate, e.g. ``"0.01"``), whether the text
    is flagged as LLM-written at that operating point."""
    windows: list[WindowScore] | None = None
    """Per-window scores, in text order, when asked for (``score_texts(..., windows=True)``)."""


@dataclass(frozen=True)
class ModelInfo:
    path: str
    kind: str
    format_version: int
    max_length: int
    provider: str
    """The execution provider that runs the graph (the first of ``providers``)."""
    providers: list[str]
    """The session's providers in priority order; nodes a provider cannot run fall to the next."""
    available_providers: list[str]
    intra_op_threads: int
    precision: str
    max_tokens: int | None
    """Window length in tokens (transformer bundles); None when the graph reads whole texts."""
    max_batch_tokens: int
    thresholds: dict[str, float] = field(default_factory=dict)


BLANK_CHARACTERS = (
    "\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000\ufeff"
)
"""What a text may not consist of only: the whitespace of JSON Schema's (ECMA-262's) ``\\s``, spelled out,
so that the HTTP schema's pattern and this check agree character for character (Python's own
``str.isspace`` also counts the ASCII separators U+001C-U+001F, which no schema validator does)."""


def check_text(text: object, max_length: int) -> str | None:
    """Why a text cannot be scored, or None when it can."""
    if not isinstance(text, str):
        return f"expected a string, got {type(text).__name__}"
    if not text.strip(BLANK_CHARACTERS):
        return "empty text"
    if len(text) > max_length:
        return f"text has {len(text)} characters, more than this model's limit of {max_length}"
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as e:  # JSON's "\ud800" escapes decode to lone surrogates
            return f"text is not valid Unicode: a lone surrogate at character {e.start}"
    return None


def usable_cores() -> int:
    """Cores this process may run on (the affinity mask where the OS has one, e.g. in containers)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def scoring_processes(manifest: BundleManifest, provider: str) -> int:
    """How many processes score a bundle's texts side by side when nobody said: one per core for an
    n-gram bundle on the CPU with two or more cores (its featurizer is Python on one core, so a second
    process uses the second core), else 1, this process alone (a token model's graph already uses every
    core, and a GPU is one device). The server and the curriculum both follow this rule."""
    cores = usable_cores()
    ngram_on_cpu = manifest.kind == "ngram-linear" and provider == "CPUExecutionProvider"
    return cores if ngram_on_cpu and cores > 1 else 1


def choose_providers(device: Device, available: Sequence[str] | None = None) -> list[str]:
    """TensorRT then CUDA when asked for or present (``auto``), else CPU; CPU always stays as the fallback.

    TensorRT comes first when the installed onnxruntime has it: ONNX Runtime hands it the subgraphs it
    supports and gives the rest (e.g. quantized or fused operators it lacks) to CUDA, then CPU.
    """
    available = list(ort.get_available_providers() if available is None else available)
    if device == "cuda" and "CUDAExecutionProvider" not in available:
        raise RuntimeError(
            "device 'cuda' was requested but this onnxruntime has no CUDA execution provider "
            f"(available: {', '.join(available)}); install the 'gpu' extra"
        )
    if device in ("auto", "cuda") and "CUDAExecutionProvider" in available:
        gpu = ["CUDAExecutionProvider", "CPUExecutionProvider"]
        return (["TensorrtExecutionProvider"] if "TensorrtExecutionProvider" in available else []) + gpu
    return ["CPUExecutionProvider"]


def plan_batches(sizes: Sequence[int], max_batch_tokens: int, max_batch_size: int) -> list[list[int]]:
    """Groups window indices into batches, shortest first, so that each padded batch stays under a cap.

    A batch's cost is what the graph computes on: its longest window times its number of windows
    (every row is padded to the longest). Sorting by size keeps neighbours alike, so padding is small,
    and capping by tokens rather than count lets many short windows share one batch while long ones go
    a few at a time. A window larger than the cap gets a batch of its own.
    """
    order = sorted(range(len(sizes)), key=lambda i: sizes[i])
    batches: list[list[int]] = []
    current: list[int] = []
    for i in order:
        width = max(1, sizes[i])  # sorted ascending: the newest window is the batch's longest
        if current and ((len(current) + 1) * width > max_batch_tokens or len(current) >= max_batch_size):
            batches.append(current)
            current = []
        current.append(i)
    if current:
        batches.append(current)
    return batches


def aggregate_windows(windows: Sequence[Window], logits: np.ndarray, n_texts: int) -> np.ndarray:
    """Each text's logit: the mean of its windows' logits weighted by window size."""
    index = np.fromiter((w.text_index for w in windows), dtype=np.int64, count=len(windows))
    sizes = np.fromiter((max(1, w.size) for w in windows), dtype=np.float64, count=len(windows))
    weight = np.bincount(index, weights=sizes, minlength=n_texts)
    return np.bincount(index, weights=sizes * logits, minlength=n_texts) / np.maximum(weight, 1.0)


class Detector:
    """A loaded bundle, ready to score.

    Args:
        path: bundle directory (see :mod:`humanlike.detector.bundle`), verified on load; or a
            :class:`~humanlike.detector.bundle.VerifiedBundle` its reader verified already.
        device: ``"auto"`` (CUDA when present, else CPU), ``"cpu"`` or ``"cuda"``.
        threads: intra-op threads for the CPU provider; default: the machine's usable cores.
        max_batch_tokens: cap on a batch's padded size (windows x longest window, in tokens for the
            transformer, characters for the n-gram graph); default: the model kind's.
        spin_wait: let ONNX Runtime's idle intra-op threads spin between operators and calls. Off by
            default: a spinning thread holds a core that the rest of the process needs (the n-gram
            featurizer, a curriculum's metrics process, the server's batcher); the trade is measured
            in bench/RESULTS.md.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | VerifiedBundle,
        device: Device = "auto",
        threads: int | None = None,
        max_batch_tokens: int | None = None,
        spin_wait: bool = False,
    ):
        # A VerifiedBundle was checked by its reader just before; anything else is verified here.
        root, manifest = (path.path, path.manifest) if isinstance(path, VerifiedBundle) else read_bundle(path)
        self.path = root
        self.manifest: BundleManifest = manifest
        self._inputs: InputEncoder
        if manifest.windows is not None:
            spec = manifest.windows
            if spec.encoder_max_tokens is not None:
                self._inputs = HybridWindows(
                    root / TOKENIZER_FILE,
                    root / ENCODER_TOKENIZER_FILE,
                    spec.max_tokens,
                    spec.overlap,
                    spec.encoder_max_tokens,
                )
            else:
                self._inputs = TokenWindows(root / TOKENIZER_FILE, spec.max_tokens, spec.overlap)
            # An LM graph holds [batch, tokens, vocabulary] floats (49k-word vocabulary: 200 KB a token):
            # 8 windows a batch keep that near 200 MB; an encoder's activations are far smaller.
            default_cap = (64 if manifest.kind == "transformer" else 8) * spec.max_tokens
        else:
            try:
                featurizer = load_featurizer((root / FEATURES_FILE).read_bytes())
            except ValueError as e:  # pydantic's ValidationError and json's errors are ValueErrors
                raise BundleError(f"bundle {root}: invalid {FEATURES_FILE}: {e}") from e
            self._inputs = NgramWindows(featurizer)
            default_cap = 1 << 20
        self.max_batch_tokens = max_batch_tokens or default_cap
        options = ort.SessionOptions()
        self._threads = threads or usable_cores()
        options.intra_op_num_threads = self._threads
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin_wait else "0")
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
        providers = self._session.get_providers()
        return ModelInfo(
            path=str(self.path),
            kind=self.manifest.kind,
            format_version=self.manifest.format_version,
            max_length=self.manifest.max_length,
            provider=providers[0],
            providers=list(providers),
            available_providers=ort.get_available_providers(),
            intra_op_threads=self._threads,
            precision=self.manifest.precision,
            max_tokens=self.manifest.windows.max_tokens if self.manifest.windows else None,
            max_batch_tokens=self.max_batch_tokens,
            thresholds=dict(self._thresholds),
        )

    def check_text(self, text: object) -> str | None:
        """Why ``text`` cannot be scored by this model, or None when it can."""
        return check_text(text, self.manifest.max_length)

    def _check(self, texts: Sequence[str]) -> None:
        if isinstance(texts, str):
            raise TypeError("pass a sequence of texts, not one string")
        for i, text in enumerate(texts):
            reason = self.check_text(text)
            if reason is not None:
                raise InvalidTextError(i, reason)

    def windows(self, texts: Sequence[str]) -> list[Window]:
        """The windows the graph reads for ``texts`` (one per text for n-gram bundles)."""
        self._check(texts)
        return self._inputs.windows(texts)

    def window_logits(self, texts: Sequence[str], batch_size: int = 64) -> tuple[list[Window], np.ndarray]:
        """Every window of every text and its raw ``llm_logit``, in text order.

        Args:
            batch_size: most windows per batch (the token cap :attr:`max_batch_tokens` applies too).
        """
        windows = self.windows(texts)
        logits = np.empty(len(windows), dtype=np.float64)
        for batch in plan_batches([w.size for w in windows], self.max_batch_tokens, batch_size):
            logits[batch] = self.run_windows(texts, [windows[i] for i in batch])
        return windows, logits

    def run_windows(self, texts: Sequence[str], windows: Sequence[Window]) -> np.ndarray:
        """One graph call: the raw ``llm_logit`` of each window (``w.text_index`` indexes ``texts``).

        The caller chooses the batch (see :func:`plan_batches`); the serving batcher uses this to put
        windows of many requests into one call.
        """
        (out,) = self._session.run(["llm_logit"], self._inputs.feed(texts, windows))
        return np.asarray(out, dtype=np.float64)

    def llm_logits(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """Raw (uncalibrated) logit of each text, in input order.

        A text read as several windows gets the mean of its windows' logits weighted by their sizes,
        so every token counts once however the text was cut.
        """
        windows, logits = self.window_logits(texts, batch_size)
        return aggregate_windows(windows, logits, len(texts))

    def calibrate(self, logits: np.ndarray) -> np.ndarray:
        """Calibrated P(llm) for raw logits."""
        return self.manifest.calibration.apply(logits)

    def score_texts(
        self, texts: Sequence[str], batch_size: int = 64, windows: bool = False
    ) -> list[TextScore]:
        """Scores texts, in input order.

        Args:
            texts: the texts.
            batch_size: most windows per graph call.
            windows: also return each text's per-window scores (which part reads as LLM-written).
                A window's ``p_llm`` uses the text-level calibration on that window alone.

        Raises:
            InvalidTextError: a text is empty, blank, not a string, or longer than ``max_length``;
                nothing is scored then (check texts with :meth:`check_text` to skip bad ones).
        """
        if isinstance(texts, str):
            raise TypeError("score_texts takes a sequence of texts, not one string")
        spans, logits = self.window_logits(texts, batch_size)
        return self.score_windows(spans, logits, len(texts), windows=windows)

    def rank_texts(self, texts: Sequence[str], batch_size: int = 64) -> list[tuple[int, TextScore]]:
        """``(position in texts, score)``, most human-like first; ties keep input order.

        Raises:
            InvalidTextError: as :meth:`score_texts`.
        """
        scores = self.score_texts(texts, batch_size)
        order = sorted(range(len(scores)), key=lambda i: (-scores[i].human_likeness, i))
        return [(i, scores[i]) for i in order]

    def score_windows(
        self, spans: Sequence[Window], logits: np.ndarray, n_texts: int, windows: bool = False
    ) -> list[TextScore]:
        """Text scores from their windows' raw logits: aggregation, calibration and decisions.

        The second half of :meth:`score_texts`, for callers that ran the windows themselves.
        """
        p_llm = self.calibrate(aggregate_windows(spans, logits, n_texts))
        per_text: list[list[WindowScore]] | None = None
        if windows:
            per_text = [[] for _ in range(n_texts)]
            for w, p in zip(spans, self.calibrate(logits), strict=True):
                per_text[w.text_index].append(WindowScore(start=w.start, end=w.end, p_llm=float(p)))
        return [self._score(float(p), per_text[i] if per_text else None) for i, p in enumerate(p_llm)]

    def _score(self, p_llm: float, windows: list[WindowScore] | None = None) -> TextScore:
        return TextScore(
            p_llm=p_llm,
            human_likeness=1.0 - p_llm,
            flagged={fpr: p_llm > threshold for fpr, threshold in self._thresholds.items()},
            windows=windows,
        )
