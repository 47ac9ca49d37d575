"""How a curriculum's chunks are scored: in this process, or in worker processes.

A chunk scorer (:data:`ScoreChunks`) takes the input, the chunk size, where to start, and the files of
each chunk's checkpoint; it scores each chunk (:meth:`humanlike.curriculum.scoring.ChunkScorer.score`),
writes its files (:func:`humanlike.curriculum.scoring.write_chunk`) and yields its
:class:`~humanlike.curriculum.scoring.ScoredChunk`, in input order. The Ray engine
(:mod:`humanlike.curriculum.ray_engine`) is a third.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path

from humanlike.curriculum.scoring import (
    WORKER_BUNDLE_ENV,
    ChunkFiles,
    ChunkScorer,
    ScoredChunk,
    ScoringOptions,
    metrics_process_pool,
    write_chunk,
)
from humanlike.curriculum.sources import Chunk, ChunkSpan, chunk_spans, is_parquet, read_chunks, read_span
from humanlike.detector.devices import Device
from humanlike.detector.processes import exit_with_parent
from humanlike.detector.runtime import Detector

# A scorer over a run of chunks: scores each chunk (ChunkScorer.score), writes it to the files ChunkFiles
# names (write_chunk) and yields its ScoredChunk, in input order. The local engine scores in process
# (local_chunk_scorer) or in worker processes (process_chunk_scorer, the CLI's choice for n-gram
# bundles); the Ray engine hands its own in.
ChunkResults = Iterator[ScoredChunk]
ScoreChunks = Callable[[Path, int, int, int, ChunkFiles], ChunkResults]


def local_chunk_scorer(detector: Detector, options: ScoringOptions) -> ScoreChunks:
    """Scores chunks in this process, one after another; the metrics run in a worker process
    meanwhile. The choice for bundles whose graph is the cost (LM, transformer): the graph gets every
    core's thread, and the metrics' share is small beside it."""

    def score_chunks(
        path: Path, chunk_lines: int, start: int, start_line: int, files: ChunkFiles
    ) -> ChunkResults:
        with metrics_process_pool() as pool:
            scorer = ChunkScorer(detector, options, metrics_pool=pool)
            for k, chunk in enumerate(read_chunks(path, chunk_lines, start, start_line)):
                yield write_chunk(chunk.first_line, scorer.score(chunk.rows), chunk.end, files(k))

    return score_chunks


_WORKER_SCORER: ChunkScorer | None = None


def _load_worker(bundle: str, options: ScoringOptions, threads: int, device: Device) -> None:
    global _WORKER_SCORER
    exit_with_parent()  # the command killed: the worker goes too, not on with its model loaded
    _WORKER_SCORER = ChunkScorer(Detector(bundle, device=device, threads=threads), options)


WORKER_SLICE_ROWS = 1000
"""Rows a worker scores at once: a chunk's parsed rows, scores and metrics exist a slice at a time."""
WORKER_CHUNKS = 20
"""Chunks a worker scores before a fresh one replaces it: a worker's heap only grows (freed memory is
seldom returned), so a long job recycles them. A fresh worker forks from the forkserver with the shared
featurizer and loads only the ONNX session."""


def _score_in_worker(path: str, chunk: Chunk | ChunkSpan, files: tuple[Path, Path]) -> ScoredChunk:
    """Scores one chunk and writes its files; a JSONL chunk comes as its span, and the worker reads
    its lines itself."""
    assert _WORKER_SCORER is not None, "the pool's initializer loads the bundle"
    rows = read_span(Path(path), chunk) if isinstance(chunk, ChunkSpan) else chunk.rows
    results: list[bytes | str] = []
    for i in range(0, len(rows), WORKER_SLICE_ROWS):
        results.extend(_WORKER_SCORER.score(rows[i : i + WORKER_SLICE_ROWS]))
    return write_chunk(chunk.first_line, results, chunk.end, files)


def process_chunk_scorer(
    bundle: str | Path,
    options: ScoringOptions,
    workers: int,
    threads_per_worker: int = 1,
    device: Device = "cpu",
) -> ScoreChunks:
    """Scores chunks in ``workers`` processes at once, each with the bundle loaded and everything a
    chunk needs done in it (parsing, the graph, the metrics, the output lines); results come back in
    input order, so checkpoints and output are the local engine's.

    Why: the n-gram bundle's graph is cheap and its featurizer is Python, so one process scoring
    while a second computes the metrics leaves the first the bottleneck; whole
    chunks per process use every core for every step. At most ``workers + 1``
    chunks are in flight, so memory stays bounded. This process never holds a JSONL chunk's rows: it
    hands a worker the chunk's byte span and the chunk's checkpoint files, which the worker reads and
    writes itself; only a :class:`~humanlike.curriculum.scoring.ScoredChunk` comes back.
    ``forkserver``: never fork a process that holds ONNX Runtime's thread pool.
    """
    context = multiprocessing.get_context("forkserver")
    # The workers are forked from the forkserver: what it imported, they share (the libraries, the
    # metrics' lexicalrichness and lexicon, the bundle's featurizer; see worker_preload; the PSS of
    # each process is in bench/RESULTS.md). Importing ONNX Runtime starts no thread pool; a session
    # would. The forkserver reads the bundle's path from its environment when it starts (the first
    # pool of this process); a forkserver already running keeps what it has, and its workers then
    # build their own featurizer.
    os.environ[WORKER_BUNDLE_ENV] = str(bundle)
    context.set_forkserver_preload(
        ["humanlike.curriculum.scoring", "humanlike.detector.runtime", "humanlike.curriculum.worker_preload"]
    )

    def score_chunks(
        path: Path, chunk_lines: int, start: int, start_line: int, files: ChunkFiles
    ) -> ChunkResults:
        with ProcessPoolExecutor(
            workers,
            mp_context=context,
            max_tasks_per_child=WORKER_CHUNKS,
            initializer=_load_worker,
            initargs=(str(bundle), options, threads_per_worker, device),
        ) as pool:
            chunks: Iterator[Chunk | ChunkSpan] = (
                read_chunks(path, chunk_lines, start, start_line)
                if is_parquet(path)
                else chunk_spans(path, chunk_lines, start, start_line)
            )
            pending: deque[Future[ScoredChunk]] = deque()
            for k, chunk in enumerate(chunks):
                pending.append(pool.submit(_score_in_worker, str(path), chunk, files(k)))
                if len(pending) > workers:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()

    return score_chunks
