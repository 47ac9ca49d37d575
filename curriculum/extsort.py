"""An external merge sort of byte lines, so that ordering a corpus never holds the corpus in memory.

Records are ``bytes`` lines (ending in ``\\n``) that begin with a fixed-width key; sorting the lines
bytewise sorts them by key. Keys are built from the helpers below, which map numbers to hex strings
whose lexicographic order is their numeric order. Lines are buffered up to ``run_bytes``, sorted,
written to a run file; the runs are then merged lazily (``heapq.merge``), reading one line per run at
a time. Peak memory is about ``run_bytes`` plus one buffered read per run, whatever the input size.
Lines that already arrive in order (rejects found while reading rows by line) go to a run of their own
as they come (:meth:`ExternalSorter.ordered_run`) and cost no buffer at all.
"""

from __future__ import annotations

import contextlib
import heapq
import struct
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

DEFAULT_RUN_BYTES = 16 << 20
# 16 MiB, not 64: what the ordering process holds, once per sort alive. At 1M lines 16 MiB runs cut the
# command's peak from 217 to 121 MiB PSS with the same whole-command rate (0.91 of raw scoring either
# way; bench/RESULTS.md, Curricula): more runs cost the merge little, it reads 64 KiB per run file.

# What a buffered line costs beyond its bytes: the bytes object's header and the list's pointer.
# Counted so that ``run_bytes`` bounds real memory even for short lines (dedup buckets are 33 bytes).
LINE_OVERHEAD = 41


def uint_key(n: int) -> bytes:
    """16 hex digits: sorts as the unsigned 64-bit integer ``n``."""
    return b"%016x" % n


def float_key(x: float, descending: bool = False) -> bytes:
    """16 hex digits that sort as ``x`` (IEEE-754 order: -inf < ... < -0 < 0 < ... < inf).

    ``descending`` inverts the order, for "largest first".
    """
    (bits,) = struct.unpack(">Q", struct.pack(">d", x))
    # Positive floats: set the sign bit so they sort above negatives; negative: flip all bits so that
    # larger magnitudes sort lower.
    bits = bits ^ 0xFFFF_FFFF_FFFF_FFFF if bits >> 63 else bits | (1 << 63)
    if descending:
        bits ^= 0xFFFF_FFFF_FFFF_FFFF
    return uint_key(bits)


def text_key(s: str, width: int = 64) -> bytes:
    """``s`` as UTF-8, padded or cut to ``width`` bytes (for grouping by a short name).

    Names longer than ``width`` bytes that share their first ``width`` bytes sort as one; callers
    add a full-length tiebreak (or a hash) where that matters.
    """
    raw = s.encode("utf-8")[:width]
    return raw.replace(b"\n", b" ").ljust(width, b"\x00")


class OrderedRun:
    """A run file written as lines come, for lines given in ascending order: no buffer, no sort.

    Made by :meth:`ExternalSorter.ordered_run`; a line smaller than the one before is a caller's bug
    and raises ``ValueError`` rather than yield a wrong order.
    """

    def __init__(self, sorter: ExternalSorter, path: Path) -> None:
        self._sorter = sorter
        self._file: IO[bytes] = path.open("wb", buffering=1 << 16)
        self._last = b""

    def __enter__(self) -> OrderedRun:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def add(self, line: bytes) -> None:
        if line < self._last:
            raise ValueError(f"ordered run: {line[:40]!r} comes after {self._last[:40]!r}")
        self._file.write(line)
        self._last = line
        self._sorter.n_lines += 1

    def close(self) -> None:
        self._file.close()


class ExternalSorter:
    """Collects lines, then yields them sorted.

    Args:
        work_dir: where run files go (deleted by :meth:`close`, or on leaving the ``with`` block).
        run_bytes: memory for the buffer (lines and their overhead) before a run is written.
    """

    def __init__(self, work_dir: Path, run_bytes: int = DEFAULT_RUN_BYTES) -> None:
        work_dir.mkdir(parents=True, exist_ok=True)
        self._dir = Path(tempfile.mkdtemp(prefix="sort-", dir=work_dir))
        self._run_bytes = run_bytes
        self._buffer: list[bytes] = []
        self._buffered = 0
        self._runs: list[Path] = []
        self._open: list[IO[bytes]] = []
        self._ordered_runs: list[OrderedRun] = []
        self.n_lines = 0

    def __enter__(self) -> ExternalSorter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def add(self, line: bytes) -> None:
        self._buffer.append(line)
        self._buffered += len(line) + LINE_OVERHEAD
        self.n_lines += 1
        if self._buffered >= self._run_bytes:
            self._spill()

    def extend(self, lines: Iterable[bytes]) -> None:
        for line in lines:
            self.add(line)

    def ordered_run(self) -> OrderedRun:
        """A run of its own for lines that come already sorted (each no smaller than the last):
        written straight to disk, merged with the rest by :meth:`sorted`."""
        run = OrderedRun(self, self._new_run())
        self._ordered_runs.append(run)
        return run

    def _new_run(self) -> Path:
        """The next run file's path, counted among the runs to merge (and to delete on close)."""
        path = self._dir / f"run-{len(self._runs):05d}"
        self._runs.append(path)
        return path

    def _spill(self) -> None:
        self._buffer.sort()
        with self._new_run().open("wb") as f:
            f.writelines(self._buffer)
        self._buffer = []
        self._buffered = 0

    def sorted(self) -> Iterator[bytes]:
        """Every line added, in bytewise order (call once, after the last :meth:`add`)."""
        if not self._runs:  # it all fit in memory: no files
            self._buffer.sort()
            yield from self._buffer
            self._buffer = []
            return
        for run in self._ordered_runs:
            run.close()
        if self._buffer:
            self._spill()
        for path in self._runs:
            self._open.append(path.open("rb", buffering=1 << 16))
        yield from heapq.merge(*self._open)
        # Merged to the end: give back each run's read buffer now (and above, the lines), not when the
        # sorter is closed (a sort whose output feeds another sort stays open while that one runs).
        for f in self._open:
            f.close()
        self._open.clear()

    def close(self) -> None:
        for run in self._ordered_runs:
            run.close()
        for f in self._open:
            f.close()
        self._open.clear()
        for path in self._runs:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        with contextlib.suppress(OSError):
            self._dir.rmdir()
        self._buffer = []
