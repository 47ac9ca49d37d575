"""Build a curriculum: score a corpus, filter it, order it by a strategy, write it with a manifest.

Two phases, both streaming:

1. **Score** (the slow part, checkpointed): the input is cut into chunks of ``chunk_lines`` rows; each
   chunk is scored (:class:`humanlike.curriculum.scoring.ChunkScorer`) and written to the work directory as a
   file of scored rows and a file of rejects, each renamed into place when complete, and then
   ``state.json`` records the chunk as done and where the next one starts. Killed at any point
   (``kill -9`` included), the same command resumes after the last recorded chunk; a chunk file
   written but not yet recorded is simply written again, with the same bytes.
2. **Order** (disk-bound, redone in full on resume): external sorts over the chunk files
   (:mod:`humanlike.curriculum.extsort`): dedup buckets, then "by generator, best first" (per-generator
   position, caps), then the strategy's order, then the write with positions and stages. Rejects
   (unscorable lines, duplicates, filtered rows) are sorted by line into the errors file.

Every input line ends up in exactly one of the output and the errors file. The output, errors file
and manifest appear only when the job completes (written beside their targets, then renamed), and
the work directory is deleted then.

Strategies (each breaks ties by input line, so the order is total and reproducible):

- ``human-likeness``: most human-like first (the detector's calibrated ``human_likeness``);
- ``quality``: highest :func:`humanlike.curriculum.quality.quality_score` first;
- ``mixed-generators``: each generator's rows most human-like first, dealt round-robin across
  generators (generator names in byte order within a round), so that every prefix holds as many
  generators as it can, in as equal shares as it can;
- ``combined``: round-robin across generators like ``mixed-generators``, each generator's rows by
  the geometric mean of human-likeness and quality.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import multiprocessing
import os
import shutil
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from humanlike.curriculum.extsort import (
    DEFAULT_RUN_BYTES,
    ExternalSorter,
    OrderedRun,
    float_key,
    text_key,
    uint_key,
)
from humanlike.curriculum.progress import Progress
from humanlike.curriculum.quality import QUALITY_FORMULA, GroupStats
from humanlike.curriculum.scoring import (
    WORKER_BUNDLE_ENV,
    ChunkFiles,
    ChunkScorer,
    ScoredChunk,
    ScoredRow,
    ScoringOptions,
    metrics_process_pool,
    reject_line,
    write_chunk,
)
from humanlike.curriculum.sources import (
    Chunk,
    ChunkSpan,
    chunk_spans,
    input_size,
    is_parquet,
    jsonl_to_parquet,
    read_chunks,
    read_span,
)
from humanlike.detector.atomic import (
    atomic_writer,
    check_output_directory,
    mark_output_directory,
    write_bytes_atomic,
)
from humanlike.detector.bundle import CHECKSUM_FILE, read_bundle
from humanlike.detector.processes import exit_with_parent
from humanlike.detector.runtime import Detector, Device
from humanlike.textstats import MTLD_THRESHOLD

Strategy = Literal["human-likeness", "quality", "mixed-generators", "combined"]
STRATEGIES: tuple[Strategy, ...] = ("human-likeness", "quality", "mixed-generators", "combined")
ROUND_ROBIN: tuple[Strategy, ...] = ("mixed-generators", "combined")
MANIFEST_SCHEMA = "humanlike-curriculum"
MANIFEST_VERSION = 1
STATE_VERSION = 1

ORDER_DESCRIPTIONS: dict[Strategy, str] = {
    "human-likeness": "human_likeness descending, then input line",
    "quality": "quality.score descending, then input line",
    "mixed-generators": "round-robin over generators (byte order within a round); within a generator, "
    "human_likeness descending, then input line",
    "combined": "round-robin over generators (byte order within a round); within a generator, "
    "sqrt(human_likeness * quality.score) descending, then input line",
}


class JobMismatchError(RuntimeError):
    """The work directory holds a checkpoint of a different job (other input, bundle or options)."""


@dataclass(frozen=True)
class CurriculumOptions:
    """What a curriculum job does; every field is part of its fingerprint.

    Args:
        strategy: the order (see the module docstring).
        scoring: fields to read, lexicon, batch size, dedup mode.
        chunk_lines: rows per scoring chunk, the checkpoint granularity.
        stages: equal-size stages the output is cut into (stage 0 first).
        top_fraction: keep only this leading share of the ordered rows (after filters and caps).
        min_human_likeness: drop rows below this human-likeness.
        min_quality: drop rows below this quality score.
        max_per_generator: keep at most this many rows of each generator (the best by the
            strategy's within-generator order).
        run_bytes: memory for each external sort's runs.
    """

    strategy: Strategy = field(default="human-likeness", metadata={"help": "the order"})
    scoring: ScoringOptions = field(default_factory=ScoringOptions)
    chunk_lines: int = field(default=10_000, metadata={"help": "rows per checkpointed chunk"})
    stages: int = field(default=4, metadata={"help": "equal stages the order is cut into"})
    top_fraction: float | None = field(
        default=None, metadata={"help": "keep this leading share of the order"}
    )
    min_human_likeness: float | None = field(
        default=None, metadata={"help": "drop rows below this human-likeness"}
    )
    min_quality: float | None = field(default=None, metadata={"help": "drop rows below this quality score"})
    max_per_generator: int | None = field(
        default=None, metadata={"help": "keep at most N rows of each generator"}
    )
    run_bytes: int = DEFAULT_RUN_BYTES

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {', '.join(STRATEGIES)}, not {self.strategy!r}")
        if self.chunk_lines < 1 or self.stages < 1:
            raise ValueError("chunk_lines and stages must be at least 1")
        if self.top_fraction is not None and not 0.0 < self.top_fraction <= 1.0:
            raise ValueError(f"top_fraction must be in (0, 1], not {self.top_fraction}")
        if self.max_per_generator is not None and self.max_per_generator < 1:
            raise ValueError("max_per_generator must be at least 1")

    def within_generator_score(self, h: float, q: float) -> float:
        """Larger first: the order inside one generator (and the whole order for sort strategies)."""
        if self.strategy == "quality":
            return q
        if self.strategy == "combined":
            return math.sqrt(max(h, 0.0) * max(q, 0.0))
        return h

    def as_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out.pop("run_bytes")  # memory, not meaning: a resumed job may use another
        return out


@dataclass(frozen=True)
class CurriculumSummary:
    n_lines: int
    n_output: int
    n_rejected: int
    output: str
    errors: str
    manifest: str
    resumed_chunks: int
    # Wall seconds of this invocation's two phases (scoring is 0 when every chunk was already
    # scored). Here, not in the manifest, which a resumed run writes byte for byte the same.
    score_s: float
    order_s: float


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
    while a second computes the metrics leaves the first the bottleneck (bench/RESULTS.md); whole
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


def _fingerprint(input_path: Path, bundle_id: str, options: CurriculumOptions) -> str:
    """What the checkpoint depends on: the input, the bundle, how rows are scored and chunked.

    The ordering options (strategy, filters, stages) are not part of it: the order is recomputed from
    the scored chunks on every run, so one kept work directory serves any number of strategies.
    """
    stat = input_path.stat()
    payload = {
        "input": str(input_path.resolve()),
        "input_bytes": stat.st_size,
        "input_mtime_ns": stat.st_mtime_ns,
        "bundle": bundle_id,
        "scoring": dataclasses.asdict(options.scoring),
        "chunk_lines": options.chunk_lines,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def bundle_id(root: Path) -> str:
    """The identity of the bundle in ``root``: the digest of its checksum list (which covers every
    file in it)."""
    return hashlib.sha256((root / CHECKSUM_FILE).read_bytes()).hexdigest()


class WorkDir:
    """The checkpoint: chunk files and ``state.json``."""

    def __init__(self, root: Path, fingerprint: str) -> None:
        self.root = root
        self.fingerprint = fingerprint
        self.state_path = root / "state.json"

    def load(self) -> dict[str, Any]:
        fresh = {
            "version": STATE_VERSION,
            "fingerprint": self.fingerprint,
            "chunks": 0,
            "next": 0,
            "next_line": 1,
            "complete": False,
        }
        if not self.state_path.exists():
            # A fresh checkpoint goes only where nothing else is: the directory is deleted when the
            # job completes.
            check_output_directory(self.root, "curriculum-work", "--work-dir")
            self.root.mkdir(parents=True, exist_ok=True)
            mark_output_directory(self.root, "curriculum-work")
            return fresh
        state: dict[str, Any] = json.loads(self.state_path.read_text())
        if state.get("fingerprint") != self.fingerprint:
            raise JobMismatchError(
                f"{self.root} holds the checkpoint of another job (different input, bundle or scoring "
                "options); "
                "delete it to start over, or run the original command to resume it"
            )
        return state

    def save(self, state: dict[str, Any]) -> None:
        write_bytes_atomic(self.state_path, json.dumps(state).encode())

    def rows(self, i: int) -> Path:
        return self.root / f"chunk-{i:06d}.rows"

    def rejects(self, i: int) -> Path:
        return self.root / f"chunk-{i:06d}.rejects"


def _iter_lines(paths: list[Path]) -> Iterator[bytes]:
    for path in paths:
        with path.open("rb", buffering=1 << 16) as f:
            yield from f


def build_curriculum(
    bundle: Detector | str | os.PathLike[str],
    input_path: str | Path,
    output_path: str | Path,
    options: CurriculumOptions | None = None,
    *,
    errors_path: str | Path | None = None,
    work_dir: str | Path | None = None,
    score_chunks: ScoreChunks | None = None,
    engine: str = "local",
    keep_work: bool = False,
    progress: bool = True,
) -> CurriculumSummary:
    """Scores, filters and orders ``input_path`` (JSONL or Parquet) into ``output_path``.

    Writes the curriculum (JSONL, or Parquet when the name ends in ``.parquet``), its errors file
    (default ``OUTPUT.errors.jsonl``) and its manifest (``OUTPUT.manifest.json``). Each output row is
    the input object with ``human_likeness``, ``p_llm``, ``quality`` (the metrics), and
    ``curriculum_position`` (1 = first) and ``stage`` (0 = first) added.

    Args:
        bundle: the bundle whose human-likeness orders the rows: a loaded :class:`Detector`, or its
            directory when ``score_chunks`` scores elsewhere (worker processes, Ray), so that this
            process does not hold a copy of the model it never runs.
        work_dir: the checkpoint directory (default ``OUTPUT.work``); a run that finds one of the same
            job there resumes from it.
        score_chunks: how chunks are scored (default: in this process; see
            :func:`humanlike.curriculum.ray_engine.ray_chunk_scorer`).
        engine: recorded in the manifest.
        keep_work: keep the scored chunks after success, so that another strategy or other filters
            (same ``work_dir``, same input, bundle and scoring options) skip the scoring.
    """
    options = options or CurriculumOptions()
    if isinstance(bundle, Detector):
        detector: Detector | None = bundle
        bundle_root, bundle_manifest = bundle.path, bundle.manifest
    else:
        detector = None
        bundle_root, bundle_manifest = read_bundle(bundle)  # verified, as a Detector would be
    input_path, output_path = Path(input_path), Path(output_path)
    errors_path = (
        Path(errors_path) if errors_path else output_path.with_name(output_path.name + ".errors.jsonl")
    )
    manifest_path = output_path.with_name(output_path.name + ".manifest.json")
    work = WorkDir(
        Path(work_dir) if work_dir else output_path.with_name(output_path.name + ".work"),
        _fingerprint(input_path, bundle_id(bundle_root), options),
    )
    state = work.load()
    resumed_chunks = state["chunks"]
    started = time.perf_counter()
    if not state["complete"]:
        score = score_chunks or local_chunk_scorer(detector or Detector(bundle_root), options.scoring)
        total, unit = input_size(input_path)
        bar = Progress("score", total, unit, enabled=progress, initial=state["next"])
        first_chunk = state["chunks"]

        def files(k: int) -> tuple[Path, Path]:
            return work.rows(first_chunk + k), work.rejects(first_chunk + k)

        # A chunk's files may be written before the chunks ahead of it are recorded (workers run
        # ahead): a chunk is done only once state.json records it, and a resumed job writes again
        # whatever it does not record, with the same bytes.
        for chunk in score(input_path, options.chunk_lines, state["next"], state["next_line"], files):
            state.update(
                chunks=state["chunks"] + 1, next=chunk.end, next_line=chunk.first_line + chunk.n_lines
            )
            work.save(state)
            bar.update(chunk.end - bar.done)
        bar.close()
        state["complete"] = True
        work.save(state)

    n_chunks = state["chunks"]
    scored = time.perf_counter()
    ordering = _Ordering(options, work.root)
    with ordering:
        ordering.run(
            [work.rows(i) for i in range(n_chunks)],
            [work.rejects(i) for i in range(n_chunks)],
        )
        jsonl_out = output_path if not is_parquet(output_path) else work.root / "output.jsonl"
        # The errors file is finished after the output: rows cut by the top fraction are found while
        # writing it. Both are renamed into place only when complete.
        with atomic_writer(errors_path) as err_out:
            with atomic_writer(jsonl_out) as out:
                bar = Progress("write", ordering.n_output, "row", enabled=progress)
                for line in ordering.ordered_output():
                    out.write(line)
                    bar.update(1)
                bar.close()
            err_out.writelines(ordering.sorted_rejects())
        if jsonl_out != output_path:
            jsonl_to_parquet(jsonl_out, output_path)
            jsonl_out.unlink()

    n_lines = state["next_line"] - 1
    n_rejected = sum(ordering.reject_counts.values())
    if n_lines != ordering.n_output + n_rejected:  # the accounting invariant; a bug if it breaks
        raise RuntimeError(f"{n_lines} input lines but {ordering.n_output} output + {n_rejected} rejected")
    manifest = {
        "schema": MANIFEST_SCHEMA,
        "schema_version": MANIFEST_VERSION,
        "strategy": options.strategy,
        "order": ORDER_DESCRIPTIONS[options.strategy],
        "engine": engine,
        "input": {"path": str(input_path), "bytes": input_path.stat().st_size},
        "bundle": {
            "path": str(bundle_root),
            "kind": bundle_manifest.kind,
            "checksums_sha256": bundle_id(bundle_root),
        },
        "options": options.as_dict(),
        "metrics": {
            "human_likeness": "1 - the bundle's calibrated P(llm)",
            "quality": QUALITY_FORMULA,
            "mtld_threshold": MTLD_THRESHOLD,
            "oov_lexicon": f"wordfreq {options.scoring.lexicon_lang}",
            "dedup": {
                "mode": options.scoring.dedup.mode,
                "threshold": options.scoring.dedup.threshold,
                "num_perm": options.scoring.dedup.num_perm,
                "bands_rows": list(options.scoring.dedup.bands)
                if options.scoring.dedup.mode == "near"
                else None,
            },
        },
        "counts": {"lines": n_lines, "output": ordering.n_output, **ordering.reject_counts},
        "stages": ordering.stage_summary(),
        "corpus": {
            "by_generator": ordering.corpus_by_group.summary(),
            "by_label": ordering.corpus_by_label.summary(),
        },
        "output_by_generator": ordering.output_by_group.summary(),
    }
    write_bytes_atomic(manifest_path, json.dumps(manifest, indent=2).encode() + b"\n")
    if not keep_work:
        shutil.rmtree(work.root, ignore_errors=True)
    return CurriculumSummary(
        n_lines=n_lines,
        n_output=ordering.n_output,
        n_rejected=n_rejected,
        output=str(output_path),
        errors=str(errors_path),
        manifest=str(manifest_path),
        resumed_chunks=resumed_chunks,
        score_s=round(scored - started, 3),
        order_s=round(time.perf_counter() - scored, 3),
    )


class _Ordering:
    """Phase 2: dedup, filters, caps, order, stages, statistics; all through external sorts."""

    def __init__(self, options: CurriculumOptions, work_root: Path) -> None:
        self.options = options
        self._root = work_root
        self._rejects = ExternalSorter(work_root, options.run_bytes)
        self._ordered = ExternalSorter(work_root, options.run_bytes)
        self.reject_counts: Counter[str] = Counter()
        self.corpus_by_group = GroupStats()
        self.corpus_by_label = GroupStats()
        self.output_by_group = GroupStats()
        self._stage_stats = GroupStats()
        self._stage_groups: dict[int, Counter[str]] = {}
        self._stage_ranges: dict[int, dict[str, list[float]]] = {}
        self.n_output = 0
        self._key_width = 0

    def __enter__(self) -> _Ordering:
        return self

    def __exit__(self, *exc: object) -> None:
        self._rejects.close()
        self._ordered.close()

    def _reject(
        self, line: int, reason: str, step: str, count_as: str, in_order: OrderedRun | None = None
    ) -> None:
        """Records a reject; ``in_order`` is the run for rejects found while reading rows by line,
        which need no sort buffer (at 1M lines of a repeated corpus, 740k duplicates are)."""
        (in_order or self._rejects).add(uint_key(line) + reject_line(line, reason, step))
        self.reject_counts[count_as] += 1

    def _duplicates(self, rows: list[Path]) -> Iterator[tuple[int, int]]:
        """(line, line it duplicates) for every duplicate row, by line."""
        if self.options.scoring.dedup.mode == "none":
            return
        with ExternalSorter(self._root, self.options.run_bytes) as buckets:
            for raw in _iter_lines(rows):
                line_b, meta_b, _ = raw.split(b"\t", 2)
                line = int(line_b)
                for key in json.loads(meta_b)["keys"]:
                    buckets.add(uint_key(key) + uint_key(line) + b"\n")
            with ExternalSorter(self._root, self.options.run_bytes) as dups:
                bucket, first = b"", 0
                for entry in buckets.sorted():
                    key, line = entry[:16], int(entry[16:32], 16)
                    if key != bucket:
                        bucket, first = key, line
                    elif line != first:
                        dups.add(uint_key(line) + uint_key(first) + b"\n")
                last = 0
                for entry in dups.sorted():  # by line, then the earliest text it duplicates
                    line = int(entry[:16], 16)
                    if line != last:
                        last = line
                        yield line, int(entry[16:32], 16)

    def run(self, rows: list[Path], rejects: list[Path]) -> None:
        opts = self.options
        with self._rejects.ordered_run() as unscorable:  # the chunks' rejects come by line
            for raw in _iter_lines(rejects):
                line = json.loads(raw)["line"]
                unscorable.add(uint_key(line) + raw)
                self.reject_counts["unscorable"] += 1

        duplicates = self._duplicates(rows)
        next_dup = next(duplicates, None)
        # Pass A: by generator, best first, to number each row within its generator.
        with ExternalSorter(self._root, opts.run_bytes) as by_group:
            passed_over = self._rejects.ordered_run()  # duplicates and filtered rows, by line
            for raw in _iter_lines(rows):
                row = ScoredRow.parse(raw)
                meta = row.meta
                values = _stat_values(meta)
                self.corpus_by_group.add(meta["group"], values)
                if meta["label"] is not None:
                    self.corpus_by_label.add(meta["label"], values)
                while next_dup is not None and next_dup[0] < row.line:
                    next_dup = next(duplicates, None)
                if next_dup is not None and next_dup[0] == row.line:
                    kind = "exact" if opts.scoring.dedup.mode == "exact" else "near"
                    self._reject(
                        row.line, f"{kind} duplicate of line {next_dup[1]}", "dedup", "duplicate", passed_over
                    )
                    continue
                below = [
                    (name, value, floor)
                    for name, value, floor in (
                        ("human_likeness", meta["h"], opts.min_human_likeness),
                        ("quality", meta["q"], opts.min_quality),
                    )
                    if floor is not None and value < floor
                ]
                if below:
                    name, value, floor = below[0]
                    self._reject(
                        row.line,
                        f"{name} {value:.4f} below {floor}",
                        "filter",
                        f"below_min_{name}",
                        passed_over,
                    )
                    continue
                score = opts.within_generator_score(meta["h"], meta["q"])
                group_hash = hashlib.blake2b(meta["group"].encode(), digest_size=8).digest()
                by_group.add(
                    uint_key(int.from_bytes(group_hash, "big"))
                    + float_key(score, True)
                    + uint_key(row.line)
                    + raw
                )
            passed_over.close()

            # Pass B: the strategy's order, with per-generator caps applied on the way.
            group, rank = "", 0
            for entry in by_group.sorted():
                raw = entry[48:]
                line_b, meta_b, _ = raw.split(b"\t", 2)
                meta = json.loads(meta_b)
                if meta["group"] != group:
                    group, rank = meta["group"], 0
                rank += 1
                if opts.max_per_generator is not None and rank > opts.max_per_generator:
                    self._reject(
                        int(line_b),
                        f"beyond the first {opts.max_per_generator} of generator {group}",
                        "cap",
                        "over_generator_cap",
                    )
                    continue
                if opts.strategy in ROUND_ROBIN:
                    key = uint_key(rank) + text_key(group) + uint_key(int(line_b))
                else:
                    key = entry[16:48]  # the within-generator score and line are the global order
                self._key_width = len(key)
                self._ordered.add(key + raw)
        n = self._ordered.n_lines
        self.n_output = n if opts.top_fraction is None else min(n, math.ceil(opts.top_fraction * n))

    def ordered_output(self) -> Iterator[bytes]:
        """Output lines in curriculum order, with position and stage; rows beyond the top fraction
        become rejects."""
        opts = self.options
        for position, entry in enumerate(self._ordered.sorted(), 1):
            row = ScoredRow.parse(entry[self._key_width :])
            if position > self.n_output:
                self._reject(
                    row.line, f"beyond the top {opts.top_fraction} of the order", "top", "below_top_fraction"
                )
                continue
            stage = (position - 1) * opts.stages // self.n_output
            meta = row.meta
            values = _stat_values(meta)
            self.output_by_group.add(meta["group"], values)
            self._stage_stats.add(str(stage), values)
            self._stage_groups.setdefault(stage, Counter())[meta["group"]] += 1
            ranges = self._stage_ranges.setdefault(stage, {"positions": [position, position]})
            ranges["positions"][1] = position
            for key, v in (("human_likeness", meta["h"]), ("quality", meta["q"])):
                lo_hi = ranges.setdefault(key, [v, v])
                lo_hi[0], lo_hi[1] = min(lo_hi[0], v), max(lo_hi[1], v)
            yield row.output[:-1] + b', "curriculum_position": %d, "stage": %d}\n' % (position, stage)

    def sorted_rejects(self) -> Iterator[bytes]:
        """Reject lines by input line. Call after :meth:`ordered_output` is exhausted."""
        for entry in self._rejects.sorted():
            yield entry[16:]

    def stage_summary(self) -> list[dict[str, Any]]:
        stats = self._stage_stats.summary()
        out = []
        for stage in sorted(self._stage_ranges):
            groups = self._stage_groups[stage]
            out.append(
                {
                    "stage": stage,
                    **self._stage_ranges[stage],
                    **stats[str(stage)],
                    "generators": dict(sorted(groups.items())),
                    "n_generators": len(groups),
                }
            )
        return out


def _stat_values(meta: dict[str, Any]) -> dict[str, Any]:
    """What the group statistics average for one row: its scores and its metrics."""
    metrics = {k: v for k, v in meta["m"].items() if k != "score"}
    return {"human_likeness": meta["h"], "quality": meta["q"], **metrics}
