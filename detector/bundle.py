"""The model bundle: a directory that holds one detector as data, never code.

Layout (like a Triton model directory, a model is a folder with a config)::

    BUNDLE/
      bundle.json     BundleManifest: format version, kind, labels, limits, calibration, thresholds,
                      corpus fingerprint, metrics
      model.onnx      the graph; every kind outputs ``llm_logit`` [batch] (log-odds of "llm")
      features.json   (kind "ngram-linear") the feature spec that turns text into the graph's inputs
                      (formats 3-5: the vocabulary, :class:`~humanlike.detector.features.SparseNgramSpec`)
      tokenizer.json  (kinds "transformer", "zero-shot", "hybrid") the Hugging Face ``tokenizers``
                      tokenizer; the manifest's ``windows`` says how texts are cut into token windows
      encoder_tokenizer.json  (kind "hybrid") the encoder's tokenizer: the encoder reads each window's
                      character span with it (at most ``windows.encoder_max_tokens`` tokens)
      README.md       the model card, written from the manifest (:mod:`humanlike.detector.card`)
      SHA256SUMS      sha256 of every other file, in ``sha256sum`` format (``sha256sum -c`` works)

:func:`read_bundle` refuses a bundle whose checksums, format version or manifest do not hold, with a
message that says which. :func:`write_bundle` is the only writer; it writes into a temporary directory
and renames it into place, so a bundle appears whole or not at all.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from humanlike.detector.atomic import OUTPUT_MARKER, atomic_directory

FORMAT_VERSION = 6
"""6: the manifest may hold ``share_reference`` (out-of-source score distributions of human and LLM texts,
which ``humanlike estimate`` reads); older runtimes refuse the field.
5: an n-gram bundle's ``features.json`` may hold a word-surprisal table (``surprisal``), and its graph
then also reads each text's surprisal profile (:mod:`humanlike.detector.surprisal`).
4: an n-gram bundle's ``features.json`` may distort the text (``kept_words``) and hold a second
reading of it (``next_view``); older runtimes would ignore both and score other text than the model read.
3: an n-gram bundle's graph reads sparse ``(text, column, count)`` rows and its ``features.json``
holds the vocabulary (:class:`~humanlike.detector.features.SparseNgramSpec`).
2: an n-gram bundle's ``features.json`` may name a text normalisation (older runtimes would ignore it
and score other text than the model read). Versions 1 and 2 are read as they are."""
READABLE_VERSIONS = (1, 2, 3, 4, 5, 6)
MANIFEST_FILE = "bundle.json"
CHECKSUM_FILE = "SHA256SUMS"
MODEL_FILE = "model.onnx"
FEATURES_FILE = "features.json"
TOKENIZER_FILE = "tokenizer.json"
ENCODER_TOKENIZER_FILE = "encoder_tokenizer.json"

ModelKind = Literal["ngram-linear", "transformer", "zero-shot", "hybrid"]
TOKEN_KINDS = frozenset({"transformer", "zero-shot", "hybrid"})
"""Kinds whose graph reads token windows (the manifest's ``windows`` section)."""
NEEDS: dict[str, tuple[str, ...]] = {
    "ngram-linear": (FEATURES_FILE,),
    "transformer": (TOKENIZER_FILE,),
    "zero-shot": (TOKENIZER_FILE,),
    "hybrid": (TOKENIZER_FILE, ENCODER_TOKENIZER_FILE),
}
"""Files each kind needs besides the manifest and the graph."""
Precision = Literal["fp32", "int8"]


class BundleError(Exception):
    """A bundle that cannot be used: missing, corrupt, truncated, foreign or too new."""


class Calibration(BaseModel):
    """Platt scaling of the graph's logit: ``p_llm = sigmoid(slope * llm_logit + intercept)``."""

    model_config = ConfigDict(frozen=True)

    method: Literal["platt"] = "platt"
    slope: float = 1.0
    intercept: float = 0.0
    fitted_on: str = Field(default="", description="which records the calibration was fitted on")

    def apply(self, logits: np.ndarray) -> np.ndarray:
        """Calibrated P(llm) for raw ``llm_logit`` values (the default, 1 and 0, is a plain sigmoid)."""
        z = self.slope * np.asarray(logits, dtype=np.float64) + self.intercept
        return np.asarray(1.0 / (1.0 + np.exp(-z)))


class Threshold(BaseModel):
    """A text is flagged as LLM-written when its calibrated ``p_llm`` is above ``p_llm``.

    Chosen on held-out human texts so that at most ``target_fpr`` of them are flagged.
    """

    model_config = ConfigDict(frozen=True)

    target_fpr: float
    p_llm: float
    measured_fpr: float
    n_human: int
    fitted_on: str = Field(default="", description="which human texts the threshold was chosen on")
    fpr_by_source: dict[str, float] = Field(
        default_factory=dict, description="the share of each source's human texts it flags (where known)"
    )
    worst_source_fpr: float | None = Field(default=None, description="the largest of fpr_by_source")


class SourceQuantiles(BaseModel):
    """One source's raw ``llm_logit`` distribution for one label, as evenly spaced quantiles."""

    model_config = ConfigDict(frozen=True)

    data_type: str = Field(description="the data type of the texts (free_form, translation, ...)")
    n: int = Field(gt=0, description="texts behind the quantiles")
    quantiles: list[float] = Field(min_length=2, description="quantiles at evenly spaced levels 0..1")


class ShareReference(BaseModel):
    """Raw logits of human and LLM texts, each scored by a refit that never saw the text's source,
    kept per source and data type (keys ``SOURCE/DATA_TYPE``): what a corpus's LLM share is estimated
    against (``humanlike.estimate``)."""

    model_config = ConfigDict(frozen=True)

    human: dict[str, SourceQuantiles]
    llm: dict[str, SourceQuantiles]
    fitted_on: str = ""


class CorpusFingerprint(BaseModel):
    """Identifies the data a model was fitted on, so that an evaluation can tell seen from unseen."""

    model_config = ConfigDict(frozen=True)

    sha256: str
    n_records: int
    paths: list[str]


class SplitSpec(BaseModel):
    """How the training corpus was split; with the fingerprint, enough to rebuild the hold-out."""

    model_config = ConfigDict(frozen=True)

    seed: int
    holdout_fraction: float
    calibration_fraction: float
    n_train: int
    n_calibration: int
    n_holdout: int


class WindowSpec(BaseModel):
    """How a token-window bundle reads text: windows, and how their logits make a text's logit."""

    model_config = ConfigDict(frozen=True)

    max_tokens: int = Field(gt=2, description="window length in tokens, special tokens included")
    overlap: int = Field(ge=0, description="tokens shared by consecutive windows of one text")
    encoder_max_tokens: int | None = Field(
        default=None, gt=2, description="(hybrid) the encoder's cap on its tokens for one window's span"
    )
    aggregate: Literal["size-weighted-mean-logit"] = "size-weighted-mean-logit"


class BundleManifest(BaseModel):
    """``bundle.json``: everything the runtime needs to know about a model besides its weights."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    format: Literal["humanlike-bundle"] = "humanlike-bundle"
    format_version: int = FORMAT_VERSION
    kind: ModelKind
    precision: Precision = "fp32"
    labels: tuple[str, str] = ("human", "llm")
    max_length: int = Field(gt=0, description="longest text accepted, in characters")
    windows: WindowSpec | None = Field(default=None, description="token windows (transformer bundles)")
    calibration: Calibration
    thresholds: list[Threshold]
    corpus: CorpusFingerprint
    split: SplitSpec
    metrics: dict[str, Any] = Field(default_factory=dict)
    training: dict[str, Any] = Field(default_factory=dict, description="hyper-parameters, timings")
    share_reference: ShareReference | None = Field(
        default=None, description="out-of-source score distributions for corpus-level share estimates"
    )
    created_at: str
    humanlike_version: str


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _read_checksums(root: Path) -> dict[str, str]:
    sums_path = root / CHECKSUM_FILE
    if not sums_path.is_file():
        raise BundleError(f"{root} is not a humanlike bundle: it has no {CHECKSUM_FILE}")
    sums: dict[str, str] = {}
    for n, line in enumerate(sums_path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        digest, sep, name = line.partition("  ")
        if not sep or len(digest) != 64 or "/" in name or name in ("", ".", ".."):
            raise BundleError(f"{sums_path}:{n}: malformed checksum line")
        sums[name] = digest
    return sums


def read_bundle(path: str | os.PathLike[str]) -> tuple[Path, BundleManifest]:
    """Verifies a bundle directory and returns it with its manifest.

    Raises:
        BundleError: the directory is missing, is not a bundle, a file is missing, truncated or changed
            (checksum mismatch), the manifest is invalid, or the format version is not this runtime's.
    """
    root = Path(path)
    if not root.is_dir():
        raise BundleError(f"bundle {root} does not exist or is not a directory")
    sums = _read_checksums(root)
    for required in (MANIFEST_FILE, MODEL_FILE):
        if required not in sums:
            raise BundleError(f"{root} is not a humanlike bundle: {CHECKSUM_FILE} does not list {required}")
    for name, expected in sums.items():
        file = root / name
        if not file.is_file():
            raise BundleError(f"bundle {root} is incomplete: {name} is missing")
        if sha256_file(file) != expected:
            raise BundleError(
                f"bundle {root} is corrupt: {name} does not match its checksum "
                "(truncated or modified since export)"
            )
    try:
        raw = json.loads((root / MANIFEST_FILE).read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise BundleError(f"bundle {root}: {MANIFEST_FILE} is not valid JSON: {e}") from e
    if not isinstance(raw, dict) or raw.get("format") != "humanlike-bundle":
        raise BundleError(f"bundle {root}: {MANIFEST_FILE} is not a humanlike manifest")
    version = raw.get("format_version")
    if version not in READABLE_VERSIONS:
        raise BundleError(
            f"bundle {root} has format version {version!r}; this runtime reads versions "
            f"{', '.join(map(str, READABLE_VERSIONS))}"
        )
    try:
        manifest = BundleManifest.model_validate(raw)
    except ValidationError as e:
        raise BundleError(f"bundle {root}: invalid {MANIFEST_FILE}: {e}") from e
    for needs in NEEDS[manifest.kind]:
        if needs not in sums:
            raise BundleError(f"bundle {root}: kind {manifest.kind} needs {needs}, which is not listed")
    if (manifest.kind in TOKEN_KINDS) != (manifest.windows is not None):
        raise BundleError(
            f"bundle {root}: a token-window bundle ({', '.join(sorted(TOKEN_KINDS))}), and only one, "
            "has a 'windows' section"
        )
    has_encoder = manifest.windows is not None and manifest.windows.encoder_max_tokens is not None
    if (manifest.kind == "hybrid") != has_encoder:
        raise BundleError(f"bundle {root}: a hybrid bundle, and only one, has windows.encoder_max_tokens")
    return root, manifest


@dataclass(frozen=True)
class VerifiedBundle:
    """A bundle directory already verified by :func:`read_bundle`, with its manifest: what a caller
    that reads a bundle's manifest but scores elsewhere (worker processes, Ray actors) hands on, so
    that the bundle is checked once, not once per layer."""

    path: Path
    manifest: BundleManifest

    @classmethod
    def read(cls, path: str | os.PathLike[str]) -> VerifiedBundle:
        return cls(*read_bundle(path))


def write_bundle(path: str | os.PathLike[str], manifest: BundleManifest, files: Mapping[str, bytes]) -> Path:
    """Writes ``files`` plus the manifest, the model card (unless ``files`` has one) and checksums as a
    bundle directory at ``path``.

    The bundle is assembled in a temporary sibling directory and swapped into place in one step
    (:func:`humanlike.detector.atomic.replace_directory`): a reader, or a crash, sees the old bundle or
    the new one, never a mix and never nothing.
    """
    from humanlike.detector.card import MODEL_CARD_FILE, render_model_card

    target = Path(path)
    with atomic_directory(target, "bundle") as staging:
        # the marker is the writer's own (atomic_directory writes it), never a bundle file to checksum
        contents = {name: data for name, data in files.items() if name != OUTPUT_MARKER}
        contents[MANIFEST_FILE] = (manifest.model_dump_json(indent=2) + "\n").encode("utf-8")
        contents.setdefault(MODEL_CARD_FILE, render_model_card(manifest).encode("utf-8"))
        for name, data in contents.items():
            (staging / name).write_bytes(data)
        sums = "".join(f"{hashlib.sha256(contents[n]).hexdigest()}  {n}\n" for n in sorted(contents))
        (staging / CHECKSUM_FILE).write_text(sums, encoding="utf-8")
    return target
