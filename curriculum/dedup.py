"""Exact and near-duplicate detection as bucket keys, so that it runs through the external sort.

Every text gets a few 64-bit bucket keys; two texts that share a key are duplicates, and the later one
(by input line) is dropped as a duplicate of the earliest text in that bucket. This is the standard
banded MinHash LSH (as in ``datasketch``'s ``MinHashLSH``), but with the buckets sorted on disk rather
than held in a dictionary, so memory does not grow with the corpus.

- exact: one key, a hash of the text with case and whitespace normalised;
- near: ``datasketch`` MinHash over word 3-gram shingles (hashed with CRC-32: deterministic across
  processes, and far cheaper than datasketch's default SHA-1), cut into ``bands`` bands of ``rows``
  hash values each (chosen by ``datasketch`` for the Jaccard ``threshold``); one key per band.

A text is dropped if it shares any bucket with an earlier text, even one that was itself dropped
(no union-find over clusters): chains A~B~C drop both B and C though C may be far from A. That
errs towards dropping, which is the safer side for training data.
"""

from __future__ import annotations

import hashlib
import re
import zlib
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal

import numpy as np
from datasketch import MinHash
from datasketch.lsh import _optimal_param

DedupMode = Literal["none", "exact", "near"]
_WORD = re.compile(r"\w+")
SHINGLE_WORDS = 3
MINHASH_SCHEME = "affine32"


@lru_cache(maxsize=16)
def _bands(threshold: float, num_perm: int) -> tuple[int, int]:
    # datasketch integrates the collision curves numerically: milliseconds, so once per setting.
    bands, rows = _optimal_param(threshold, num_perm, 0.5, 0.5)
    return int(bands), int(rows)


@lru_cache(maxsize=4)
def _permutations(num_perm: int, seed: int) -> Any:
    # Drawing the permutations is most of a MinHash's construction cost: once per setting.
    return MinHash(num_perm=num_perm, seed=seed, scheme=MINHASH_SCHEME).permutations


def _hash64(data: bytes) -> int:
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "big")


@dataclass(frozen=True)
class Deduplicator:
    """Bucket keys for one dedup mode.

    Args:
        mode: ``"exact"`` or ``"near"`` (``"none"`` gives no keys).
        threshold: Jaccard similarity of word 3-gram sets above which texts count as near duplicates.
        num_perm: MinHash permutations (more: sharper threshold, slower).
        seed: MinHash seed; part of the curriculum manifest, since other seeds find other pairs.
    """

    mode: DedupMode = field(default="none", metadata={"help": "drop exact or near duplicates"})
    threshold: float = field(default=0.8, metadata={"help": "Jaccard of word 3-grams for near duplicates"})
    num_perm: int = 128
    seed: int = 1

    @property
    def bands(self) -> tuple[int, int]:
        """(bands, rows per band) for the threshold, equal weight on false positives and negatives."""
        return _bands(self.threshold, self.num_perm)

    def keys(self, text: str) -> list[int]:
        if self.mode == "none":
            return []
        words = _WORD.findall(text.lower())
        exact = _hash64(" ".join(words).encode("utf-8"))
        if self.mode == "exact" or len(words) < SHINGLE_WORDS:
            return [exact]
        shingles = {" ".join(words[i : i + SHINGLE_WORDS]).encode("utf-8") for i in range(len(words) - 2)}
        minhash = MinHash(
            num_perm=self.num_perm,
            hashfunc=zlib.crc32,
            permutations=_permutations(self.num_perm, self.seed),
            scheme=MINHASH_SCHEME,
        )
        minhash.update_batch(list(shingles))
        values = np.asarray(minhash.hashvalues, dtype=">u8")
        bands, rows = self.bands
        # Band b's key mixes its index in, so equal values in different bands do not collide.
        return [exact] + [
            _hash64(bytes([b]) + values[b * rows : (b + 1) * rows].tobytes()) for b in range(bands)
        ]
