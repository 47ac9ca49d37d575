"""ONNX parity: the exported graph scores real texts as scikit-learn does (max abs diff <= 1e-5)."""

from __future__ import annotations

import dataclasses

import numpy as np
import onnxruntime as ort
import pytest

from humanlike.detector.features import NgramFeaturizer
from humanlike.training.data.corpus import labels_of, texts_of
from humanlike.training.data.schema import CorpusRecord
from humanlike.training.data.splits import make_splits
from humanlike.training.models.ngram import NgramBaseline

from .conftest import SMALL_CONFIG

EDGE_CASES = [
    "Tabs\tand  double  spaces\n\nand blank lines",
    "İstanbul ǅemal ÀÉÎ straße ﬁne",  # lowercasing that changes length
    "a",
    "NUL\x00inside",
    "😀 emoji 😀😀 and 中文字符",
    "Sure, here is a story about a fox:\n\n\u201cRun,\u201d she said \u2014 [Your Name]",
    "Sure!",
]


@pytest.mark.parametrize(
    ("lowercase_chars", "normalization"), [(False, "none"), (True, "none"), (False, "v1")]
)
def test_onnx_matches_sklearn(
    small_corpus: list[CorpusRecord], lowercase_chars: bool, normalization: str
) -> None:
    splits = make_splits(small_corpus, seed=0, holdout_fraction=0.1, calibration_fraction=0.1)
    config = dataclasses.replace(SMALL_CONFIG, lowercase_chars=lowercase_chars, normalization=normalization)
    model = NgramBaseline(config).fit(
        texts_of(small_corpus, splits.train), labels_of(small_corpus, splits.train)
    )
    texts = texts_of(small_corpus, splits.holdout) + EDGE_CASES
    reference = model.predict_proba(texts)

    session = ort.InferenceSession(model.to_onnx(), providers=["CPUExecutionProvider"])
    feed = NgramFeaturizer(model.feature_spec()).encode(texts).as_feed()
    (logits,) = session.run(["llm_logit"], feed)
    onnx_p = 1.0 / (1.0 + np.exp(-logits.astype(np.float64)))

    diff = float(np.abs(onnx_p - reference).max())
    setting = f"{lowercase_chars=}, {normalization=}"
    print(f"ONNX vs scikit-learn ({setting}) on {len(texts)} texts: max |diff| {diff:.3g}")
    assert diff <= 1e-5
    assert reference.std() > 0.05, "scores should vary across texts, or parity proves little"
