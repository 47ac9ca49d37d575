"""Gradient-boosted trees over each text's word-surprisal profile (:mod:`humanlike.detector.surprisal`).

A model that never sees a word of the text, only how probable its words are in general English and
how that moves through the text: it cannot learn a source's topics, which is what makes the n-gram
model fail on sources it never saw. The protocol's ``surprisal`` candidate, and the n-gram views'
optional third member (``NgramBaselineConfig.surprisal_view``, bundle format 5).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any, Self

import numpy as np
import onnx
from onnx import helper
from sklearn.ensemble import HistGradientBoostingClassifier

from humanlike.detector.surprisal import SurprisalTable, surprisal_profiles
from humanlike.training.config import SurprisalConfig
from humanlike.training.data.corpus import labels_of
from humanlike.training.data.schema import CorpusRecord
from humanlike.training.kinds import DetectorKind


@cache
def english_table(words: int) -> SurprisalTable:
    """The ``words`` most frequent English words of ``wordfreq`` (its "best" list) and their surprisal.

    Raises:
        ImportError: ``wordfreq`` is not installed (it comes with the ``train`` and ``curriculum`` extras).
    """
    try:
        import wordfreq
    except ImportError as e:
        raise ImportError(
            "the surprisal table needs wordfreq: pip install 'humanlike[train]' (or wordfreq itself)"
        ) from e

    frequencies = wordfreq.get_frequency_dict("en", wordlist="best")
    top = dict(sorted(frequencies.items(), key=lambda kv: (-kv[1], kv[0]))[:words])
    version = getattr(wordfreq, "__version__", "unknown")
    return SurprisalTable.from_frequencies(top, f"wordfreq {version}, en, best, top {len(top)} words")


class SurprisalClassifier(DetectorKind):
    """The ``surprisal`` kind (a protocol candidate, and the n-gram views' optional member): trees fitted
    on the profiles of labelled texts; ``decision_function`` is the log-odds of LLM.

    Args:
        config: the table's size and the trees' settings.
    """

    name = "surprisal"
    recipe_key = "surprisal"

    def __init__(self, config: SurprisalConfig = SurprisalConfig()) -> None:
        self.config = config

    def fit(
        self, records: Sequence[CorpusRecord], *, validation: Sequence[CorpusRecord] | None = None
    ) -> Self:
        """Fits on the texts of ``records``, each class weighted equally."""
        config = self.config
        self.table = english_table(config.table_words)
        self.trees = HistGradientBoostingClassifier(
            max_iter=config.max_iter,
            learning_rate=config.learning_rate,
            max_leaf_nodes=config.max_leaf_nodes,
            random_state=config.seed,
        )
        labels = labels_of(records)
        weight = np.where(labels == 1, 0.5 / max(labels.mean(), 1e-9), 0.5 / max(1 - labels.mean(), 1e-9))
        self.trees.fit(
            surprisal_profiles([r.text for r in records], self.table), labels, sample_weight=weight
        )
        return self

    def decision_function(self, texts: Sequence[str]) -> np.ndarray:
        return np.asarray(
            self.trees.decision_function(surprisal_profiles(texts, self.table)), dtype=np.float64
        )


def _at_or_below(threshold: float) -> float:
    """The largest float32 at or below ``threshold``: for a float32 ``x``, ``x <= t`` exactly when
    ``x <= _at_or_below(t)``, so the float32 graph splits every profile as the float64 trees do."""
    t32 = np.float32(threshold)
    if float(t32) > threshold:
        t32 = np.nextafter(t32, np.float32(-np.inf))
    return float(t32)


def tree_ensemble_node(trees: HistGradientBoostingClassifier, profile: str, output: str) -> onnx.NodeProto:
    """An ``ai.onnx.ml`` ``TreeEnsembleRegressor`` that computes ``trees.decision_function`` (log-odds,
    ``[n, 1]``) from the float32 ``profile`` input. Split thresholds are rounded down to float32 (see
    :func:`_at_or_below`); a profile holds no NaN, so scikit-learn's missing-value branches never apply."""
    attrs: dict[str, list[Any]] = {
        key: []
        for key in (
            "nodes_treeids",
            "nodes_nodeids",
            "nodes_featureids",
            "nodes_values",
            "nodes_modes",
            "nodes_truenodeids",
            "nodes_falsenodeids",
            "target_treeids",
            "target_nodeids",
            "target_ids",
            "target_weights",
        )
    }
    for tree_id, (predictor,) in enumerate(trees._predictors):
        for node_id, node in enumerate(predictor.nodes):
            leaf = bool(node["is_leaf"])
            if not leaf and node["is_categorical"]:
                raise ValueError("categorical splits are not exported")
            attrs["nodes_treeids"].append(tree_id)
            attrs["nodes_nodeids"].append(node_id)
            attrs["nodes_featureids"].append(0 if leaf else int(node["feature_idx"]))
            attrs["nodes_values"].append(0.0 if leaf else _at_or_below(float(node["num_threshold"])))
            attrs["nodes_modes"].append("LEAF" if leaf else "BRANCH_LEQ")
            attrs["nodes_truenodeids"].append(0 if leaf else int(node["left"]))
            attrs["nodes_falsenodeids"].append(0 if leaf else int(node["right"]))
            if leaf:
                attrs["target_treeids"].append(tree_id)
                attrs["target_nodeids"].append(node_id)
                attrs["target_ids"].append(0)
                attrs["target_weights"].append(float(node["value"]))
    baseline = float(np.asarray(trees._baseline_prediction).ravel()[0])
    settings: dict[str, Any] = {
        "n_targets": 1,
        "aggregate_function": "SUM",
        "post_transform": "NONE",
        "base_values": [baseline],
        **attrs,
    }
    return helper.make_node("TreeEnsembleRegressor", [profile], [output], domain="ai.onnx.ml", **settings)
