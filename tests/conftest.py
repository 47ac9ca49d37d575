"""Shared fixtures: the real corpus (read from ../shared, never copied) and one small trained bundle."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from filelock import FileLock

from humanlike.training.config import NgramBaselineConfig, SamplingConfig, SplitConfig, TransformerConfig
from humanlike.training.data.corpus import resolve_corpus_paths, sample
from humanlike.training.data.readers import load_corpus
from humanlike.training.data.schema import CorpusRecord

# The fits are imported inside their fixtures: a test that asks for none of them (the unit tier,
# tests/unit/) imports neither torch nor the model code.

# Under `make test`'s workers (pytest-xdist) each worker is one process: its torch gets its share of the
# cores, not all of them (set before anything imports torch; the CLI subprocesses inherit it).
WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
if WORKERS > 1:
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, len(os.sched_getaffinity(0)) // WORKERS)))


def built_once(tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[Path], None]) -> Path:
    """``build(path)`` run once for the whole test run. Under `make test`'s workers the first that asks
    builds it in the directory they all share, under a lock, and the others wait for it and read it:
    an artifact's inputs (the session's sample) are the same in every worker."""
    if "PYTEST_XDIST_WORKER" not in os.environ:
        path = tmp_path_factory.mktemp(name) / name
        build(path)
        return path
    shared = tmp_path_factory.getbasetemp().parent
    path, built = shared / name, shared / f"{name}.built"
    with FileLock(str(shared / f"{name}.lock")):
        if not built.exists():
            build(path)
            built.touch()
    return path


# Small enough to train in seconds, large enough that every data type is in every split.
SAMPLE_SIZE = 1500
# Character 3- and 4-grams: counting the 5-grams is nearly half a fit. The runtime's parity with
# scikit-learn is shown on the shipped range (test_parity.py).
SMALL_CONFIG = NgramBaselineConfig(
    max_word_features=20_000, max_char_features=30_000, char_ngram_range=(3, 4)
)


@pytest.fixture(scope="session")
def corpus_paths() -> list[str]:
    try:
        paths = resolve_corpus_paths()
    except FileNotFoundError as e:
        pytest.fail(f"these tests read the shared corpus and could not find it: {e}", pytrace=False)
    return paths


@pytest.fixture(scope="session")
def corpus(corpus_paths: list[str]) -> list[CorpusRecord]:
    records, report = load_corpus(corpus_paths)
    assert report.n_issues == 0, report.issues[:5]
    return records


@pytest.fixture(scope="session")
def small_corpus(corpus: list[CorpusRecord]) -> list[CorpusRecord]:
    return sample(corpus, SAMPLE_SIZE, seed=0)


@pytest.fixture(scope="session")
def small_corpus_file(small_corpus: list[CorpusRecord], tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("corpus") / "small.jsonl"
    path.write_text("".join(r.model_dump_json() + "\n" for r in small_corpus), encoding="utf-8")
    return path


def train_small_bundle(
    corpus_file: Path,
    out: Path,
    *,
    splits: SplitConfig = SplitConfig(),
    config: NgramBaselineConfig = SMALL_CONFIG,
) -> None:
    """An n-gram bundle as the tests train one: the small config and no source-fold refits (those have
    their own test, test_generalization.py)."""
    from humanlike.training.models.ngram import train_ngram_bundle

    train_ngram_bundle(
        [str(corpus_file)],
        out,
        splits=splits,
        config=config,
        sampling=SamplingConfig(threshold_source_folds=0),
        progress=False,
    )


@pytest.fixture(scope="session")
def bundle(small_corpus_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The session's bundle: it serves the runtime, serving and CLI tests."""
    return built_once(tmp_path_factory, "baseline", lambda out: train_small_bundle(small_corpus_file, out))


# A tiny fine-tune of the packaged encoder: short windows, a few hundred texts, seconds on 2 cores.
TINY_TRANSFORMER = TransformerConfig(
    max_tokens=64,
    window_overlap=16,
    max_train_texts=600,
    validation_texts=120,
    eval_every=15,
    patience=100,
    time_budget_s=None,
)


@pytest.fixture(scope="session")
def transformer_checkpoint(small_corpus_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from humanlike.training.models.transformer import train_transformer_checkpoint

    def build(out: Path) -> None:
        train_transformer_checkpoint(
            [str(small_corpus_file)], out, config=TINY_TRANSFORMER, device="cpu", progress=False
        )

    return built_once(tmp_path_factory, "tiny-transformer-checkpoint", build)


@pytest.fixture(scope="session")
def transformer_bundles(
    transformer_checkpoint: Path, small_corpus_file: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """OUT/fp32 and OUT/int8, written by `humanlike export`."""
    from humanlike.cli import main

    def build(out: Path) -> None:
        args = ["export", str(transformer_checkpoint), "--corpus", str(small_corpus_file), "--out", str(out)]
        assert main([*args, "--no-progress"]) == 0

    return built_once(tmp_path_factory, "tiny-transformer-bundles", build)


SLOW_FIXTURES = {"transformer_checkpoint", "transformer_bundles"}
"""A test that needs one of these waits for a real fine-tune: it is slow wherever it lives."""


LONGEST_FIRST = (
    "test_zero_shot.py",
    "test_eval_report.py",
    "test_cli.py",
    "test_curriculum.py",
    "test_crash_safety.py",
    "test_generalization.py",
    "test_serving.py",
    "test_downstream.py",
    "test_fuzz.py",
    "test_parity.py",
    "test_openapi_contract.py",
)
"""Modules by how long they take, longest first (the order of `make test`'s --durations, summed by
module); the rest follow in collection order. `make test` runs two workers, each taking a whole module
at a time (pytest-xdist, ``--dist loadfile``) in this order (``--no-loadscope-reorder``): longest first,
the short ones fill in at the end instead of one long module starting last and running alone."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: the others keep their order
