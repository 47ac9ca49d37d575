"""Gradient-boosted trees over each text's word-surprisal profile (:mod:`humanlike.detector.surprisal`).

A model that never sees a word of the text, only how probable its words are in general English and
how that moves through the text: it cannot learn a source's topics, which is what makes the n-gram
model fail on sources it never saw. The protocol's ``surprisal`` candidate.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier

from humanlike.detector.surprisal import SurprisalTable, surprisal_profiles
from humanlike.training.config import SurprisalConfig


@cache
def english_table(words: int) -> SurprisalTable:
    """The ``words`` most frequent English words of ``wordfreq`` (its "best" list) and their surprisal."""
    import wordfreq

    frequencies = wordfreq.get_frequency_dict("en", wordlist="best")
    top = dict(sorted(frequencies.items(), key=lambda kv: (-kv[1], kv[0]))[:words])
    version = getattr(wordfreq, "__version__", "unknown")
    return SurprisalTable.from_frequencies(top, f"wordfreq {version}, en, best, top {len(top)} words")


class SurprisalClassifier:
    """Fits trees on the profiles of labelled texts; ``decision_function`` is the log-odds of LLM.

    Args:
        config: the table's size and the trees' settings.
    """

    def __init__(self, config: SurprisalConfig | None = None) -> None:
        config = config or SurprisalConfig()
        self.config = config
        self.table = english_table(config.table_words)
        self.trees = HistGradientBoostingClassifier(
            max_iter=config.max_iter,
            learning_rate=config.learning_rate,
            max_leaf_nodes=config.max_leaf_nodes,
            random_state=config.seed,
        )

    def fit(self, texts: Sequence[str], labels: np.ndarray) -> SurprisalClassifier:
        """Fits on ``texts`` (labels 1 = LLM), each class weighted equally."""
        labels = np.asarray(labels)
        weight = np.where(labels == 1, 0.5 / max(labels.mean(), 1e-9), 0.5 / max(1 - labels.mean(), 1e-9))
        self.trees.fit(surprisal_profiles(texts, self.table), labels, sample_weight=weight)
        return self

    def decision_function(self, texts: Sequence[str]) -> np.ndarray:
        return np.asarray(
            self.trees.decision_function(surprisal_profiles(texts, self.table)), dtype=np.float64
        )
