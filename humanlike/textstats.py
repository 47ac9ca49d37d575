"""Surface statistics of a text (length, lexical diversity), one definition for every part that reports
them: the corpus profile of an evaluation (:mod:`humanlike.training.evaluation.profile`) and the quality
metrics of a curriculum (:mod:`humanlike.curriculum.quality`). Needs ``lexicalrichness`` (in the
``train`` and ``curriculum`` extras), not the runtime.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter

MTLD_THRESHOLD = 0.72
"""MTLD's type-token-ratio threshold (McCarthy & Jarvis 2010)."""


def lexical_stats(text: str) -> dict[str, float]:
    """Length and diversity of one text, words as ``lexicalrichness`` counts them.

    NaN where a measure is undefined (no words, or fewer than two for bigram measures).
    """
    # Imported here: it brings textblob, nltk and pandas (about 100 MB), which the processes that only
    # order a curriculum's scored rows never need.
    from lexicalrichness import LexicalRichness

    lex = LexicalRichness(text)
    words = lex.wordlist
    bigrams = list(itertools.pairwise(words))
    repeated = sum(c - 1 for c in Counter(bigrams).values())
    return {
        "chars": float(len(text)),
        "words": float(len(words)),
        "ttr": lex.ttr if words else math.nan,
        "mtld": lex.mtld(threshold=MTLD_THRESHOLD) if words else math.nan,
        "distinct_2": len(set(bigrams)) / len(bigrams) if bigrams else math.nan,
        "repetition": repeated / len(bigrams) if bigrams else math.nan,
    }
