"""Data-driven quality and diversity metrics of one text, and their aggregates per group.

The regurgitative-training results this package follows found LLM data hurts through more errors and
less lexical diversity. The metrics here measure both, cheaply enough for millions of texts:

- ``words``, ``chars``: length;
- ``ttr``: type-token ratio (falls with length; kept for comparison);
- ``mtld``: MTLD (McCarthy & Jarvis 2010, threshold 0.72), the mean length of word runs that keep the
  TTR above the threshold: lexical diversity that hardly depends on length (``lexicalrichness``);
- ``distinct_2``: distinct word bigrams / bigrams;
- ``repetition``: share of word bigrams that repeat an earlier bigram of the same text;
- ``oov_share``: share of words absent from the ``wordfreq`` lexicon of the language, an error proxy
  (misspellings, garbled tokens; note it also counts rare names and every word of another language).

``quality`` folds them into one number in [0, 1], the geometric mean of three parts, each in [0, 1]:
diversity ``mtld / (mtld + 50)`` (0.5 at MTLD 50, the middle of human English), cleanliness
``1 - oov_share`` and non-repetition ``1 - repetition``. It is a fixed formula, not fitted, so that a
curriculum's order can be reproduced from its manifest alone.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any

from humanlike.textstats import lexical_stats

MTLD_HALF = 50.0
# Letters only, with inner apostrophes ("don't"): the unit wordfreq's lexicon is keyed by.
_LEXICON_WORD = re.compile(r"[^\W\d_]+(?:['\u2019][^\W\d_]+)*")

QUALITY_FORMULA = (
    "geometric mean of mtld/(mtld+50), 1-oov_share, 1-repetition (each in [0, 1]); 0 for a text of no words"
)


@lru_cache(maxsize=4)
def lexicon(lang: str) -> frozenset[str]:
    """The ``wordfreq`` word list of ``lang`` (loaded once per process)."""
    import wordfreq

    return frozenset(wordfreq.get_frequency_dict(lang))


@dataclass(frozen=True)
class TextQuality:
    chars: int
    words: int
    ttr: float
    mtld: float
    distinct_2: float
    repetition: float
    oov_share: float
    score: float
    """The composite :func:`quality_score`."""

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def oov_share(text: str, lang: str = "en") -> float:
    """Share of the text's words that ``wordfreq`` does not know (NaN for a text with no words)."""
    words = _LEXICON_WORD.findall(text.lower())
    if not words:
        return math.nan
    known = lexicon(lang)
    return sum(w.replace("\u2019", "'") not in known for w in words) / len(words)


def quality_score(mtld: float, oov: float, repetition: float) -> float:
    """The composite in [0, 1] described in the module docstring; undefined parts count as neutral."""
    if math.isnan(mtld):
        return 0.0
    parts = (
        mtld / (mtld + MTLD_HALF),
        1.0 - (0.0 if math.isnan(oov) else oov),
        1.0 - (0.0 if math.isnan(repetition) else repetition),
    )
    return math.prod(parts) ** (1.0 / len(parts))


def text_quality(text: str, lang: str = "en") -> TextQuality:
    """Every metric of one text (see the module docstring)."""
    stats = lexical_stats(text)
    oov = oov_share(text, lang)
    return TextQuality(
        chars=len(text),
        words=int(stats["words"]),
        ttr=stats["ttr"],
        mtld=stats["mtld"],
        distinct_2=stats["distinct_2"],
        repetition=stats["repetition"],
        oov_share=oov,
        score=quality_score(stats["mtld"], oov, stats["repetition"]),
    )


# What each group aggregate reports: the mean of every per-text metric plus human_likeness.
AGGREGATED = ("human_likeness", "quality", "words", "ttr", "mtld", "distinct_2", "repetition", "oov_share")


class GroupStats:
    """Running means of the metrics per group (generator, label, stage): memory grows with the
    number of groups, never with the number of texts. NaNs are left out of a mean."""

    def __init__(self) -> None:
        self._n: Counter[str] = Counter()
        self._sums: dict[str, defaultdict[str, float]] = defaultdict(lambda: defaultdict(float))
        self._counts: dict[str, Counter[str]] = defaultdict(Counter)

    def add(self, group: str, values: Mapping[str, float | None]) -> None:
        self._n[group] += 1
        sums, counts = self._sums[group], self._counts[group]
        for key in AGGREGATED:
            v = values.get(key)
            if v is not None and not math.isnan(v):
                sums[key] += v
                counts[key] += 1

    def summary(self) -> dict[str, dict[str, Any]]:
        """``{group: {"n": .., "mean_<metric>": ..}}``, groups sorted by name."""
        out: dict[str, dict[str, Any]] = {}
        for group in sorted(self._n):
            row: dict[str, Any] = {"n": self._n[group]}
            for key in AGGREGATED:
                c = self._counts[group][key]
                row[f"mean_{key}"] = round(self._sums[group][key] / c, 6) if c else None
            out[group] = row
        return out


def format_group_table(summary: Mapping[str, Mapping[str, Any]], groups: Iterable[str] | None = None) -> str:
    """A Markdown table of :meth:`GroupStats.summary`."""
    cols = (
        "n",
        "mean_human_likeness",
        "mean_quality",
        "mean_words",
        "mean_mtld",
        "mean_distinct_2",
        "mean_repetition",
        "mean_oov_share",
    )
    lines = [
        "| group | " + " | ".join(c.removeprefix("mean_") for c in cols) + " |",
        "|---|" + "---|" * len(cols),
    ]
    for group in groups or summary:
        row = summary[group]
        cells = [f"{row[c]:.3f}" if isinstance(row[c], float) else str(row[c]) for c in cols]
        lines.append(f"| {group} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
