"""A first-order profile of a corpus: what separates its human and LLM texts on the surface.

Per data type and label, and per generator: length, lexical diversity (type-token ratio, MTLD,
distinct bigrams) and repetition. For the judgement data types (task labels, preferences), where the
same item carries a human's and an LLM's judgement, the distribution of judgements on each side and
how often the two disagree on the same item.

Lexical diversity comes from ``lexicalrichness`` (lower-cased words, punctuation and digits
stripped). MTLD (McCarthy & Jarvis 2010) is the mean length of word runs that keep the type-token
ratio above 0.72; unlike the plain TTR it hardly depends on text length.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.metrics import cohen_kappa_score

from humanlike.textstats import MTLD_THRESHOLD, lexical_stats
from humanlike.training.data.schema import CorpusRecord

# The rendered judgement sits on the last line: "Label: 1", "Preference code: 2".
JUDGEMENT_RE = re.compile(r"(?:^|\n)(?:Label|Preference code):\s*(\S+)\s*$")
JUDGEMENT_TYPES = ("task_labels", "preferences")


def text_stats(text: str) -> dict[str, float]:
    """Surface statistics of one text: :func:`humanlike.textstats.lexical_stats`, the one definition
    the curriculum's quality metrics use too."""
    stats = lexical_stats(text)
    stats["repeated_bigram_rate"] = stats.pop("repetition")
    return stats


def _aggregate(rows: list[dict[str, float]]) -> dict[str, Any]:
    out: dict[str, Any] = {"n": len(rows)}
    for key in ("chars", "words"):
        out[f"median_{key}"] = float(np.median([r[key] for r in rows]))
    for key in ("ttr", "mtld", "distinct_2", "repeated_bigram_rate"):
        values = np.array([r[key] for r in rows])
        values = values[~np.isnan(values)]
        out[f"mean_{key}"] = float(values.mean()) if values.size else None
    return out


def judgement(text: str) -> str | None:
    m = JUDGEMENT_RE.search(text)
    return m.group(1) if m else None


def judgement_profile(records: Sequence[CorpusRecord]) -> dict[str, Any]:
    """Per judgement data type: label distributions by side and agreement on the same items."""
    out: dict[str, Any] = {}
    for data_type in JUDGEMENT_TYPES:
        pairs: dict[str, dict[str, str | None]] = defaultdict(dict)
        counts: dict[str, Counter[str]] = {"human": Counter(), "llm": Counter()}
        for r in records:
            if r.data_type != data_type:
                continue
            j = judgement(r.text)
            counts[r.label][j or "(unparsed)"] += 1
            pairs[r.group][r.label] = j
        both = [(p["human"], p["llm"]) for p in pairs.values() if p.get("human") and p.get("llm")]
        if not any(counts.values()):
            continue
        human = [h for h, _ in both]
        llm = [m for _, m in both]
        out[data_type] = {
            "distribution": {side: dict(sorted(c.items())) for side, c in counts.items()},
            "n_paired_items": len(both),
            "disagreement_rate": float(np.mean([h != m for h, m in both])) if both else None,
            "cohen_kappa": float(cohen_kappa_score(human, llm)) if len(set(human + llm)) > 1 else None,
        }
    return out


def corpus_profile(records: Sequence[CorpusRecord]) -> dict[str, Any]:
    """Surface statistics by data type x label and by generator, plus the judgement profile."""
    stats = [text_stats(r.text) for r in records]
    by_type: dict[str, dict[str, list[dict[str, float]]]] = defaultdict(lambda: defaultdict(list))
    by_generator: dict[str, list[dict[str, float]]] = defaultdict(list)
    for r, s in zip(records, stats, strict=True):
        by_type[r.data_type][r.label].append(s)
        by_generator[r.generator].append(s)
    return {
        "lexicalrichness": {"mtld_threshold": MTLD_THRESHOLD},
        "data_type": {
            dt: {label: _aggregate(rows) for label, rows in sorted(sides.items())}
            for dt, sides in sorted(by_type.items())
        },
        "generator": {g: _aggregate(rows) for g, rows in sorted(by_generator.items())},
        "judgements": judgement_profile(records),
    }


def format_profile(profile: dict[str, Any]) -> str:
    header = (
        f"{'data type / label':<32} {'n':>6} {'words':>6} {'TTR':>6} {'MTLD':>6} {'dist-2':>6} {'rep-2':>6}"
    )
    lines = [header, "-" * len(header)]

    def row(name: str, a: dict[str, Any]) -> str:
        def f(x: float | None) -> str:
            return "   -" if x is None else f"{x:.2f}" if x < 10 else f"{x:.0f}"

        return (
            f"{name[:32]:<32} {a['n']:>6} {a['median_words']:>6.0f} {f(a['mean_ttr']):>6} "
            f"{f(a['mean_mtld']):>6} {f(a['mean_distinct_2']):>6} {f(a['mean_repeated_bigram_rate']):>6}"
        )

    for dt, sides in profile["data_type"].items():
        for label, a in sides.items():
            lines.append(row(f"{dt} / {label}", a))
    lines += ["", header.replace("data type / label", "generator        "), "-" * len(header)]
    lines += [row(g, a) for g, a in profile["generator"].items()]
    for dt, j in profile["judgements"].items():
        differs = "-" if j["disagreement_rate"] is None else f"{j['disagreement_rate']:.1%}"
        kappa = "-" if j["cohen_kappa"] is None else f"{j['cohen_kappa']:.2f}"
        lines.append(
            f"\n{dt}: {j['n_paired_items']} items judged by both; LLM differs from human on {differs} "
            f"(Cohen's kappa {kappa}); human {j['distribution']['human']}, llm {j['distribution']['llm']}"
        )
    return "\n".join(lines)
