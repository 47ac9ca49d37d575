"""ONNX parity: the exported graphs score real texts as scikit-learn does (max abs diff <= 1e-5).

Both layouts: the sparse one that training writes (formats 3-5; 4 with the distorted second view, 5 with
the surprisal trees) and
the dense one of formats 1-2 that the runtime still reads.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import scipy.sparse as sp

from humanlike.detector import Detector
from humanlike.detector.bundle import FEATURES_FILE, FORMAT_VERSION, MODEL_FILE, read_bundle, write_bundle
from humanlike.detector.features import NgramFeaturizer, SparseNgramFeaturizer
from humanlike.training.config import NgramBaselineConfig
from humanlike.training.data.corpus import labels_of, texts_of
from humanlike.training.data.schema import CorpusRecord
from humanlike.training.data.splits import make_splits
from humanlike.training.models.ngram import NgramBaseline, fit_ngram_views
from humanlike.training.models.ngram_dense import dense_feature_spec, dense_onnx

from .conftest import SMALL_CONFIG, train_small_bundle

EDGE_CASES = [
    "Tabs\tand  double  spaces\n\nand blank lines",
    "İstanbul ǅemal ÀÉÎ straße ﬁne",  # lowercasing that changes length
    "a",
    "NUL\x00inside",
    "😀 emoji 😀😀 and 中文字符",
    "Sure, here is a story about a fox:\n\n\u201cRun,\u201d she said \u2014 [Your Name]",
    "Sure!",
    "\x00",  # the featurizer's own separator, inside a text
    "zzzzqqqq xxxyyy",  # n-grams the vocabulary may not have
]


@pytest.mark.parametrize(
    ("lowercase_chars", "normalization"), [(False, "none"), (True, "none"), (False, "v1")]
)
def test_onnx_matches_sklearn(
    small_corpus: list[CorpusRecord], lowercase_chars: bool, normalization: str
) -> None:
    splits = make_splits(small_corpus, seed=0, holdout_fraction=0.1, calibration_fraction=0.1)
    config = dataclasses.replace(
        SMALL_CONFIG,
        char_ngram_range=NgramBaselineConfig().char_ngram_range,  # the shipped range, not the tests'
        lowercase_chars=lowercase_chars,
        normalization=normalization,
    )
    model = NgramBaseline(config).fit(
        texts_of(small_corpus, splits.train), labels_of(small_corpus, splits.train)
    )
    texts = texts_of(small_corpus, splits.holdout) + EDGE_CASES
    reference = model.predict_proba(texts)
    assert reference.std() > 0.05, "scores should vary across texts, or parity proves little"

    layouts = {
        "sparse": (model.to_onnx(), SparseNgramFeaturizer(model.feature_spec())),
        "dense": (dense_onnx(model), NgramFeaturizer(dense_feature_spec(model))),
    }
    for layout, (graph, featurizer) in layouts.items():
        session = ort.InferenceSession(graph, providers=["CPUExecutionProvider"])
        # In batches of 7, and one text alone: a text's score must not depend on its neighbours.
        logits = np.concatenate(
            [
                session.run(["llm_logit"], featurizer.encode(texts[i : i + 7]).as_feed())[0]
                for i in range(0, len(texts), 7)
            ]
        )
        single = session.run(["llm_logit"], featurizer.encode(texts[-3:-2]).as_feed())[0]
        onnx_p = 1.0 / (1.0 + np.exp(-logits.astype(np.float64)))
        diff = float(np.abs(onnx_p - reference).max())
        setting = f"{layout}, {lowercase_chars=}, {normalization=}"
        print(f"ONNX vs scikit-learn ({setting}) on {len(texts)} texts: max |diff| {diff:.3g}")
        assert diff <= 1e-5, setting
        assert abs(float(single[0]) - float(logits[-3])) <= 1e-5, "a text's score depends on its batch"


def test_sparse_featurizer_counts_what_scikit_learn_counts(small_corpus: list[CorpusRecord]) -> None:
    """Row by row, the sparse feed is the scikit-learn count matrix: same columns, same counts."""
    model = NgramBaseline(SMALL_CONFIG).fit(
        [r.text for r in small_corpus[:300]], np.array([r.label == "llm" for r in small_corpus[:300]])
    )
    texts = [r.text for r in small_corpus[300:340]] + EDGE_CASES
    feed = SparseNgramFeaturizer(model.feature_spec()).encode(texts)
    n_columns = model.feature_spec().n_columns
    ours = np.zeros((len(texts), n_columns))
    np.add.at(ours, (feed.text_index, feed.column), feed.count)
    word_counts = model.word_vectorizer.transform(texts) > 0  # which columns, ignoring weights
    char_counts = model.char_vectorizer.transform(texts) > 0
    present = sp.hstack([word_counts, char_counts]).toarray()
    assert np.array_equal(ours > 0, present)
    assert feed.count.min() >= 1 and feed.n_texts == len(texts)


def test_runtime_reads_a_format_2_dense_bundle_as_it_reads_the_sparse_layout(
    small_corpus: list[CorpusRecord], bundle: Path, tmp_path: Path
) -> None:
    """Bundles written before the sparse layout still load and score the same through ``Detector``."""
    model = NgramBaseline(SMALL_CONFIG).fit(
        [r.text for r in small_corpus[:300]], np.array([r.label == "llm" for r in small_corpus[:300]])
    )
    _, manifest = read_bundle(bundle)  # any n-gram manifest: the graphs and features are swapped
    sparse = write_bundle(
        tmp_path / "sparse",
        manifest,
        {MODEL_FILE: model.to_onnx(), FEATURES_FILE: model.feature_spec().model_dump_json().encode()},
    )
    dense = write_bundle(
        tmp_path / "dense",
        manifest.model_copy(update={"format_version": 2}),
        {MODEL_FILE: dense_onnx(model), FEATURES_FILE: dense_feature_spec(model).model_dump_json().encode()},
    )
    texts = [r.text for r in small_corpus[300:360]]
    new, old = Detector(sparse, device="cpu"), Detector(dense, device="cpu")
    assert new.manifest.format_version == FORMAT_VERSION and old.manifest.format_version == 2
    assert np.abs(new.llm_logits(texts) - old.llm_logits(texts)).max() <= 1e-4


def test_two_view_graph_matches_its_members(small_corpus: list[CorpusRecord]) -> None:
    """The shipped n-gram (plain and distorted readings averaged, format 4), here with the optional
    surprisal trees (format 5), is one graph and one featurizer that score as the scikit-learn models
    and their standardisation do."""
    splits = make_splits(small_corpus, seed=0, holdout_fraction=0.1, calibration_fraction=0.1)
    config = dataclasses.replace(SMALL_CONFIG, C=1.0, surprisal_view=True)
    views = fit_ngram_views(small_corpus, splits.train, config, seed=0)
    plain, distorted = views.members
    assert (
        distorted.kept_words_ is not None and len(distorted.kept_words_) == SMALL_CONFIG.distorted_view_words
    )
    texts = texts_of(small_corpus, splits.holdout) + EDGE_CASES
    reference = views.decision_function(texts)
    # the distorted member reads other text: not the plain model rescaled
    assert abs(np.corrcoef(plain.decision_function(texts), distorted.decision_function(texts))[0, 1]) < 0.99
    spec = views.feature_spec()
    assert spec.next_view is not None and spec.next_view.kept_words == sorted(distorted.kept_words_)
    # the optional third member (format 5): trees over each text's word-surprisal profile, a tree ensemble
    assert views.trees is not None and spec.surprisal is not None and len(views.scales) == 3
    assert abs(np.corrcoef(plain.decision_function(texts), views.trees.decision_function(texts))[0, 1]) < 0.9
    featurizer = SparseNgramFeaturizer(spec)
    session = ort.InferenceSession(views.to_onnx(), providers=["CPUExecutionProvider"])
    logits = np.concatenate(
        [
            session.run(["llm_logit"], featurizer.encode(texts[i : i + 7]).as_feed())[0]
            for i in range(0, len(texts), 7)
        ]
    )
    diff = float(np.abs(logits - reference).max())
    print(f"two-view ONNX vs scikit-learn on {len(texts)} texts: max |logit diff| {diff:.3g}")
    assert diff <= 1e-4
    single = session.run(["llm_logit"], featurizer.encode(texts[-3:-2]).as_feed())[0]
    assert abs(float(single[0]) - float(logits[-3])) <= 1e-5, "a text's score depends on its batch"


def test_runtime_scores_a_format_5_bundle_with_surprisal_trees(
    small_corpus_file: Path, tmp_path: Path
) -> None:
    """A bundle built with the surprisal trees: the runtime feeds the graph each text's profile."""
    out = tmp_path / "trees"
    config = dataclasses.replace(SMALL_CONFIG, surprisal_view=True)
    train_small_bundle(small_corpus_file, out, config=config)
    _, manifest = read_bundle(out)
    assert manifest.format_version == FORMAT_VERSION >= 5  # the surprisal profile came with format 5
    session = ort.InferenceSession(str(out / MODEL_FILE), providers=["CPUExecutionProvider"])
    assert "profile" in {i.name for i in session.get_inputs()}
    detector = Detector(out, device="cpu")
    texts = EDGE_CASES + ["A plain sentence about the weather today."] * 2
    logits = detector.llm_logits(texts)
    assert np.isfinite(logits).all() and logits[-1] == pytest.approx(logits[-2], abs=1e-6)
    one_by_one = np.array([detector.llm_logits([t])[0] for t in texts])
    assert np.abs(one_by_one - logits).max() <= 1e-5  # a text's profile does not depend on its batch
