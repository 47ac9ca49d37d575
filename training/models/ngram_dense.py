"""The n-gram model's dense export, the layout of bundle formats 1-2 (no longer written by training).

The graph takes word and character id sequences and counts n-grams itself with ONNX ``TfIdfVectorizer``
into a dense ``[batch, vocabulary]`` matrix, so its cost grows with the vocabulary (0.6x scikit-learn's
own sparse pipeline; the sparse layout of :mod:`humanlike.training.models.ngram` is several times
faster). It stays because the runtime still reads such bundles: the tests build one to keep that
reader honest, and ``bench/bench_ngram.py`` times it beside the sparse layout.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from sklearn.feature_extraction.text import TfidfVectorizer

from humanlike.detector.features import NgramFeatureSpec
from humanlike.training.models.ngram import NgramBaseline, serialized_model


def dense_feature_spec(model: NgramBaseline) -> NgramFeatureSpec:
    """The format 1-2 features.json: the word list; characters go in as code points."""
    return NgramFeatureSpec(
        words=_word_list(model),
        lowercase_words=model.word_vectorizer.lowercase,
        lowercase_chars=model.char_vectorizer.lowercase,
        normalization=model.config.normalization,
    )


def _word_list(model: NgramBaseline) -> list[str]:
    return sorted({w for ngram in model.word_vectorizer.vocabulary_ for w in ngram.split(" ")})


def dense_onnx(model: NgramBaseline) -> bytes:
    """The model as a format 1-2 graph: inputs ``word_ids``, ``char_ids``; output ``llm_logit``."""
    word_id = {w: i + 1 for i, w in enumerate(_word_list(model))}
    n_word = len(model.word_vectorizer.vocabulary_)
    coef = model.classifier.coef_.ravel()
    nodes: list[onnx.NodeProto] = []
    inits: list[onnx.TensorProto] = [
        numpy_helper.from_array(np.array(1.0, dtype=np.float32), "one"),
        numpy_helper.from_array(np.array(1e-12, dtype=np.float32), "eps"),
        numpy_helper.from_array(
            np.array(model.classifier.intercept_, dtype=np.float32).reshape(1), "intercept"
        ),
        numpy_helper.from_array(np.array([1], dtype=np.int64), "squeeze_axes"),
    ]
    blocks = [
        ("word", model.word_vectorizer, lambda g: tuple(word_id[w] for w in g.split(" ")), coef[:n_word]),
        ("char", model.char_vectorizer, lambda g: tuple(ord(ch) + 1 for ch in g), coef[n_word:]),
    ]
    for name, vectorizer, to_ids, block_coef in blocks:
        _tfidf_block(name, vectorizer, to_ids, block_coef, nodes, inits)
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
    return serialized_model(graph)


def _tfidf_block(
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
