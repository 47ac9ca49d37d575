"""The scoring phase on Ray Data, for corpora that outgrow one machine.

Ray reads the input the local engine reads: Parquet (``ray.data.read_parquet``, any path or directory
Ray reads: local, S3, GCS), or JSONL, which read tasks split into byte blocks at line boundaries
(:func:`read_jsonl_block`, the way Hadoop splits text files) and hand over as raw lines, so that broken
UTF-8 and malformed lines reach the scorer as they do locally. A pool of actors scores the rows with
``map_batches``: each actor loads the bundle once (:class:`BundleScorer`) and runs the same
:class:`humanlike.curriculum.scoring.ChunkScorer` as the local engine. Results stream back to the
driver in input order (``preserve_order``), where they are numbered and cut into the same chunks as the
local engine's, so the ordering phase, and therefore the output, is the same. The ordering phase
(external sorts, disk-bound) runs on the driver.

Ray is optional (``pip install 'humanlike[ray]'``); nothing imports this module unless
``--engine ray`` is asked for.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa

from humanlike.curriculum.engines import ChunkResults, ScoreChunks
from humanlike.curriculum.scoring import ChunkFiles, ChunkScorer, ScoringOptions, write_chunk
from humanlike.curriculum.sources import is_parquet

LINE = "__humanlike_line"
"""The column that carries a raw JSONL line (bytes, newline included)."""
END = "__humanlike_end"
"""The column that carries a JSONL line's end offset in the file, the local engine's resume position."""
BLOCK_BYTES = 16 << 20


def read_jsonl_block(block: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The lines that *start* in ``[block["start"], block["end"])`` of the file, whole, as raw bytes.

    A line that crosses the block's end belongs to this block; one that crosses its start belongs to
    the block before, so every line is read exactly once. ``block["first"]`` is a line boundary (the
    file's start or a resume offset), where no partial line is skipped.
    """
    path, start, end = block["path"], block["start"], block["end"]
    with open(path, "rb") as f:
        offset = start
        if start > block["first"]:
            f.seek(start - 1)
            if f.read(1) != b"\n":  # mid-line: that line is the previous block's
                offset += len(f.readline())
        f.seek(offset)
        while offset < end:
            line = f.readline()
            if not line:
                break
            offset += len(line)
            yield {LINE: line, END: offset}


class BundleScorer:
    """A Ray Data actor: loads the bundle once, scores batches of rows.

    Each output row carries ``row`` (``META\\tOUTPUT\\n`` bytes, empty when unscorable), ``reason``
    (why not, or null) and, for JSONL input, the line's end offset.
    """

    def __init__(self, bundle: str, options: ScoringOptions, threads: int) -> None:
        from humanlike.detector.runtime import Detector

        self._scorer = ChunkScorer(Detector(bundle, device="cpu", threads=threads), options)

    def __call__(self, batch: pa.Table) -> pa.Table:
        jsonl = LINE in batch.column_names
        rows = batch.column(LINE).to_pylist() if jsonl else batch.to_pylist()
        results = self._scorer.score(rows)
        columns = {
            "row": pa.array([r if isinstance(r, bytes) else b"" for r in results], pa.binary()),
            "reason": pa.array([r if isinstance(r, str) else None for r in results], pa.string()),
        }
        if jsonl:
            columns[END] = batch.column(END)
        return pa.table(columns)


def ray_chunk_scorer(
    bundle: str | Path,
    options: ScoringOptions,
    actors: int | None = None,
    threads_per_actor: int = 1,
    batch_rows: int = 256,
) -> ScoreChunks:
    """A chunk scorer for :func:`humanlike.curriculum.pipeline.build_curriculum` that runs on Ray.

    Joins the running Ray cluster (``RAY_ADDRESS``) or starts a local one.

    Args:
        bundle: bundle directory, readable by every node.
        actors: scoring actors (each holds one loaded bundle); default: as many as the cluster's CPUs
            allow with one CPU left for the read tasks (actors holding every CPU starve the reader).
        threads_per_actor: ONNX Runtime threads (and CPUs reserved) per actor.
        batch_rows: rows per ``map_batches`` call.
    """
    import ray

    def score_chunks(
        path: Path, chunk_lines: int, start: int, start_line: int, files: ChunkFiles
    ) -> ChunkResults:
        """``start`` is where the checkpoint stopped: a row count (Parquet) or a byte offset (JSONL)."""
        parquet = is_parquet(path)
        if not ray.is_initialized():
            ray.init(include_dashboard=False, log_to_driver=False)
        cpus = int(ray.cluster_resources().get("CPU", 2))  # type: ignore[no-untyped-call]
        n_actors = actors or max(1, cpus // threads_per_actor - 1)
        ctx = ray.data.DataContext.get_current()
        ctx.execution_options.preserve_order = True  # rows come back in input order
        if parquet:
            ds = ray.data.read_parquet(str(path))
        else:
            size = path.stat().st_size
            blocks = [
                {"path": str(path.resolve()), "first": start, "start": a, "end": min(a + BLOCK_BYTES, size)}
                for a in range(start, size, BLOCK_BYTES)
            ]
            ds = ray.data.from_items(blocks).flat_map(read_jsonl_block)
        scored = ds.map_batches(
            BundleScorer,
            fn_constructor_kwargs={"bundle": str(bundle), "options": options, "threads": threads_per_actor},
            batch_size=batch_rows,
            batch_format="pyarrow",
            compute=ray.data.ActorPoolStrategy(size=n_actors),
            num_cpus=threads_per_actor,
        )
        results: list[bytes | str] = []
        first, end, seen, k = start_line, start, 0, 0
        for batch in scored.iter_batches(batch_format="pyarrow", batch_size=None):
            assert isinstance(batch, pa.Table)
            rows = batch.column("row").to_pylist()
            reasons = batch.column("reason").to_pylist()
            ends = batch.column(END).to_pylist() if not parquet else [None] * len(rows)
            for row, reason, line_end in zip(rows, reasons, ends, strict=True):
                seen += 1
                if parquet and seen <= start:
                    # A resumed Parquet job rescores from the top (Ray has no cheap "skip N rows" that
                    # keeps order) and drops what the checkpoint already holds; JSONL starts at ``start``.
                    continue
                results.append(reason if reason is not None else row)
                end = line_end if line_end is not None else end + 1
                if len(results) == chunk_lines:
                    yield write_chunk(first, results, end, files(k))
                    first, k = first + len(results), k + 1
                    results = []
        if results:
            yield write_chunk(first, results, end, files(k))

    return score_chunks
