"""The ordering phase: dedup, filters, caps, the strategy's order, stages and statistics.

Disk-bound and redone in full on every run (the scored chunks are the checkpoint): external sorts
(:mod:`humanlike.curriculum.extsort`) over the chunk files. Dedup buckets first, then "by generator,
best first" (each row's position within its generator, the caps), then the strategy's order, then the
output with positions and stages. Rejects (unscorable lines, duplicates, filtered rows) are sorted by
input line into the errors file.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from humanlike.curriculum.extsort import ExternalSorter, OrderedRun, float_key, text_key, uint_key
from humanlike.curriculum.options import ROUND_ROBIN, CurriculumOptions
from humanlike.curriculum.quality import GroupStats
from humanlike.curriculum.scoring import ScoredRow, reject_line

FIELD = 16
"""Width of a sort key field: :func:`uint_key` and :func:`float_key` are 16 hex digits."""
GROUP_FIELD = 64
"""Width of a generator name in the round-robin key (:func:`text_key`)."""


class Entry:
    """Sort entries are fixed-width key fields followed by a payload (a row, a reject line, or
    nothing): one place that says where each field starts, for the writer and the reader."""

    def __init__(self, *widths: int) -> None:
        self.widths = widths
        self.starts = [sum(widths[:i]) for i in range(len(widths))]
        self.key_width = sum(widths)

    def make(self, *fields: bytes, payload: bytes = b"\n") -> bytes:
        assert tuple(map(len, fields)) == self.widths, "a key field of the wrong width"
        return b"".join(fields) + payload

    def field(self, entry: bytes, i: int) -> bytes:
        return entry[self.starts[i] : self.starts[i] + self.widths[i]]

    def number(self, entry: bytes, i: int) -> int:
        return int(self.field(entry, i), 16)

    def key(self, entry: bytes) -> bytes:
        return entry[: self.key_width]

    def payload(self, entry: bytes) -> bytes:
        return entry[self.key_width :]


BY_LINE = Entry(FIELD)
"""A reject: (input line) + its reject line."""
BUCKET = Entry(FIELD, FIELD)
"""A dedup bucket member: (dedup key, line)."""
DUPLICATE = Entry(FIELD, FIELD)
"""A duplicate: (line, the line it duplicates)."""
BY_GROUP = Entry(FIELD, FIELD, FIELD)
"""Pass A: (generator hash, within-generator score descending, line) + the row."""
SORTED = Entry(FIELD, FIELD)
"""The order of the sort strategies: (score descending, line) + the row."""
ROUND_ROBIN_ORDER = Entry(FIELD, GROUP_FIELD, FIELD)
"""The order of the round-robin strategies: (rank within generator, generator, line) + the row."""


def iter_lines(paths: list[Path]) -> Iterator[bytes]:
    for path in paths:
        with path.open("rb", buffering=1 << 16) as f:
            yield from f


class Ordering:
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
        self._order = ROUND_ROBIN_ORDER if options.strategy in ROUND_ROBIN else SORTED

    def __enter__(self) -> Ordering:
        return self

    def __exit__(self, *exc: object) -> None:
        self._rejects.close()
        self._ordered.close()

    def _reject(
        self, line: int, reason: str, step: str, count_as: str, in_order: OrderedRun | None = None
    ) -> None:
        """Records a reject; ``in_order`` is the run for rejects found while reading rows by line,
        which need no sort buffer (at 1M lines of a repeated corpus, 740k duplicates are)."""
        (in_order or self._rejects).add(BY_LINE.make(uint_key(line), payload=reject_line(line, reason, step)))
        self.reject_counts[count_as] += 1

    def _duplicates(self, rows: list[Path]) -> Iterator[tuple[int, int]]:
        """(line, line it duplicates) for every duplicate row, by line."""
        if self.options.scoring.dedup.mode == "none":
            return
        with ExternalSorter(self._root, self.options.run_bytes) as buckets:
            for raw in iter_lines(rows):
                row = ScoredRow.parse(raw)
                for key in row.meta["keys"]:
                    buckets.add(BUCKET.make(uint_key(key), uint_key(row.line)))
            with ExternalSorter(self._root, self.options.run_bytes) as dups:
                bucket, first = b"", 0
                for entry in buckets.sorted():
                    key, line = BUCKET.field(entry, 0), BUCKET.number(entry, 1)
                    if key != bucket:
                        bucket, first = key, line
                    elif line != first:
                        dups.add(DUPLICATE.make(uint_key(line), uint_key(first)))
                last = 0
                for entry in dups.sorted():  # by line, then the earliest text it duplicates
                    line = DUPLICATE.number(entry, 0)
                    if line != last:
                        last = line
                        yield line, DUPLICATE.number(entry, 1)

    def run(self, rows: list[Path], rejects: list[Path]) -> None:
        opts = self.options
        with self._rejects.ordered_run() as unscorable:  # the chunks' rejects come by line
            for raw in iter_lines(rejects):
                line = json.loads(raw)["line"]
                unscorable.add(BY_LINE.make(uint_key(line), payload=raw))
                self.reject_counts["unscorable"] += 1

        duplicates = self._duplicates(rows)
        next_dup = next(duplicates, None)
        # Pass A: by generator, best first, to number each row within its generator.
        with ExternalSorter(self._root, opts.run_bytes) as by_group:
            passed_over = self._rejects.ordered_run()  # duplicates and filtered rows, by line
            for raw in iter_lines(rows):
                row = ScoredRow.parse(raw)
                meta = row.meta
                values = stat_values(meta)
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
                    BY_GROUP.make(
                        uint_key(int.from_bytes(group_hash, "big")),
                        float_key(score, True),
                        uint_key(row.line),
                        payload=raw,
                    )
                )
            passed_over.close()

            # Pass B: the strategy's order, with per-generator caps applied on the way.
            group, rank = "", 0
            for entry in by_group.sorted():
                raw = BY_GROUP.payload(entry)
                row = ScoredRow.parse(raw)
                if row.meta["group"] != group:
                    group, rank = row.meta["group"], 0
                rank += 1
                if opts.max_per_generator is not None and rank > opts.max_per_generator:
                    self._reject(
                        row.line,
                        f"beyond the first {opts.max_per_generator} of generator {group}",
                        "cap",
                        "over_generator_cap",
                    )
                    continue
                if self._order is ROUND_ROBIN_ORDER:
                    key = ROUND_ROBIN_ORDER.make(
                        uint_key(rank), text_key(group, GROUP_FIELD), uint_key(row.line), payload=raw
                    )
                else:  # the within-generator score and line are the global order
                    key = SORTED.make(BY_GROUP.field(entry, 1), BY_GROUP.field(entry, 2), payload=raw)
                self._ordered.add(key)
        n = self._ordered.n_lines
        self.n_output = n if opts.top_fraction is None else min(n, math.ceil(opts.top_fraction * n))

    def ordered_output(self) -> Iterator[bytes]:
        """Output lines in curriculum order, with position and stage; rows beyond the top fraction
        become rejects."""
        opts = self.options
        for position, entry in enumerate(self._ordered.sorted(), 1):
            row = ScoredRow.parse(self._order.payload(entry))
            if position > self.n_output:
                self._reject(
                    row.line, f"beyond the top {opts.top_fraction} of the order", "top", "below_top_fraction"
                )
                continue
            stage = (position - 1) * opts.stages // self.n_output
            meta = row.meta
            values = stat_values(meta)
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
            yield BY_LINE.payload(entry)

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


def stat_values(meta: dict[str, Any]) -> dict[str, Any]:
    """What the group statistics average for one row: its scores and its metrics."""
    metrics = {k: v for k, v in meta["m"].items() if k != "score"}
    return {"human_likeness": meta["h"], "quality": meta["q"], **metrics}
