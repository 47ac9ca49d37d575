"""The featurizer's hash table: every stored key found with its value, nothing else found."""

from __future__ import annotations

import numpy as np
import pytest

from humanlike.detector.keytable import KeyTable


def test_finds_every_key_and_only_those() -> None:
    rng = np.random.default_rng(0)
    keys = np.unique(rng.integers(0, 1 << 61, size=50_000))
    values = rng.permutation(len(keys))
    table = KeyTable(keys, values)
    assert len(table) == len(keys)

    found, got = table.lookup(keys)
    assert found.all() and np.array_equal(got, values)

    others = rng.integers(0, 1 << 61, size=50_000)
    others = others[~np.isin(others, keys)]
    found, got = table.lookup(others)
    assert not found.any() and (got == -1).all()


def test_keys_that_share_a_slot_are_all_found() -> None:
    # Multiples of 2^k differ only in their high bits... which the multiplicative hash mixes; small
    # consecutive keys and a tiny table force collisions and probing either way.
    keys = np.arange(0, 40, dtype=np.int64) * (1 << 40)
    table = KeyTable(keys, np.arange(40))
    found, got = table.lookup(np.concatenate([keys, keys + 1]))
    assert found[:40].all() and not found[40:].any()
    assert np.array_equal(got[:40], np.arange(40))


def test_empty_table_and_empty_lookup() -> None:
    table = KeyTable(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))
    found, _ = table.lookup(np.array([1, 2, 3]))
    assert not found.any()
    found, got = KeyTable(np.array([5]), np.array([9])).lookup(np.zeros(0, dtype=np.int64))
    assert len(found) == 0 and len(got) == 0


def test_refuses_duplicate_or_negative_keys() -> None:
    with pytest.raises(ValueError, match="distinct"):
        KeyTable(np.array([1, 1]), np.array([0, 1]))
    with pytest.raises(ValueError, match="non-negative"):
        KeyTable(np.array([-1, 1]), np.array([0, 1]))
