"""Robustness: how much a detector's scores move under cheap edits an adversary (or a copy editor) makes.

Each :class:`Perturbation` rewrites a text with its own seeded random generator (seeded by the
perturbation's name, the run's seed and the record's id), so the perturbed texts are the same from run
to run and for every bundle compared on them.

- Character attacks (homoglyphs, case swaps, whitespace, punctuation), word swaps and sentence
  shuffling are applied to the LLM texts only, against the untouched human texts: the question is
  whether an LLM text escapes detection once edited.
- Truncation is applied to both classes: it asks how well the detector does on short texts, and
  truncating one side only would hand it the length as a clue.

Word swaps use nearest neighbours in the packaged MiniLM encoder's input-embedding table (in the
spirit of TextFooler's embedding-neighbour substitutions). There is no offline thesaurus here, so these
are *related* words rather than true synonyms: sometimes an antonym or a near relative ("huge" for
"big", "small" for "large"), which makes the attack, if anything, cruder than a real paraphrase.
"""

from __future__ import annotations

import random
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

import numpy as np

from humanlike.detector.bundle import Threshold
from humanlike.training.data.corpus import labels_of
from humanlike.training.data.schema import CorpusRecord
from humanlike.training.evaluation.metrics import REPORT_FPRS, binary_metrics

Scorer = Callable[[list[str]], np.ndarray]
"""Maps texts to calibrated p_llm (NaN for a text the bundle refuses)."""

# Look-alikes from Cyrillic and Greek that render like the Latin letters they replace (named, since
# the characters themselves are indistinguishable in source).
_LOOKALIKES = {
    "a": "CYRILLIC SMALL LETTER A",
    "c": "CYRILLIC SMALL LETTER ES",
    "e": "CYRILLIC SMALL LETTER IE",
    "i": "CYRILLIC SMALL LETTER BYELORUSSIAN-UKRAINIAN I",
    "j": "CYRILLIC SMALL LETTER JE",
    "o": "CYRILLIC SMALL LETTER O",
    "p": "CYRILLIC SMALL LETTER ER",
    "s": "CYRILLIC SMALL LETTER DZE",
    "x": "CYRILLIC SMALL LETTER HA",
    "y": "CYRILLIC SMALL LETTER U",
    "A": "CYRILLIC CAPITAL LETTER A",
    "B": "CYRILLIC CAPITAL LETTER VE",
    "C": "CYRILLIC CAPITAL LETTER ES",
    "E": "CYRILLIC CAPITAL LETTER IE",
    "H": "CYRILLIC CAPITAL LETTER EN",
    "I": "CYRILLIC CAPITAL LETTER BYELORUSSIAN-UKRAINIAN I",
    "K": "CYRILLIC CAPITAL LETTER KA",
    "M": "CYRILLIC CAPITAL LETTER EM",
    "O": "CYRILLIC CAPITAL LETTER O",
    "P": "CYRILLIC CAPITAL LETTER ER",
    "T": "CYRILLIC CAPITAL LETTER TE",
    "X": "CYRILLIC CAPITAL LETTER HA",
    "Y": "GREEK CAPITAL LETTER UPSILON",
}
HOMOGLYPHS = {latin: unicodedata.lookup(name) for latin, name in _LOOKALIKES.items()}
CHAR_RATE = 0.1  # share of eligible characters a character attack touches
WORD_RATE = 0.15  # share of eligible words the word swap replaces
PUNCTUATION = ",.;:!?"
WORD_RE = re.compile(r"\S+")
SENTENCE_END_RE = re.compile(r"(?<=[.!?])\s+")


def homoglyphs(text: str, rng: random.Random) -> str:
    return "".join(HOMOGLYPHS[c] if c in HOMOGLYPHS and rng.random() < CHAR_RATE else c for c in text)


def case_swap(text: str, rng: random.Random) -> str:
    return "".join(c.swapcase() if c.isalpha() and rng.random() < CHAR_RATE else c for c in text)


def whitespace_noise(text: str, rng: random.Random) -> str:
    """Doubles some gaps between words, turns others into line breaks."""
    return re.sub(
        r"\s+",
        lambda m: rng.choice(["  ", "\n", " \n "]) if rng.random() < CHAR_RATE else m.group(0),
        text,
    )


def punctuation_noise(text: str, rng: random.Random) -> str:
    """Drops some punctuation marks and sprinkles others after words."""
    out = []
    for word in re.split(r"(\s+)", text):
        if not word.strip():
            out.append(word)
            continue
        word = "".join(c for c in word if c not in PUNCTUATION or rng.random() >= 3 * CHAR_RATE)
        if rng.random() < CHAR_RATE / 2:
            word += rng.choice(PUNCTUATION)
        out.append(word)
    return "".join(out)


def sentence_shuffle(text: str, rng: random.Random) -> str:
    sentences = SENTENCE_END_RE.split(text.strip())
    rng.shuffle(sentences)
    return " ".join(sentences)


def truncate_words(n_words: int) -> Callable[[str, random.Random], str]:
    def truncate(text: str, rng: random.Random) -> str:
        words = list(WORD_RE.finditer(text))
        return text if len(words) <= n_words else text[: words[n_words - 1].end()]

    return truncate


class EmbeddingNeighbours:
    """Related words from an encoder's input-embedding table (whole-word WordPiece entries only).

    A neighbour must be alphabetic, at least as similar as ``min_similarity`` (cosine), and not a
    morphological variant (neither word contains the other, no shared first four letters).
    """

    def __init__(self, model_dir: Path, min_similarity: float = 0.5, top_k: int = 3) -> None:
        from safetensors.numpy import load_file

        weights = load_file(str(model_dir / "model.safetensors"))
        (key,) = [k for k in weights if k.endswith("word_embeddings.weight")]
        table = weights[key].astype(np.float32)
        vocab = (model_dir / "vocab.txt").read_text(encoding="utf-8").splitlines()
        self._words = vocab
        self._index = {w: i for i, w in enumerate(vocab)}
        self._eligible = np.array([w.isalpha() and w.islower() and len(w) >= 3 for w in vocab])
        self._table = table / np.linalg.norm(table, axis=1, keepdims=True)
        self._min_similarity = min_similarity
        self._top_k = top_k
        self._cache: dict[str, list[str]] = {}

    def __call__(self, word: str) -> list[str]:
        if word in self._cache:
            return self._cache[word]
        i = self._index.get(word)
        found: list[str] = []
        if i is not None and self._eligible[i]:
            sims = self._table @ self._table[i]
            sims[~self._eligible] = -1.0
            for j in np.argsort(-sims)[: 10 * self._top_k]:
                cand = self._words[j]
                if sims[j] < self._min_similarity or len(found) == self._top_k:
                    break
                if word in cand or cand in word or cand[:4] == word[:4]:
                    continue
                found.append(cand)
        self._cache[word] = found
        return found


@cache
def packaged_neighbours() -> EmbeddingNeighbours:
    from humanlike.training.pretrained import default_base_model

    return EmbeddingNeighbours(default_base_model())


def word_swap(text: str, rng: random.Random) -> str:
    neighbours = packaged_neighbours()

    def swap(m: re.Match[str]) -> str:
        word = m.group(0)
        if len(word) < 4 or rng.random() >= WORD_RATE:
            return word
        options = neighbours(word.lower())
        if not options:
            return word
        new = rng.choice(options)
        return new.capitalize() if word[0].isupper() else new

    return re.sub(r"[A-Za-z]+", swap, text)


@dataclass(frozen=True)
class Perturbation:
    name: str
    description: str
    applies_to: Literal["llm", "both"]
    apply: Callable[[str, random.Random], str]

    def __call__(self, record: CorpusRecord, seed: int) -> str:
        return self.apply(record.text, random.Random(f"{self.name}:{seed}:{record.id}"))


PERTURBATIONS: tuple[Perturbation, ...] = (
    Perturbation("homoglyphs", f"{CHAR_RATE:.0%} of look-alike letters → Cyrillic/Greek", "llm", homoglyphs),
    Perturbation("case-swap", f"{CHAR_RATE:.0%} of letters change case", "llm", case_swap),
    Perturbation("whitespace", f"{CHAR_RATE:.0%} of gaps doubled or broken", "llm", whitespace_noise),
    Perturbation(
        "punctuation", f"{3 * CHAR_RATE:.0%} of marks dropped, some added after {CHAR_RATE / 2:.0%} of words",
        "llm", punctuation_noise,
    ),
    Perturbation("word-swap", f"{WORD_RATE:.0%} of words → embedding neighbours", "llm", word_swap),
    Perturbation("sentence-shuffle", "sentences in random order", "llm", sentence_shuffle),
    Perturbation("truncate-64", "both classes cut to their first 64 words", "both", truncate_words(64)),
    Perturbation("truncate-16", "both classes cut to their first 16 words", "both", truncate_words(16)),
)  # fmt: skip
BY_NAME = {p.name: p for p in PERTURBATIONS}


def _summary(
    y: np.ndarray, p: np.ndarray, data_types: np.ndarray, thresholds: Sequence[Threshold]
) -> dict[str, Any]:
    ok = ~np.isnan(p)
    y, p, data_types = y[ok], p[ok], data_types[ok]
    m = binary_metrics(y, p, thresholds)
    return {
        "auroc": m["auroc"],
        "tpr_at_fpr": m["tpr_at_fpr"],
        "at_thresholds": m["at_thresholds"],
        "mean_p_llm": {"human": float(p[y == 0].mean()), "llm": float(p[y == 1].mean())},
        "auroc_by_data_type": {
            dt: binary_metrics(y[data_types == dt], p[data_types == dt])["auroc"]
            for dt in sorted(set(data_types))
        },
    }


def robustness_sample(records: Sequence[CorpusRecord], max_per_class: int, seed: int) -> list[int]:
    """Indices of up to ``max_per_class`` human and LLM texts, drawn with a fixed seed."""
    rng = np.random.default_rng(seed)
    chosen: list[int] = []
    for label in ("human", "llm"):
        idx = np.array([i for i, r in enumerate(records) if r.label == label])
        if idx.size > max_per_class:
            idx = np.sort(rng.choice(idx, max_per_class, replace=False))
        chosen.extend(int(i) for i in idx)
    return chosen


def robustness_report(
    records: Sequence[CorpusRecord],
    p_clean: np.ndarray,
    score: Scorer,
    thresholds: Sequence[Threshold],
    *,
    perturbations: Sequence[Perturbation] = PERTURBATIONS,
    max_per_class: int = 1000,
    seed: int = 0,
    examples: bool = True,
    on_done: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Scores perturbed copies of a sample of ``records`` and reports the change from clean scores.

    ``p_clean`` are the clean scores of ``records``. A perturbed text the bundle refuses (too long
    after added whitespace, say) counts in ``n_refused`` and drops out of that perturbation's metrics.
    With ``examples``, each perturbation keeps the start of one text before and after (corpus text:
    leave it out of reports that are committed or published).
    """
    sample = robustness_sample(records, max_per_class, seed)
    recs = [records[i] for i in sample]
    y = labels_of(recs)
    clean = np.asarray(p_clean, dtype=np.float64)[sample]
    data_types = np.array([r.data_type for r in recs])
    if not (0 < y.sum() < y.size):
        raise ValueError("robustness needs human and LLM texts")
    report: dict[str, Any] = {
        "seed": seed,
        "n_human": int(y.size - y.sum()),
        "n_llm": int(y.sum()),
        "fprs": [f"{f:g}" for f in REPORT_FPRS],
        "clean": _summary(y, clean, data_types, thresholds),
        "perturbations": {},
    }
    for pert in perturbations:
        targets = [i for i, r in enumerate(recs) if pert.applies_to == "both" or r.label == "llm"]
        texts = [pert(recs[i], seed) for i in targets]
        p = clean.copy()
        p[targets] = score(texts)
        perturbed = _summary(y, p, data_types, thresholds)
        report["perturbations"][pert.name] = {
            "description": pert.description,
            "applies_to": pert.applies_to,
            "n_changed": sum(t != recs[i].text for i, t in zip(targets, texts, strict=True)),
            "n_refused": int(np.isnan(p).sum()),
            **perturbed,
            "auroc_drop": report["clean"]["auroc"] - perturbed["auroc"],
            "tpr_drop": {k: report["clean"]["tpr_at_fpr"][k] - v for k, v in perturbed["tpr_at_fpr"].items()},
            "example": {"before": recs[targets[0]].text[:300], "after": texts[0][:300]}
            if targets and examples
            else None,
        }
        if on_done:
            on_done(pert.name)
    return report


def format_robustness(report: dict[str, Any]) -> str:
    """Terminal table: AUROC, TPR at 1% FPR (own ROC), share flagged at the bundle's 1% threshold."""

    def flagged(r: dict[str, Any]) -> str:
        t = r["at_thresholds"].get("0.01")
        return f"{t['tpr']:>9.3f}" if t else f"{'-':>9}"

    header = (
        f"{'perturbation':<18} {'applies to':>10} {'AUROC':>7} {'drop':>7} {'TPR@1%':>7} {'drop':>7} "
        f"{'flag@1%':>9}"
    )
    clean = report["clean"]
    lines = [header, "-" * len(header)]
    lines.append(
        f"{'(clean)':<18} {'':>10} {clean['auroc']:>7.3f} {'':>7} {clean['tpr_at_fpr']['0.01']:>7.3f} "
        f"{'':>7} {flagged(clean)}"
    )
    for name, r in report["perturbations"].items():
        lines.append(
            f"{name:<18} {r['applies_to']:>10} {r['auroc']:>7.3f} {r['auroc_drop']:>+7.3f} "
            f"{r['tpr_at_fpr']['0.01']:>7.3f} {r['tpr_drop']['0.01']:>+7.3f} {flagged(r)}"
        )
    return "\n".join(lines)
