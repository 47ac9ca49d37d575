"""Reading a corpus in chunks (JSONL or Parquet), from any chunk on, and writing Parquet output.

A chunk is ``chunk_lines`` consecutive input rows; its boundaries depend only on the input and
``chunk_lines``, so a resumed job cuts the same chunks as an uninterrupted one. For JSONL a chunk
carries the byte offset after its last line, which is where a resumed job seeks to.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PARQUET_SUFFIXES = (".parquet", ".pq")


def is_parquet(path: Path) -> bool:
    return path.suffix.lower() in PARQUET_SUFFIXES


@dataclass(frozen=True)
class Chunk:
    first_line: int
    """1-based number of the chunk's first row."""
    rows: list[bytes] | list[dict[str, Any]]
    """Raw JSONL lines (bytes, newline included) or Parquet rows as dicts."""
    end: int
    """JSONL: byte offset after the chunk; Parquet: rows read so far."""


@dataclass(frozen=True)
class ChunkSpan:
    """Where a JSONL chunk lies in its file, for a process that reads the chunk itself."""

    first_line: int
    start: int
    """Byte offset of the chunk's first line."""
    end: int
    """Byte offset after the chunk's last line."""


def chunk_spans(path: Path, chunk_lines: int, start: int = 0, start_line: int = 1) -> Iterator[ChunkSpan]:
    """The spans of the JSONL chunks :func:`read_chunks` would yield, found without keeping any line."""
    with path.open("rb") as f:
        f.seek(start)
        offset, line, n = start, start_line, 0
        chunk_start = offset
        for raw in f:
            offset += len(raw)
            n += 1
            if n == chunk_lines:
                yield ChunkSpan(line, chunk_start, offset)
                line, n, chunk_start = line + n, 0, offset
        if n:
            yield ChunkSpan(line, chunk_start, offset)


def read_span(path: Path, span: ChunkSpan) -> list[bytes]:
    """The lines of ``span`` (newline included), split as iterating the file splits them."""
    with path.open("rb") as f:
        f.seek(span.start)
        return list(io.BytesIO(f.read(span.end - span.start)))


def input_size(path: Path) -> tuple[int, str]:
    """How much input there is, and in which unit: (bytes, "B") for JSONL, (rows, "row") for Parquet."""
    if is_parquet(path):
        import pyarrow.parquet as pq

        return pq.ParquetFile(path).metadata.num_rows, "row"
    return path.stat().st_size, "B"


def read_chunks(path: Path, chunk_lines: int, start: int = 0, start_line: int = 1) -> Iterator[Chunk]:
    """Chunks of ``path`` from ``start`` (a byte offset for JSONL, a row count for Parquet)."""
    if is_parquet(path):
        yield from _parquet_chunks(path, chunk_lines, start)
        return
    with path.open("rb") as f:
        f.seek(start)
        offset, line = start, start_line
        rows: list[bytes] = []
        for raw in f:
            rows.append(raw)
            offset += len(raw)
            if len(rows) == chunk_lines:
                yield Chunk(line, rows, offset)
                line += len(rows)
                rows = []
        if rows:
            yield Chunk(line, rows, offset)


def _parquet_chunks(path: Path, chunk_lines: int, skip_rows: int) -> Iterator[Chunk]:
    import pyarrow.parquet as pq

    seen = 0
    rows: list[dict[str, Any]] = []
    for batch in pq.ParquetFile(path).iter_batches(batch_size=chunk_lines):
        if seen + batch.num_rows <= skip_rows:
            seen += batch.num_rows
            continue
        batch_rows = batch.to_pylist()[max(0, skip_rows - seen) :]
        seen = max(seen, skip_rows)
        for row in batch_rows:
            rows.append(row)
            if len(rows) == chunk_lines:
                yield Chunk(seen + 1, rows, seen + len(rows))
                seen += len(rows)
                rows = []
    if rows:
        yield Chunk(seen + 1, rows, seen + len(rows))


def jsonl_to_parquet(source: Path, target: Path, block_bytes: int = 64 << 20) -> None:
    """Converts JSONL to Parquet streaming (``pyarrow.json.open_json``), never loading it whole.

    The schema is inferred from the first block (``block_bytes``); a later row whose field has
    another type fails the conversion with pyarrow's error, and no Parquet file is left behind.
    """
    import pyarrow.json as pj
    import pyarrow.parquet as pq

    reader = pj.open_json(source, read_options=pj.ReadOptions(block_size=block_bytes))
    tmp = target.with_name(f".{target.name}.tmp")
    try:
        with pq.ParquetWriter(tmp, reader.schema) as writer:
            for batch in reader:
                writer.write_batch(batch)
        tmp.replace(target)
    finally:
        tmp.unlink(missing_ok=True)
