"""Text → graph inputs for the n-gram model's ONNX graph.

The n-gram detector's graph does the TF-IDF weighting and the linear model itself; what it cannot do
is split text the way scikit-learn does. This module is that split, written down as data (stored in the
bundle as ``features.json``) and applied the same way at training export and at run time.

Two layouts, told apart by ``features.json``'s ``kind``:

- ``word-char-ngram-columns`` (:class:`SparseNgramSpec`, bundle formats 3-5): the featurizer finds every
  vocabulary n-gram a text has and feeds the graph one ``(text, column, count)`` triple per distinct
  n-gram; the graph gathers those columns' weights and sums them per text. Its cost follows the
  n-grams a text has, not the vocabulary's size. Format 4 may read a text twice: the spec's
  ``next_view`` is a second spec (a distorted reading, ``kept_words``) whose columns follow the first's.
  Format 5 may add a word-surprisal table (``surprisal``): the featurizer then also feeds each text's
  surprisal profile (:mod:`humanlike.detector.surprisal`), which the graph reads with trees.
- ``sklearn-word-char-ids`` (:class:`NgramFeatureSpec`, formats 1-2): the featurizer feeds word and
  character id sequences and the graph counts n-grams itself with ONNX ``TfIdfVectorizer`` into a dense
  ``[batch, vocabulary]`` matrix. Still read, no longer written.

Both mirror scikit-learn's ``TfidfVectorizer`` preprocessing exactly:

- words: ``text.lower()`` (if ``lowercase_words``), then ``re.findall(token_pattern)``; a word n-gram is
  its words joined by one space;
- characters: the text (lowercased if ``lowercase_chars``) with every run of two or more whitespace
  characters collapsed to one space (scikit-learn's ``_white_spaces``); a character n-gram is any run
  of n code points of that text.

The parity test (ONNX scores vs scikit-learn's on real texts) is what keeps this mirror honest.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

from humanlike.detector.keytable import KeyTable
from humanlike.detector.normalize import Normalization, distort, normalize_text
from humanlike.detector.surprisal import SurprisalTable, surprisal_profiles

SKLEARN_TOKEN_PATTERN = r"(?u)\b\w\w+\b"
_WHITESPACE_RUNS = re.compile(r"\s\s+")  # scikit-learn's CountVectorizer._white_spaces

PAD_ID = 0


class NgramFeatureSpec(BaseModel):
    """Formats 1-2: word and character id sequences for a graph that counts n-grams itself."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["sklearn-word-char-ids"] = "sklearn-word-char-ids"
    lowercase_words: bool = True
    lowercase_chars: bool = True
    token_pattern: str = SKLEARN_TOKEN_PATTERN
    normalization: Normalization = "none"
    """Applied to a text before both splits (:mod:`humanlike.detector.normalize`)."""
    words: list[str]
    """Word vocabulary; the id of ``words[i]`` is ``i + 1``."""


@dataclass(frozen=True)
class NgramInputs:
    """A padded batch, ready to feed the graph (names match the graph's inputs)."""

    word_ids: np.ndarray  # int64 [batch, max words]
    char_ids: np.ndarray  # int64 [batch, max chars]

    def as_feed(self) -> dict[str, np.ndarray]:
        return {"word_ids": self.word_ids, "char_ids": self.char_ids}


class NgramFeaturizer:
    """Applies an :class:`NgramFeatureSpec` to texts (formats 1-2)."""

    def __init__(self, spec: NgramFeatureSpec) -> None:
        self.spec = spec
        self._token_re = re.compile(spec.token_pattern)
        self._word_ids = {word: i + 1 for i, word in enumerate(spec.words)}

    def word_ids(self, text: str) -> np.ndarray:
        lookup = self._word_ids.get
        tokens = self._token_re.findall(text.lower() if self.spec.lowercase_words else text)
        return np.fromiter((lookup(t, PAD_ID) for t in tokens), dtype=np.int64, count=len(tokens))

    def char_ids(self, text: str) -> np.ndarray:
        collapsed = _WHITESPACE_RUNS.sub(" ", text.lower() if self.spec.lowercase_chars else text)
        codepoints = np.frombuffer(collapsed.encode("utf-32-le"), dtype="<u4")
        return codepoints.astype(np.int64) + 1

    def encode(self, texts: Sequence[str]) -> NgramInputs:
        texts = [normalize_text(t, self.spec.normalization) for t in texts]
        return NgramInputs(
            word_ids=pad([self.word_ids(t) for t in texts]),
            char_ids=pad([self.char_ids(t) for t in texts]),
        )


def pad(rows: Sequence[np.ndarray]) -> np.ndarray:
    """Right-pads rows with :data:`PAD_ID` to one matrix (at least one column, which ONNX needs)."""
    width = max([1, *(len(r) for r in rows)])
    out = np.full((len(rows), width), PAD_ID, dtype=np.int64)
    for i, row in enumerate(rows):
        out[i, : len(row)] = row
    return out


# ---- formats 3-5: sparse columns -------------------------------------------------------------------

_KEY_LIMIT = 1 << 62
"""Keys stay below this, so that ``text * columns + column`` and key arithmetic never overflow int64."""


class SparseNgramSpec(BaseModel):
    """Format 3: the vocabulary itself; the featurizer feeds the graph the columns a text has."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["word-char-ngram-columns"] = "word-char-ngram-columns"
    lowercase_words: bool = True
    lowercase_chars: bool = True
    token_pattern: str = SKLEARN_TOKEN_PATTERN
    normalization: Normalization = "none"
    """Applied to a text before both splits (:mod:`humanlike.detector.normalize`)."""
    word_ngrams: list[str]
    """Word n-grams (words joined by one space); ``word_ngrams[i]`` is graph column ``i``."""
    char_ngrams: list[str]
    """Character n-grams; ``char_ngrams[i]`` is graph column ``len(word_ngrams) + i``."""
    kept_words: list[str] | None = None
    """(format 4) Text distortion after normalisation: every word not in this list has its letters
    masked, every digit becomes ``#`` (:func:`humanlike.detector.normalize.distort`)."""
    next_view: SparseNgramSpec | None = None
    """(format 4) Another reading of the same text (its own normalisation, distortion and vocabulary),
    whose columns follow this view's: ``next_view``'s column ``j`` is graph column ``n_columns + j``."""
    surprisal: SurprisalTable | None = None
    """(format 5, first view only) The graph also reads each text's surprisal profile under this table
    (input ``profile``, :func:`humanlike.detector.surprisal.surprisal_profiles` of the text as given)."""

    @property
    def n_columns(self) -> int:
        """This view's columns."""
        return len(self.word_ngrams) + len(self.char_ngrams)

    @property
    def total_columns(self) -> int:
        """Every view's columns: the graph's width."""
        return self.n_columns + (self.next_view.total_columns if self.next_view else 0)


FeatureSpec = NgramFeatureSpec | SparseNgramSpec


def read_feature_spec(data: bytes) -> FeatureSpec:
    """The spec in a bundle's ``features.json`` (either layout; format 1 may omit ``kind``)."""
    raw = json.loads(data)
    if isinstance(raw, dict) and raw.get("kind") == SparseNgramSpec.model_fields["kind"].default:
        return SparseNgramSpec.model_validate(raw)
    return NgramFeatureSpec.model_validate(raw)


@dataclass(frozen=True)
class SparseNgramInputs:
    """A batch as the sparse graph reads it: one row per distinct (text, vocabulary n-gram)."""

    text_index: np.ndarray  # int64 [n]: which text of the batch
    column: np.ndarray  # int64 [n]: the n-gram's vocabulary column
    count: np.ndarray  # float32 [n]: how often the text has it
    n_texts: int
    profile: np.ndarray | None = None  # float32 [n_texts, PROFILE_FEATURES], when the spec has a table

    def as_feed(self) -> dict[str, np.ndarray]:
        feed = {
            "text_index": self.text_index,
            "column": self.column,
            "count": self.count,
            "n_texts": np.array([self.n_texts], dtype=np.int64),
        }
        if self.profile is not None:
            feed["profile"] = self.profile
        return feed


class _RollingKeys:
    """Integer keys for n-grams of symbols: ``sum(symbol_j * base^(n-1-j))``, exact, no hashing.

    Symbols are 1..base-1; 0 marks a symbol outside the vocabulary's alphabet and a boundary between
    texts, and no n-gram with a 0 in it gets a key. Since every symbol is at least 1, an n-gram's key is
    at least ``base^(n-1)`` and below ``base^n``: keys of different lengths never meet.
    """

    def __init__(self, base: int, orders: Sequence[int]) -> None:
        if base ** max(orders, default=1) >= _KEY_LIMIT:
            raise ValueError(
                f"{base - 1} distinct symbols are too many for exact keys of {max(orders)}-grams"
            )
        self.base = base
        self.orders = sorted(set(orders))

    def key(self, symbols: Sequence[int]) -> int:
        k = 0
        for s in symbols:
            k = k * self.base + s
        return k

    def keys(self, symbols: np.ndarray, text_of: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """``(keys, texts)`` per order: the key and the text of every n-gram without a 0 symbol."""
        keys_out: list[np.ndarray] = []
        texts_out: list[np.ndarray] = []
        known = symbols > 0
        key, valid = symbols, known
        for n in range(1, max(self.orders, default=0) + 1):
            if n > 1:
                key = key[:-1] * self.base + symbols[n - 1 :]
                valid = valid[:-1] & known[n - 1 :]
            if n in self.orders:
                keys_out.append(key[valid])
                texts_out.append(text_of[: len(valid)][valid])
        return keys_out, texts_out


class SparseNgramFeaturizer:
    """Applies a :class:`SparseNgramSpec` to texts, a whole batch at a time.

    Each text becomes word ids (its vocabulary word, 0 for any other) and character ids (its place in
    the vocabulary's alphabet, 0 for any other character); the texts of a batch are laid end to end
    with a 0 between them, so that no n-gram crosses a text boundary. Every n-gram's key is computed
    with array arithmetic (:class:`_RollingKeys`), looked up in a hash table of the vocabulary's keys
    (:class:`~humanlike.detector.keytable.KeyTable`), and the ``(text, column)`` pairs are counted.
    Python touches each word once (the regex and the word lookup) and each character not at all.

    Raises:
        ValueError: the vocabulary cannot be keyed exactly (an alphabet too large for its n-gram
            length); export checks this before it writes a bundle.
    """

    def __init__(self, spec: SparseNgramSpec) -> None:
        self.spec = spec
        self._kept = frozenset(spec.kept_words) if spec.kept_words is not None else None
        self._next = SparseNgramFeaturizer(spec.next_view) if spec.next_view is not None else None
        self._token_re = re.compile(spec.token_pattern)
        words = sorted({w for gram in spec.word_ngrams for w in gram.split(" ")})
        self._word_ids = {word: i + 1 for i, word in enumerate(words)}
        self._word_keys = _RollingKeys(len(words) + 1, [g.count(" ") + 1 for g in spec.word_ngrams])
        word_keys = [self._word_keys.key([self._word_ids[w] for w in g.split(" ")]) for g in spec.word_ngrams]
        self._word_table = KeyTable(np.array(word_keys, dtype=np.int64), np.arange(len(word_keys)))

        alphabet = sorted({ch for gram in spec.char_ngrams for ch in gram})
        self._char_ids = np.zeros(0x110000, dtype=np.int32)
        self._char_ids[[ord(ch) for ch in alphabet]] = np.arange(1, len(alphabet) + 1, dtype=np.int32)
        self._char_keys = _RollingKeys(len(alphabet) + 1, [len(g) for g in spec.char_ngrams])
        char_keys = [
            self._char_keys.key([int(self._char_ids[ord(ch)]) for ch in g]) for g in spec.char_ngrams
        ]
        n_words = len(spec.word_ngrams)
        self._char_table = KeyTable(
            np.array(char_keys, dtype=np.int64), np.arange(n_words, n_words + len(char_keys))
        )

    def _word_symbols(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        lookup = self._word_ids.get
        lower = self.spec.lowercase_words
        rows: list[int] = []
        lengths = np.empty(len(texts), dtype=np.int64)
        for i, text in enumerate(texts):
            tokens = self._token_re.findall(text.lower() if lower else text)
            rows.extend([lookup(t, 0) for t in tokens])
            rows.append(0)
            lengths[i] = len(tokens) + 1
        ids = np.array(rows, dtype=np.int64)
        return ids, np.repeat(np.arange(len(texts)), lengths)

    def _char_symbols(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        lower = self.spec.lowercase_chars
        pieces = [_WHITESPACE_RUNS.sub(" ", t.lower() if lower else t) for t in texts]
        lengths = np.fromiter((len(p) + 1 for p in pieces), dtype=np.int64, count=len(pieces))
        codepoints = np.frombuffer(("\x00".join(pieces) + "\x00").encode("utf-32-le"), dtype="<u4")
        ids = self._char_ids[codepoints].astype(np.int64)
        ids[np.cumsum(lengths) - 1] = 0  # the separators, whatever character they are
        return ids, np.repeat(np.arange(len(texts)), lengths)

    def _read(self, text: str) -> str:
        text = normalize_text(text, self.spec.normalization)
        return distort(text, self._kept) if self._kept is not None else text

    def _found(self, texts: Sequence[str], offset: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """(text, column) of every vocabulary n-gram occurrence, in this view and the views after it."""
        read = [self._read(t) for t in texts]
        found_texts: list[np.ndarray] = []
        found_columns: list[np.ndarray] = []
        for symbols, keys, table in (
            (self._word_symbols(read), self._word_keys, self._word_table),
            (self._char_symbols(read), self._char_keys, self._char_table),
        ):
            for key, text in zip(*keys.keys(*symbols), strict=True):
                found, column = table.lookup(key)
                found_texts.append(text[found])
                found_columns.append(column[found] + offset)
        if self._next is not None:
            more_texts, more_columns = self._next._found(texts, offset + self.spec.n_columns)
            found_texts += more_texts
            found_columns += more_columns
        return found_texts, found_columns

    def encode(self, texts: Sequence[str]) -> SparseNgramInputs:
        found_texts, found_columns = self._found(texts, 0)
        width = self.spec.total_columns
        pairs = np.concatenate(found_texts) * width + np.concatenate(found_columns)
        distinct, counts = np.unique(pairs, return_counts=True)
        table = self.spec.surprisal
        return SparseNgramInputs(
            text_index=distinct // width,
            column=distinct % width,
            count=counts.astype(np.float32),
            n_texts=len(texts),
            profile=surprisal_profiles(texts, table) if table is not None else None,
        )


Featurizer = NgramFeaturizer | SparseNgramFeaturizer

_SHARED: dict[str, Featurizer] = {}
"""Featurizers built ahead by :func:`share_featurizer`, by the sha256 of their ``features.json``."""


def build_featurizer(spec: FeatureSpec) -> Featurizer:
    return NgramFeaturizer(spec) if isinstance(spec, NgramFeatureSpec) else SparseNgramFeaturizer(spec)


def load_featurizer(data: bytes) -> Featurizer:
    """The featurizer of a bundle's ``features.json`` bytes: the one :func:`share_featurizer` built
    from the same bytes, else a new one.

    Raises:
        ValueError: ``data`` is not a valid spec (pydantic's ValidationError and json's errors).
    """
    shared = _SHARED.get(hashlib.sha256(data).hexdigest())
    return shared if shared is not None else build_featurizer(read_feature_spec(data))


def share_featurizer(data: bytes) -> None:
    """Builds the featurizer of ``data`` now, for :func:`load_featurizer` in this process and in the
    processes forked from it later. Why: forked workers then read one copy of its hash tables and
    vocabulary (copy-on-write pages that nobody writes) instead of each parsing the spec and building
    its own. A featurizer is never changed after it is built, so sharing it changes no score."""
    digest = hashlib.sha256(data).hexdigest()
    if digest not in _SHARED:  # built once, however often it is asked for
        _SHARED[digest] = build_featurizer(read_feature_spec(data))
