"""The n-gram baseline: word 1-2-gram + char 3-5-gram TF-IDF, logistic regression (scikit-learn).

Fast and honest: strong in distribution, and a yardstick for every other detector. Exported as one
ONNX graph whose inputs are the integer ids of :mod:`humanlike.detector.features` and whose output is the
LLM log-odds; the TF-IDF weighting, normalisation and linear model all run inside the graph.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np
import onnx
import scipy.sparse as sp
from joblib import Parallel, delayed
from onnx import TensorProto, helper, numpy_helper
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from humanlike.detector.bundle import FEATURES_FILE, MODEL_FILE, BundleManifest
from humanlike.detector.features import SKLEARN_TOKEN_PATTERN, NgramFeatureSpec
from humanlike.detector.normalize import normalize_text
from humanlike.training.build import BuildData, DraftBundle, Fit, train_bundle
from humanlike.training.config import NgramBaselineConfig, SamplingConfig, SplitConfig
from humanlike.training.data.readers import FieldMapping

ONNX_OPSET = 17


def _fit_vectorizer(
    vectorizer: TfidfVectorizer, texts: Sequence[str]
) -> tuple[TfidfVectorizer, sp.csr_matrix]:
    matrix = vectorizer.fit_transform(texts)
    # The pruned terms are kept by scikit-learn only for inspection; they are millions of strings.
    vectorizer.stop_words_ = None
    return vectorizer, matrix


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

    def _read(self, texts: Iterable[str]) -> list[str]:
        return [normalize_text(t, self.config.normalization) for t in texts]

    def fit(self, texts: Sequence[str], y: np.ndarray, n_jobs: int = 2) -> NgramBaseline:
        texts = self._read(texts)
        fitted = Parallel(n_jobs=n_jobs)(
            delayed(_fit_vectorizer)(v, texts) for v in (self.word_vectorizer, self.char_vectorizer)
        )
        (self.word_vectorizer, word_matrix), (self.char_vectorizer, char_matrix) = fitted
        features = sp.hstack([word_matrix, char_matrix], format="csr")
        self.classifier.fit(features, np.asarray(y))
        return self

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

    def feature_spec(self) -> NgramFeatureSpec:
        return NgramFeatureSpec(
            words=self._word_list(),
            lowercase_words=self.word_vectorizer.lowercase,
            lowercase_chars=self.char_vectorizer.lowercase,
            normalization=self.config.normalization,
        )

    def _word_list(self) -> list[str]:
        return sorted({w for ngram in self.word_vectorizer.vocabulary_ for w in ngram.split(" ")})

    def to_onnx(self) -> bytes:
        """The whole model as an ONNX graph: inputs ``word_ids``, ``char_ids``; output ``llm_logit``."""
        word_id = {w: i + 1 for i, w in enumerate(self._word_list())}
        n_word = len(self.word_vectorizer.vocabulary_)
        coef = self.classifier.coef_.ravel()
        nodes: list[onnx.NodeProto] = []
        inits: list[onnx.TensorProto] = [
            numpy_helper.from_array(np.array(1.0, dtype=np.float32), "one"),
            numpy_helper.from_array(np.array(1e-12, dtype=np.float32), "eps"),
            numpy_helper.from_array(
                np.array(self.classifier.intercept_, dtype=np.float32).reshape(1), "intercept"
            ),
            numpy_helper.from_array(np.array([1], dtype=np.int64), "squeeze_axes"),
        ]
        blocks = [
            ("word", self.word_vectorizer, lambda g: tuple(word_id[w] for w in g.split(" ")), coef[:n_word]),
            ("char", self.char_vectorizer, lambda g: tuple(ord(ch) + 1 for ch in g), coef[n_word:]),
        ]
        for name, vectorizer, to_ids, block_coef in blocks:
            self._tfidf_block(name, vectorizer, to_ids, block_coef, nodes, inits)
        nodes += [
            helper.make_node("Add", ["word_z", "char_z"], ["z"]),
            helper.make_node("Add", ["z", "intercept"], ["z_b"]),
            helper.make_node("Squeeze", ["z_b", "squeeze_axes"], ["llm_logit"]),
        ]
        graph = helper.make_graph(
            nodes,
            "humanlike_ngram_linear",
            inputs=[
                helper.make_tensor_value_info("word_ids", TensorProto.INT64, ["batch", "words"]),
                helper.make_tensor_value_info("char_ids", TensorProto.INT64, ["batch", "chars"]),
            ],
            outputs=[helper.make_tensor_value_info("llm_logit", TensorProto.FLOAT, ["batch"])],
            initializer=inits,
        )
        model = helper.make_model(
            graph, opset_imports=[helper.make_opsetid("", ONNX_OPSET)], producer_name="humanlike"
        )
        model.ir_version = 8
        onnx.checker.check_model(model)
        return bytes(model.SerializeToString())

    def _tfidf_block(
        self,
        name: str,
        vectorizer: TfidfVectorizer,
        to_ids: Callable[[str], tuple[int, ...]],
        block_coef: np.ndarray,
        nodes: list[onnx.NodeProto],
        inits: list[onnx.TensorProto],
    ) -> None:
        """Nodes for one vectorizer: n-gram counts, (sublinear) TF, IDF, L2 norm, dot coef -> ``{name}_z``."""
        min_n, max_n = vectorizer.ngram_range
        by_length: dict[int, list[tuple[tuple[int, ...], int]]] = {n: [] for n in range(1, max_n + 1)}
        for gram, column in vectorizer.vocabulary_.items():
            ids = to_ids(gram)
            by_length[len(ids)].append((ids, column))
        pool: list[int] = []
        columns: list[int] = []
        starts: list[int] = []
        for n in range(1, max_n + 1):
            starts.append(len(pool))
            for ids, column in sorted(by_length[n]):
                pool.extend(ids)
                columns.append(column)
        nodes.append(
            helper.make_node(
                "TfIdfVectorizer",
                [f"{name}_ids"],
                [f"{name}_tf"],
                mode="TF",
                min_gram_length=min_n,
                max_gram_length=max_n,
                max_skip_count=0,
                ngram_counts=starts,
                ngram_indexes=columns,
                pool_int64s=pool,
            )
        )
        # The straightforward graph (sublinear TF, x idf, L2-normalise, . coef) runs nine element-wise
        # passes over the dense [batch, features] counts, mostly zeros. Two rewrites, same numbers:
        # - 1 + log(tf) where tf > 0, else 0  ==  log(max(tf, 1)) + min(tf, 1)  (tf counts are integers),
        #   which drops Sign and a Mul, the costliest passes after Log;
        # - (x * idf / ||x * idf||) . w  ==  (x . (idf * w)) / sqrt((x * x) . idf^2): two matrix-vector
        #   products replace the idf scaling, ReduceL2 and the division over the dense matrix.
        # (A Gather from a table of 1 + log(k) is exact too, but ONNX Runtime's Gather is slower still.)
        x = f"{name}_tf"
        if vectorizer.sublinear_tf:
            nodes += [
                helper.make_node("Max", [x, "one"], [f"{name}_tf_at_least_1"]),
                helper.make_node("Log", [f"{name}_tf_at_least_1"], [f"{name}_log_tf"]),
                helper.make_node("Min", [x, "one"], [f"{name}_present"]),
                helper.make_node("Add", [f"{name}_log_tf", f"{name}_present"], [f"{name}_subtf"]),
            ]
            x = f"{name}_subtf"
        idf = vectorizer.idf_.astype(np.float64)
        inits += [
            numpy_helper.from_array((idf * block_coef).astype(np.float32).reshape(-1, 1), f"{name}_idf_coef"),
            numpy_helper.from_array((idf * idf).astype(np.float32).reshape(-1, 1), f"{name}_idf_sq"),
        ]
        nodes += [
            helper.make_node("MatMul", [x, f"{name}_idf_coef"], [f"{name}_dot"]),
            helper.make_node("Mul", [x, x], [f"{name}_sq"]),
            helper.make_node("MatMul", [f"{name}_sq", f"{name}_idf_sq"], [f"{name}_norm_sq"]),
            helper.make_node("Sqrt", [f"{name}_norm_sq"], [f"{name}_norm"]),
            helper.make_node("Max", [f"{name}_norm", "eps"], [f"{name}_safe_norm"]),
            helper.make_node("Div", [f"{name}_dot", f"{name}_safe_norm"], [f"{name}_z"]),
        ]


def ngram_fit(config: NgramBaselineConfig | None = None) -> Fit:
    """The n-gram kind's fit for :func:`humanlike.training.build.train_bundle`."""
    config = config or NgramBaselineConfig()

    def fit(data: BuildData) -> DraftBundle:
        model = NgramBaseline(config).fit(data.texts("train"), data.labels("train"))
        return DraftBundle(
            kind="ngram-linear",
            files={
                MODEL_FILE: model.to_onnx(),
                FEATURES_FILE: model.feature_spec().model_dump_json().encode("utf-8"),
            },
            training={
                "model": "word+char n-gram TF-IDF, logistic regression (scikit-learn)",
                "config": config.as_dict(),
            },
        )

    return fit


def train_ngram_bundle(
    corpus_paths: Sequence[str],
    out: str | Path,
    *,
    splits: SplitConfig = SplitConfig(),
    sampling: SamplingConfig = SamplingConfig(),
    config: NgramBaselineConfig | None = None,
    mapping: FieldMapping | None = None,
    progress: bool = True,
) -> BundleManifest:
    """Trains the n-gram model on a corpus and writes a calibrated, evaluated bundle to ``out``."""
    return train_bundle(
        ngram_fit(config),
        corpus_paths,
        out,
        splits=splits,
        sampling=sampling,
        mapping=mapping,
        progress=progress,
    )
