"""Text normalisation that removes format cues of a text's *source*, not its author.

Corpora carry formatting that says where a text was collected rather than who wrote it: one source's
human texts have no line breaks and another's LLM texts do, typographic quotes mark the human side of
a news source and the LLM side of another, simulated dialogues keep ``[User 1's name]`` placeholders, chat
models open with "Sure, here is ...". A detector that learns those cues scores well in distribution and
flags the wrong texts elsewhere. Normalising them away before the model reads the text, in training and
at run time alike (a bundle's ``features.json`` names its scheme), leaves the wording to decide.

Scheme ``v1``, in order:

1. Unicode NFKC; typographic quotes, dashes and the ellipsis character as ASCII;
2. a leading chat opener (``Sure, here is a poem about X:``, ``Certainly! ...``) dropped when it is the
   first sentence and short;
3. bracketed placeholders (``[Your Name]``, ``[User 1's name]``) dropped;
4. every run of whitespace (line breaks included) as one space, and the ends stripped.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Literal

Normalization = Literal["none", "v1"]

_TYPOGRAPHY = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201b": "'",
        "\u2032": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u201f": '"',
        "\u2033": '"',
        "\u00ab": '"',
        "\u00bb": '"',
        "\u2013": "-",
        "\u2014": "-",
        "\u2015": "-",
        "\u2212": "-",
        "\u2026": "...",
        "\u00a0": " ",
    }
)
_OPENER = re.compile(
    r"^\s*(?:(?:sure|certainly|of course|absolutely|okay|ok)\b[^\n.!?:]{0,160}[.!:]"
    r"|here(?: is|'s| are)\b[^\n.!?:]{0,160}:)\s*",
    re.IGNORECASE,
)
_PLACEHOLDER = re.compile(r"\[[A-Za-z][^\[\]\n]{0,38}\]")
_WHITESPACE = re.compile(r"\s+")


def normalize_text(text: str, scheme: Normalization = "v1") -> str:
    """``text`` under ``scheme`` (see the module docstring); ``none`` returns it unchanged.

    A text that normalises to nothing (it was only an opener or a placeholder) is returned with only its
    whitespace collapsed, so that a valid input stays a valid input.
    """
    if scheme == "none":
        return text
    out = unicodedata.normalize("NFKC", text).translate(_TYPOGRAPHY)
    out = _OPENER.sub("", out, count=1)
    out = _PLACEHOLDER.sub("", out)
    out = _WHITESPACE.sub(" ", out).strip()
    return out or _WHITESPACE.sub(" ", text).strip()


_WORD = re.compile(r"[^\W\d_]+")
_DIGIT = re.compile(r"\d")


def words_of(text: str) -> list[str]:
    """The words :func:`distort` keeps or masks: runs of letters, lowercased."""
    return [w.lower() for w in _WORD.findall(text)]


def distort(text: str, kept: frozenset[str]) -> str:
    """``text`` with the letters of every word not in ``kept`` masked as ``*`` and every digit as ``#``.

    Text distortion (Stamatatos 2017, "multiple asterisks"): word lengths, punctuation, line breaks and
    the kept words (the most frequent words of the training texts, compared lowercased, kept as
    written) remain, so that n-grams read function words and the shape of sentences rather than
    topics, which say where a text comes from more than who wrote it.
    """
    masked = _WORD.sub(lambda m: m[0] if m[0].lower() in kept else "*" * len(m[0]), text)
    return _DIGIT.sub("#", masked)
