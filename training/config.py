"""What each training command can be told, with its default stated once: the command line builds its
flags from these classes (:mod:`humanlike.cli.options`), and the training code takes them as they are.

Plain dataclasses with no heavy imports, so that ``humanlike train --help`` loads neither torch nor
scikit-learn. A field's ``help`` metadata is its flag's help text; the default is added to it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from humanlike.detector.bundle import Precision
from humanlike.detector.normalize import Normalization


def option(default: Any, help: str) -> Any:
    """A dataclass field with its command-line help."""
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class SplitConfig:
    """The grouped train / calibration / hold-out splits of a trained bundle."""

    seed: int = option(0, "seed of splits, samples and fits")
    holdout_fraction: float = option(0.1, "grouped hold-out fraction")
    calibration_fraction: float = option(0.1, "calibration fraction of the corpus")
    sample_size: int | None = option(None, "train on a grouped sample of about N records (default: all)")


@dataclass(frozen=True)
class SamplingConfig:
    """Which training texts a model fits on, and which human texts choose its thresholds.

    The defaults are the generalization protocol's choice (docs/research/generalization.md): per-source caps,
    length matching and text normalisation did not move leave-one-source-out AUROC on the wide corpus,
    so the n-gram trains on a uniform sample of its training split; its thresholds come from human texts
    of sources the model never saw, which is what keeps their false-positive rate on new sources.
    """

    cap_per_source_label: int | None = option(
        None, "train on at most N texts of each source and label, generators sampled evenly (default: no cap)"
    )
    length_match: bool = option(False, "length-match human and LLM training texts within each source")
    max_fit_texts: int | None = option(
        30_000, "fit on a uniform sample of at most N training texts (the refits too)"
    )
    threshold_source_folds: int = option(
        4,
        "choose thresholds on human texts scored by K refits that never saw their source "
        "(0: on the calibration split, in distribution)",
    )


@dataclass(frozen=True)
class NgramBaselineConfig:
    """The n-gram model: word and character TF-IDF, logistic regression."""

    word_ngram_range: tuple[int, int] = (1, 2)
    char_ngram_range: tuple[int, int] = (3, 5)
    # The generalization protocol's settings: a stronger penalty (C 10 -> 1) generalizes better to
    # unseen sources and generators at a small in-distribution cost
    # (figures: docs/research/generalization.md).
    max_word_features: int = 100_000
    max_char_features: int = 150_000
    min_df: int = 2
    # Case carries style (capitalisation habits); words stay lowercased so that the vocabulary
    # generalises, characters keep case. Measured over 3 seeds before adopting (see docs/detectors.md).
    lowercase_chars: bool = False
    sublinear_tf: bool = True
    C: float = 1.0
    max_iter: int = 1000
    # Format cues of a text's source (whitespace, typography, placeholders, chat openers) normalised
    # away before the model reads the text, in training and at run time (see detector/normalize.py).
    normalization: Normalization = option(  # noqa: RUF009  (a frozen field: option() only adds help)
        "none",
        "normalise source format cues before reading a text "
        "(v1: typography, openers, placeholders, whitespace)",
    )

    # Text distortion (Stamatatos 2017, "DV-MA"): every word outside the N most frequent words of the
    # training texts has its letters masked ("tapestry" -> "********"), so that n-grams see function
    # words, punctuation and word shapes, not topics. None: off. Measured by the generalization protocol.
    distort_top_words: int | None = None
    # The shipped recipe (docs/research/generalization.md): this model and a second one reading the
    # text distorted with the N most frequent words kept, each standardised on human texts set apart
    # from both fits, averaged into one linear graph; it beat every other recipe the protocol
    # compared. None: the plain model alone.
    distorted_view_words: int | None = option(
        300, "also fit a model on text distorted to its N most frequent words and average both (0: off)"
    )
    # A third, topic-blind member beside the views: gradient-boosted trees over each text's word-surprisal
    # profile (training/models/surprisal.py), standardised and averaged like them (bundle format 5). Not
    # the default: it adds a little AUROC out of source but breaks the out-of-source threshold's promise
    # on some sources and on students' answers (docs/research/generalization.md). Needs the views.
    surprisal_view: bool | None = option(
        False, "with the views, also average in trees over each text's word-surprisal profile"
    )

    # Mirror pairs: besides every text, the classifier fits the difference of each LLM text's features
    # and its paired human text's (same prompt or source text), weighted by this much (conditional
    # logistic regression), so that what a pair shares (topic, source, format) cancels. None: off.
    pair_contrast: float | None = option(
        None, "also fit LLM-minus-human feature differences of mirror pairs, with this weight"
    )
    # Group-robust fitting: every source weighs the same in the fit (split equally between its
    # labels) instead of by its size. None: off.
    source_weighting: bool | None = option(None, "weigh every source the same in the fit")

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class ProtocolConfig:
    """The generalization protocol's budget (``humanlike generalization``): every fold and candidate
    the same, so that rows of one report compare, and rows of reports of another budget are not
    taken in."""

    max_train: int = option(10_000, "texts each fit reads")
    max_test: int | None = option(4_000, "about how many test texts per fold (a grouped sample)")
    seed: int = option(0, "seed of the samples and fits")


@dataclass(frozen=True)
class TransformerConfig:
    """Fine-tuning settings; the defaults are chosen to fit an hour on a small CPU (docs/detectors.md)."""

    max_tokens: int = option(128, "window length in tokens")
    window_overlap: int = 32
    max_train_texts: int | None = option(36_000, "cap on training texts")
    epochs: int = option(1, "passes over the training texts")
    batch_size: int = 16
    learning_rate: float = 1e-4
    weight_decay: float = 0.01
    warmup_fraction: float = 0.06
    freeze_embeddings: bool = True
    validation_texts: int = option(1_000, "validation set size")
    eval_every: int = option(250, "validate every N steps")
    patience: int = 3
    time_budget_s: float | None = option(45 * 60, "stop fine-tuning after this many seconds")
    seed: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class EncoderConfig:
    """The frozen encoder under a logistic regression (the protocol's ``encoder-lr`` candidate)."""

    max_tokens: int = option(256, "window length in encoder tokens (all-MiniLM-L6-v2 was trained at 256)")
    overlap: int = 32
    C: float = option(1.0, "inverse L2 penalty of the logistic regression")
    batch_windows: int = 64

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class SurprisalConfig:
    """Gradient-boosted trees over a text's word-surprisal profile (:mod:`humanlike.detector.surprisal`)."""

    table_words: int = option(200_000, "most frequent English words (wordfreq) in the surprisal table")
    max_iter: int = option(200, "boosting rounds")
    learning_rate: float = 0.05
    max_leaf_nodes: int = 15
    seed: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class HybridConfig:
    """The hybrid: LM statistics and encoder embedding under a logistic regression."""

    sample_size: int = option(3000, "records it trains on (the LM reads every one: its cost grows with this)")
    C: float = 1.0
    precision: Precision = option(  # noqa: RUF009  (a Literal: option() only adds help)
        "int8",
        "fp32, or int8: the LM smoothed on training texts (SmoothQuant) before its features are read, "
        "then its weight MatMuls dynamic int8 in the graph (bench/bench_hybrid_int8.py)",
    )
    smoothing_texts: int = option(64, "training texts whose activations set the int8 smoothing scales")
    smoothing_alpha: float = 0.75


@dataclass(frozen=True)
class ZeroShotConfig:
    """The zero-shot bundle from the packaged LM."""

    calibration_size: int = option(400, "labelled texts to calibrate on")
    max_tokens: int = 128
    precision: Precision = option(  # noqa: RUF009  (a Literal: option() only adds help)
        "int8",
        "fp32, or int8: the LM smoothed on the calibration texts (SmoothQuant), then dynamic int8 "
        "(faster on a CPU: bench/RESULTS.md); without labelled texts, fp32",
    )
    smoothing_texts: int = option(64, "texts whose activations set the int8 smoothing scales")
    smoothing_alpha: float = option(0.75, "SmoothQuant's migration strength (0: none, 1: all into weights)")
