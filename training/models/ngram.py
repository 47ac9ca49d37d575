"""The n-gram baseline: word 1-2-gram + char 3-5-gram TF-IDF, logistic regression (scikit-learn).

Fast and honest: strong in distribution, and a yardstick for every other detector. Exported as one
sparse ONNX graph: the runtime's featurizer (:mod:`humanlike.detector.features`) finds the vocabulary
columns each text has, and the graph does the TF-IDF weighting, normalisation and linear model. (The
dense layout of bundle formats 1-2 is in :mod:`humanlike.training.models.ngram_dense`.)
"""

from __future__ import annotations

import dataclasses
import os
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self, TypedDict

import numpy as np
import onnx
import scipy.sparse as sp
from joblib import Parallel, delayed
from onnx import TensorProto, helper, numpy_helper
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from humanlike.detector.bundle import FEATURES_FILE, MODEL_FILE, BundleManifest
from humanlike.detector.features import SKLEARN_TOKEN_PATTERN, SparseNgramSpec
from humanlike.detector.normalize import distort, normalize_text, words_of
from humanlike.detector.surprisal import PROFILE_FEATURES
from humanlike.training.build import DraftBundle, train_bundle
from humanlike.training.config import NgramBaselineConfig, SamplingConfig, SplitConfig
from humanlike.training.data.balance import source_balanced_weights
from humanlike.training.data.corpus import labels_of, texts_of
from humanlike.training.data.readers import FieldMapping
from humanlike.training.data.schema import CorpusRecord
from humanlike.training.data.splits import holdout_split
from humanlike.training.kinds import DetectorKind
from humanlike.training.models.surprisal import SurprisalClassifier, tree_ensemble_node

ONNX_OPSET = 17
ONNX_ML_OPSET = 3


def frequent_words(texts: Iterable[str], n: int) -> frozenset[str]:
    """The ``n`` most frequent words of ``texts`` (as :func:`~humanlike.detector.normalize.distort`
    reads words; ties broken by first appearance)."""
    counts: Counter[str] = Counter()
    for t in texts:
        counts.update(words_of(t))
    return frozenset(w for w, _ in counts.most_common(n))


def _fit_vectorizer(
    vectorizer: TfidfVectorizer, texts: Sequence[str]
) -> tuple[TfidfVectorizer, sp.csr_matrix]:
    matrix = vectorizer.fit_transform(texts)
    # The pruned terms are kept by scikit-learn only for inspection; they are millions of strings.
    vectorizer.stop_words_ = None
    return vectorizer, matrix


def pair_differences(features: sp.csr_matrix, y: np.ndarray, groups: Sequence[str | None]) -> sp.csr_matrix:
    """One row per LLM text that shares a group with a human text: its features minus the mean of
    that group's human texts' features."""
    humans: dict[str, list[int]] = {}
    for i, (g, label) in enumerate(zip(groups, y.tolist(), strict=True)):
        if g is not None and label == 0:
            humans.setdefault(g, []).append(i)
    llm_rows = [
        i for i, (g, label) in enumerate(zip(groups, y.tolist(), strict=True)) if label == 1 and g in humans
    ]
    n = features.shape[0]
    pick = sp.csr_matrix(
        (np.ones(len(llm_rows)), (np.arange(len(llm_rows)), llm_rows)), shape=(len(llm_rows), n)
    )
    cols, vals = [], []
    for i in llm_rows:
        mates = humans[groups[i]]  # type: ignore[index]
        cols.append(mates)
        vals.append(np.full(len(mates), 1.0 / len(mates)))
    rows = np.repeat(np.arange(len(llm_rows)), [len(c) for c in cols])
    mean_human = sp.csr_matrix(
        (np.concatenate(vals) if vals else [], (rows, np.concatenate(cols) if cols else [])),
        shape=(len(llm_rows), n),
    )
    return sp.csr_matrix((pick - mean_human) @ features)


class FitArguments(TypedDict, total=False):
    """The keyword arguments of :meth:`NgramBaseline.fit` that a configuration asks for."""

    sample_weight: np.ndarray
    groups: Sequence[str | None]


def fit_arguments(
    records: Sequence[CorpusRecord], idx: np.ndarray, config: NgramBaselineConfig
) -> FitArguments:
    """What :meth:`NgramBaseline.fit` takes beside texts and labels for ``config``: the pair ids when it
    fits mirror pairs, the source weights when it weighs sources."""
    arguments: FitArguments = {}
    if config.pair_contrast:
        arguments["groups"] = [records[i].pair_id for i in idx.tolist()]
    if config.source_weighting:
        arguments["sample_weight"] = source_balanced_weights(records, idx)
    return arguments


class NgramBaseline:
    """Word and character n-gram TF-IDF features, each L2-normalised, and a logistic regression.

    ``fit`` fits the two vectorizers in parallel processes (they are independent and dominate the
    cost), then the classifier. ``decision_function`` returns the LLM log-odds.
    """

    def __init__(self, config: NgramBaselineConfig | None = None) -> None:
        self.config = config or NgramBaselineConfig()
        c = self.config
        self.word_vectorizer = TfidfVectorizer(
            analyzer="word",
            token_pattern=SKLEARN_TOKEN_PATTERN,
            lowercase=True,
            ngram_range=c.word_ngram_range,
            min_df=c.min_df,
            max_features=c.max_word_features,
            sublinear_tf=c.sublinear_tf,
            dtype=np.float64,
        )
        self.char_vectorizer = TfidfVectorizer(
            analyzer="char",
            lowercase=c.lowercase_chars,
            ngram_range=c.char_ngram_range,
            min_df=c.min_df,
            max_features=c.max_char_features,
            sublinear_tf=c.sublinear_tf,
            dtype=np.float64,
        )
        self.classifier = LogisticRegression(C=c.C, solver="liblinear", max_iter=c.max_iter)
        self.kept_words_: frozenset[str] | None = None

    def _read(self, texts: Iterable[str]) -> list[str]:
        read = [normalize_text(t, self.config.normalization) for t in texts]
        if self.kept_words_ is not None:
            read = [distort(t, self.kept_words_) for t in read]
        return read

    def fit(
        self,
        texts: Sequence[str],
        y: np.ndarray,
        n_jobs: int = 2,
        *,
        sample_weight: np.ndarray | None = None,
        groups: Sequence[str | None] | None = None,
    ) -> NgramBaseline:
        """Fits the vectorizers and the classifier.

        ``groups``: each text's ``pair_id`` (None: unpaired); with ``config.pair_contrast`` the
        classifier also fits every LLM-minus-human difference inside a group (:func:`pair_differences`).
        """
        if self.config.distort_top_words is not None:
            normalized = [normalize_text(t, self.config.normalization) for t in texts]
            self.kept_words_ = frequent_words(normalized, self.config.distort_top_words)
        texts = self._read(texts)
        fitted = Parallel(n_jobs=n_jobs)(
            delayed(_fit_vectorizer)(v, texts) for v in (self.word_vectorizer, self.char_vectorizer)
        )
        (self.word_vectorizer, word_matrix), (self.char_vectorizer, char_matrix) = fitted
        features = sp.hstack([word_matrix, char_matrix], format="csr")
        y = np.asarray(y)
        weight = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        if self.config.pair_contrast and groups is not None:
            self._fit_with_pairs(features, y, weight, pair_differences(features, y, groups))
        else:
            self.classifier.fit(features, y, sample_weight=weight)
        return self

    def _fit_with_pairs(
        self, features: sp.csr_matrix, y: np.ndarray, weight: np.ndarray, differences: sp.csr_matrix
    ) -> None:
        """Conditional logistic regression beside the plain one, in one fit: the texts' rows carry a
        constant column (the intercept); each difference row appears with both signs and no constant,
        so that it moves only the weights that tell a pair's texts apart."""
        n_diff = differences.shape[0]
        ones, zeros = np.ones((len(y), 1)), np.zeros((n_diff, 1))
        rows = sp.vstack(
            [
                sp.hstack([features, ones]),
                sp.hstack([differences, zeros]),
                sp.hstack([-differences, zeros]),
            ],
            format="csr",
        )
        targets = np.concatenate([y, np.ones(n_diff, dtype=y.dtype), np.zeros(n_diff, dtype=y.dtype)])
        weights = np.concatenate([weight, np.full(2 * n_diff, float(self.config.pair_contrast or 0.0))])
        joint = LogisticRegression(
            C=self.config.C, solver="liblinear", max_iter=self.config.max_iter, fit_intercept=False
        ).fit(rows, targets, sample_weight=weights)
        # The joint fit's weights in the plain classifier's place: export and scoring read it alone.
        coef = joint.coef_.ravel()
        self.classifier.coef_ = coef[None, :-1]
        self.classifier.intercept_ = np.array([coef[-1]])
        self.classifier.classes_ = joint.classes_
        self.classifier.n_features_in_ = features.shape[1]
        self.classifier.n_iter_ = joint.n_iter_

    def transform(self, texts: Iterable[str]) -> sp.csr_matrix:
        texts = self._read(texts)
        return sp.hstack(
            [self.word_vectorizer.transform(texts), self.char_vectorizer.transform(texts)], format="csr"
        )

    def decision_function(self, texts: Iterable[str]) -> np.ndarray:
        return np.asarray(self.classifier.decision_function(self.transform(texts)), dtype=np.float64)

    def predict_proba(self, texts: Iterable[str]) -> np.ndarray:
        """P(llm) per text (the scikit-learn reference for the ONNX parity test)."""
        return np.asarray(self.classifier.predict_proba(self.transform(texts))[:, 1])

    # ---- export -------------------------------------------------------------------------------

    def feature_spec(self) -> SparseNgramSpec:
        """The vocabulary in graph-column order: word columns first, then character columns."""
        return SparseNgramSpec(
            kept_words=sorted(self.kept_words_) if self.kept_words_ is not None else None,
            word_ngrams=_in_column_order(self.word_vectorizer.vocabulary_),
            char_ngrams=_in_column_order(self.char_vectorizer.vocabulary_),
            lowercase_words=self.word_vectorizer.lowercase,
            lowercase_chars=self.char_vectorizer.lowercase,
            normalization=self.config.normalization,
        )

    def to_onnx(self) -> bytes:
        """The model as a sparse ONNX graph (:func:`sparse_linear_graph`)."""
        if self.word_vectorizer.sublinear_tf != self.char_vectorizer.sublinear_tf:
            raise ValueError("both blocks must agree on sublinear_tf")
        return sparse_linear_graph(
            [self.linear_blocks()], float(self.classifier.intercept_[0]), self.word_vectorizer.sublinear_tf
        )

    def linear_blocks(self, weight: float = 1.0) -> LinearBlocks:
        """idf, coefficients (times ``weight``) and block of every column, word columns first."""
        n_word = len(self.word_vectorizer.vocabulary_)
        n_char = len(self.char_vectorizer.vocabulary_)
        return LinearBlocks(
            idf=np.concatenate([self.word_vectorizer.idf_, self.char_vectorizer.idf_]).astype(np.float64),
            coef=self.classifier.coef_.ravel().astype(np.float64) * weight,
            block=np.concatenate([np.zeros(n_word, dtype=np.int64), np.ones(n_char, dtype=np.int64)]),
        )


@dataclass(frozen=True)
class LinearBlocks:
    """One view's columns for :func:`sparse_linear_graph`: TF-IDF weights, coefficients, and which
    L2-normalised block (0 words, 1 characters) each column belongs to."""

    idf: np.ndarray
    coef: np.ndarray
    block: np.ndarray


@dataclass(frozen=True)
class TreesPart:
    """Trees over the surprisal profile added to the linear model's logit, times ``weight`` (format 5)."""

    trees: HistGradientBoostingClassifier
    weight: float


def sparse_linear_graph(
    views: Sequence[LinearBlocks], intercept: float, sublinear_tf: bool, trees: TreesPart | None = None
) -> bytes:
    """The sparse ONNX graph of a linear model over L2-normalised TF-IDF blocks (bundle formats 3-5).

    ``views`` are laid out one after the other (columns and blocks), as the featurizer numbers them.
    Inputs (:class:`~humanlike.detector.features.SparseNgramInputs`): ``text_index``, ``column``,
    ``count`` (one row per distinct n-gram of each text) and ``n_texts``; output ``llm_logit``
    [n_texts]. Per row it gathers the column's weights; per text and block it sums them with
    ``ScatterElements(reduction="add")``. TF-IDF with L2 normalisation and the dot product with the
    coefficients fold into two sums per block:
    ``(x * idf / ||x * idf||) . w  ==  (x . (idf * w)) / sqrt((x * x) . idf^2)``.

    With ``trees`` the graph also reads ``profile`` ``[n_texts, PROFILE_FEATURES]`` (float32) and adds
    ``trees.weight`` times the trees' log-odds (an ``ai.onnx.ml`` ``TreeEnsembleRegressor``).
    """
    idf = np.concatenate([v.idf for v in views])
    coef = np.concatenate([v.coef for v in views])
    block = np.concatenate([v.block + 2 * i for i, v in enumerate(views)])
    n_blocks = 2 * len(views)
    inits = [
        numpy_helper.from_array((idf * coef).astype(np.float32), "idf_coef"),
        numpy_helper.from_array((idf * idf).astype(np.float32), "idf_sq"),
        numpy_helper.from_array(block, "block"),
        numpy_helper.from_array(np.array(1.0, dtype=np.float32), "one"),
        numpy_helper.from_array(np.array(1e-12, dtype=np.float32), "eps"),
        numpy_helper.from_array(np.array(n_blocks, dtype=np.int64), "blocks"),
        numpy_helper.from_array(np.array([-1, n_blocks], dtype=np.int64), "per_text_blocks"),
        numpy_helper.from_array(np.array([1], dtype=np.int64), "block_axis"),
        numpy_helper.from_array(np.array([intercept], dtype=np.float32), "intercept"),
    ]
    nodes = []
    if sublinear_tf:
        # 1 + log(tf) for tf >= 1, as scikit-learn's sublinear TF (every fed count is at least 1).
        nodes += [
            helper.make_node("Log", ["count"], ["log_count"]),
            helper.make_node("Add", ["log_count", "one"], ["tf"]),
        ]
    else:
        nodes.append(helper.make_node("Identity", ["count"], ["tf"]))
    nodes += [
        helper.make_node("Gather", ["idf_coef", "column"], ["row_idf_coef"]),
        helper.make_node("Gather", ["idf_sq", "column"], ["row_idf_sq"]),
        helper.make_node("Gather", ["block", "column"], ["row_block"]),
        helper.make_node("Mul", ["tf", "row_idf_coef"], ["row_dot"]),
        helper.make_node("Mul", ["tf", "tf"], ["tf_sq"]),
        helper.make_node("Mul", ["tf_sq", "row_idf_sq"], ["row_norm_sq"]),
        helper.make_node("Mul", ["text_index", "blocks"], ["text_first_slot"]),
        helper.make_node("Add", ["text_first_slot", "row_block"], ["slot"]),
        helper.make_node("Mul", ["n_texts", "blocks"], ["n_slots"]),
        helper.make_node(
            "ConstantOfShape",
            ["n_slots"],
            ["zeros"],
            value=numpy_helper.from_array(np.array([0.0], dtype=np.float32)),
        ),
        helper.make_node("ScatterElements", ["zeros", "slot", "row_dot"], ["dot"], reduction="add"),
        helper.make_node("ScatterElements", ["zeros", "slot", "row_norm_sq"], ["norm_sq"], reduction="add"),
        helper.make_node("Sqrt", ["norm_sq"], ["norm"]),
        helper.make_node("Max", ["norm", "eps"], ["safe_norm"]),
        helper.make_node("Div", ["dot", "safe_norm"], ["z_slots"]),
        helper.make_node("Reshape", ["z_slots", "per_text_blocks"], ["z_blocks"]),
        helper.make_node("ReduceSum", ["z_blocks", "block_axis"], ["z"], keepdims=0),
    ]
    inputs = [
        helper.make_tensor_value_info("text_index", TensorProto.INT64, ["rows"]),
        helper.make_tensor_value_info("column", TensorProto.INT64, ["rows"]),
        helper.make_tensor_value_info("count", TensorProto.FLOAT, ["rows"]),
        helper.make_tensor_value_info("n_texts", TensorProto.INT64, [1]),
    ]
    if trees is None:
        nodes.append(helper.make_node("Add", ["z", "intercept"], ["llm_logit"]))
    else:
        inputs.append(
            helper.make_tensor_value_info("profile", TensorProto.FLOAT, ["batch", PROFILE_FEATURES])
        )
        inits += [
            numpy_helper.from_array(np.array(trees.weight, dtype=np.float32), "trees_weight"),
            numpy_helper.from_array(np.array([-1], dtype=np.int64), "flat"),
        ]
        nodes += [
            tree_ensemble_node(trees.trees, "profile", "trees_column"),
            helper.make_node("Reshape", ["trees_column", "flat"], ["trees_logit"]),
            helper.make_node("Mul", ["trees_logit", "trees_weight"], ["trees_part"]),
            helper.make_node("Add", ["z", "trees_part"], ["z_all"]),
            helper.make_node("Add", ["z_all", "intercept"], ["llm_logit"]),
        ]
    graph = helper.make_graph(
        nodes,
        "humanlike_ngram_sparse_linear",
        inputs=inputs,
        outputs=[helper.make_tensor_value_info("llm_logit", TensorProto.FLOAT, ["batch"])],
        initializer=inits,
    )
    return serialized_model(graph)


def serialized_model(graph: onnx.GraphProto) -> bytes:
    """``graph`` as a checked ONNX model (opset :data:`ONNX_OPSET`, and ``ai.onnx.ml``
    :data:`ONNX_ML_OPSET` for trees; IR 8), serialized."""
    opsets = [helper.make_opsetid("", ONNX_OPSET)]
    if any(node.domain == "ai.onnx.ml" for node in graph.node):
        opsets.append(helper.make_opsetid("ai.onnx.ml", ONNX_ML_OPSET))
    model = helper.make_model(graph, opset_imports=opsets, producer_name="humanlike")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return bytes(model.SerializeToString())


def _in_column_order(vocabulary: dict[str, int]) -> list[str]:
    ordered = [""] * len(vocabulary)
    for gram, column in vocabulary.items():
        ordered[column] = gram
    return ordered


@dataclass
class NgramViews:
    """Two readings of a text averaged: the plain n-gram model and one that reads the text distorted
    (every word outside the most frequent masked), each standardised by the mean and spread of its logits
    on human texts that neither model was fitted on. Still one linear model over TF-IDF blocks, so still
    one sparse graph; ``features.json`` holds the distorted view as the plain one's ``next_view``."""

    members: list[NgramBaseline]
    means: list[float]
    scales: list[float]
    """Of each n-gram member, then of the trees when there are trees."""
    trees: SurprisalClassifier | None = None
    """(format 5) Trees over each text's word-surprisal profile, a third, topic-blind member."""

    @property
    def weights(self) -> list[float]:
        return [1.0 / (len(self.scales) * s) for s in self.scales]

    def _members(self) -> list[NgramBaseline | SurprisalClassifier]:
        return [*self.members, *([self.trees] if self.trees is not None else [])]

    def decision_function(self, texts: Sequence[str]) -> np.ndarray:
        parts = [
            (m.decision_function(texts) - mean) * w
            for m, mean, w in zip(self._members(), self.means, self.weights, strict=True)
        ]
        return np.asarray(np.sum(parts, axis=0))

    def feature_spec(self) -> SparseNgramSpec:
        spec: SparseNgramSpec | None = None
        for member in reversed(self.members):
            spec = member.feature_spec().model_copy(update={"next_view": spec})
        assert spec is not None
        if self.trees is not None:
            spec = spec.model_copy(update={"surprisal": self.trees.table})
        return spec

    def to_onnx(self) -> bytes:
        n = len(self.members)
        blocks = [m.linear_blocks(w) for m, w in zip(self.members, self.weights[:n], strict=True)]
        intercept = sum(
            (float(m.classifier.intercept_[0]) - mean) * w
            for m, mean, w in zip(self.members, self.means[:n], self.weights[:n], strict=True)
        )
        trees = None
        if self.trees is not None:
            intercept -= self.means[n] * self.weights[n]
            trees = TreesPart(self.trees.trees, self.weights[n])
        return sparse_linear_graph(blocks, intercept, self.members[0].word_vectorizer.sublinear_tf, trees)

    def describe(self) -> dict[str, object]:
        return {
            "views": [m.config.as_dict() for m in self.members],
            "surprisal_trees": self.trees.config.as_dict() if self.trees is not None else None,
            "standardised_on": "human texts of a grouped 10% of the training texts, set apart from every fit",
            "means": self.means,
            "scales": self.scales,
        }


def fit_ngram_views(
    records: Sequence[CorpusRecord], train: np.ndarray, config: NgramBaselineConfig, seed: int
) -> NgramViews:
    """:class:`NgramViews` fitted on ``train`` (indices into ``records``) less a grouped 10%, whose human
    texts set each member's scale."""
    assert config.distorted_view_words
    rest, held = holdout_split([records[i] for i in train], 0.1, seed)
    fit_idx, held_idx = train[rest], train[held]
    held_humans = texts_of(records, held_idx[labels_of(records, held_idx) == 0])
    configs = [
        dataclasses.replace(config, distorted_view_words=None),
        dataclasses.replace(config, distorted_view_words=None, distort_top_words=config.distorted_view_words),
    ]
    members, means, scales = [], [], []
    for c in configs:
        member = NgramBaseline(c).fit(
            texts_of(records, fit_idx), labels_of(records, fit_idx), **fit_arguments(records, fit_idx, c)
        )
        logits = member.decision_function(held_humans)
        members.append(member)
        means.append(float(logits.mean()))
        scales.append(max(float(logits.std()), 1e-9))
    trees = None
    if config.surprisal_view:
        trees = SurprisalClassifier().fit([records[i] for i in fit_idx.tolist()])
        logits = trees.decision_function(held_humans)
        means.append(float(logits.mean()))
        scales.append(max(float(logits.std()), 1e-9))
    return NgramViews(members, means, scales, trees)


class NgramDetector(DetectorKind):
    """The ``ngram`` kind: one n-gram model, or with ``config.distorted_view_words`` the plain and the
    distorted views averaged (:class:`NgramViews`), which hold a grouped 10% of ``records`` apart to
    standardise each view.

    Its parameters are plain data, so that the out-of-source refits can run it in other processes.
    """

    name = "ngram"
    recipe_key = "ngram"

    def __init__(self, config: NgramBaselineConfig = NgramBaselineConfig(), seed: int = 0) -> None:
        self.config = config
        self.seed = seed

    def fit(
        self, records: Sequence[CorpusRecord], *, validation: Sequence[CorpusRecord] | None = None
    ) -> Self:
        idx = np.arange(len(records))
        config = self.config
        self.model_: NgramBaseline | NgramViews
        if config.distorted_view_words:
            self.model_ = fit_ngram_views(records, idx, config, self.seed)
        else:
            self.model_ = NgramBaseline(config).fit(
                texts_of(records, idx), labels_of(records, idx), **fit_arguments(records, idx, config)
            )
        return self

    def decision_function(self, texts: Sequence[str]) -> np.ndarray:
        return np.asarray(self.model_.decision_function(texts))

    def draft_bundle(self) -> DraftBundle:
        config, model = self.config, self.model_
        if isinstance(model, NgramViews):
            trees = (
                ", and gradient-boosted trees over its word-surprisal profile"
                if config.surprisal_view
                else ""
            )
            described: dict[str, object] = {
                "model": "word+char n-gram TF-IDF, logistic regression (scikit-learn), on the text and on "
                f"the text distorted to its {config.distorted_view_words} most frequent words{trees}, "
                "standardised and averaged",
                "views": model.describe(),
            }
        else:
            described = {"model": "word+char n-gram TF-IDF, logistic regression (scikit-learn)"}
        return DraftBundle(
            kind="ngram-linear",
            files={
                MODEL_FILE: model.to_onnx(),
                FEATURES_FILE: model.feature_spec().model_dump_json().encode("utf-8"),
            },
            training={**described, "config": config.as_dict()},
        )

    def recipe(self) -> dict[str, Any]:
        ngram = self.config.as_dict()
        for later in (
            "distort_top_words",
            "distorted_view_words",
            "surprisal_view",
            "pair_contrast",
            "source_weighting",
        ):
            if ngram[later] is None:
                # recorded before the option existed: an option left off is not a change of recipe
                del ngram[later]
        return {"ngram": ngram}


def default_refit_processes() -> int:
    """One out-of-source refit per core, at most four (the default number of refits)."""
    return max(1, min(len(os.sched_getaffinity(0)), 4))


def train_ngram_bundle(
    corpus_paths: Sequence[str],
    out: str | Path,
    *,
    splits: SplitConfig = SplitConfig(),
    sampling: SamplingConfig = SamplingConfig(),
    config: NgramBaselineConfig | None = None,
    mapping: FieldMapping | None = None,
    progress: bool = True,
    refit_processes: int | None = None,
) -> BundleManifest:
    """Trains the n-gram model on a corpus and writes a calibrated, evaluated bundle to ``out``.

    ``refit_processes``: the out-of-source refits side by side (default: one per core, at most four).
    """
    return train_bundle(
        NgramDetector(config or NgramBaselineConfig(), splits.seed),
        corpus_paths,
        out,
        splits=splits,
        sampling=sampling,
        mapping=mapping,
        progress=progress,
        refit_processes=refit_processes or default_refit_processes(),
    )
