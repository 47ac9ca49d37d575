"""Scoring one chunk of input rows: the detector's human-likeness, the quality metrics, dedup keys.

This is the expensive step and the one both engines share: the local engine calls it on each chunk in
turn, the Ray engine inside actors that each load the bundle once. What it returns is plain bytes (one
:class:`ScoredRow` line per row, one reject line per unusable row), so that the later steps, which only
sort and filter, never parse the input again.

A scored row line is ``LINE<TAB>META<TAB>OUTPUT\n``: LINE is the 1-based input line (or Parquet row)
number; META a small JSON object (group, label, human-likeness, quality, metrics, dedup keys) for
sorting and statistics; OUTPUT the input object with ``human_likeness``, ``p_llm`` and ``quality``
added, serialized once, as it will be written. ``json.dumps`` escapes tabs and newlines inside
strings, so the first two tabs split the parts. Scorers return rows without LINE (a Ray actor does
not know where its batch sits in the input); :func:`numbered` adds it.
"""

from __future__ import annotations

import json
import math
import multiprocessing
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from humanlike.curriculum.dedup import Deduplicator
from humanlike.curriculum.quality import TextQuality, text_quality
from humanlike.detector.atomic import write_bytes_atomic
from humanlike.detector.processes import exit_with_parent
from humanlike.detector.ranking import UnscorableLine, parse_line
from humanlike.detector.runtime import Detector

UNKNOWN_GROUP = "unknown"


@dataclass(frozen=True)
class ScoringOptions:
    """How rows are read and what is computed for them (part of a job's fingerprint)."""

    text_field: str = field(default="text", metadata={"help": "the text's field"})
    generator_field: str = field(default="generator", metadata={"help": "the generator's field"})
    label_field: str = field(default="label", metadata={"help": "the label's field, when rows have one"})
    lexicon_lang: str = field(default="en", metadata={"help": "wordfreq language of the OOV lexicon"})
    # 16, not 64: the n-gram graph's dense [batch, features] intermediates dominate memory, and on
    # 2 cores a smaller batch leaves room for the metrics thread at the same scoring rate
    # (bench/bench_curriculum.py).
    batch_size: int = field(default=16, metadata={"help": "texts per runtime call"})
    dedup: Deduplicator = field(default_factory=Deduplicator)


WORKER_BUNDLE_ENV = "HUMANLIKE_WORKER_BUNDLE"
"""The bundle whose featurizer the scoring workers' forkserver builds for them to share (see
:mod:`humanlike.curriculum.worker_preload`)."""


def reject_line(line: int, reason: str, step: str) -> bytes:
    return json.dumps({"line": line, "step": step, "reason": reason}).encode("utf-8") + b"\n"


def _clean(x: float) -> float | None:
    """JSON has no NaN: undefined metrics are written as null."""
    return None if math.isnan(x) else x


class ChunkScorer:
    """Scores chunks of rows with one loaded bundle.

    Args:
        detector: the loaded bundle.
        options: fields to read, lexicon language, batch size, dedup mode.
        metrics_pool: where the quality metrics and dedup keys are computed while the graph runs:
            a one-process pool gives them a core of their own (the local engine's choice, see
            :func:`metrics_process_pool`); default, a thread of this process, which shares the GIL
            with the featurizer but needs no second interpreter (a Ray actor's choice).
    """

    def __init__(
        self, detector: Detector, options: ScoringOptions, metrics_pool: Executor | None = None
    ) -> None:
        self.detector = detector
        self.options = options
        self._metrics_pool = metrics_pool

    def _parse(self, raw: bytes | dict[str, Any]) -> tuple[dict[str, Any], str]:
        if isinstance(raw, bytes):
            text = parse_line(raw, self.options.text_field, self.detector.check_text)
            return json.loads(raw), text
        if self.options.text_field not in raw:
            raise UnscorableLine(f"missing field {self.options.text_field!r}")
        value = raw[self.options.text_field]
        reason = self.detector.check_text(value)
        if reason is not None:
            raise UnscorableLine(reason)
        return raw, value

    def score(self, rows: Sequence[bytes | dict[str, Any]]) -> list[bytes | str]:
        """Scores raw JSONL lines or row dicts, in order: ``META\\tOUTPUT\\n`` for each row that could
        be scored, the reason (a ``str``) for each that could not."""
        opts = self.options
        results: list[bytes | str] = []
        parsed: list[tuple[int, dict[str, Any], str]] = []
        for raw in rows:
            try:
                obj, text = self._parse(raw)
            except UnscorableLine as e:
                results.append(str(e))
            else:
                parsed.append((len(results), obj, text))
                results.append(b"")
        texts = [text for _, _, text in parsed]
        # The metrics are pure Python: computed elsewhere (the metrics pool, or a thread) while this
        # thread runs the graph, instead of after it.
        if self._metrics_pool is not None:
            extras = self._metrics_pool.submit(text_metrics, texts, opts.lexicon_lang, opts.dedup)
            scores = self.detector.score_texts(texts, batch_size=opts.batch_size)
            metrics_and_keys = extras.result()
        else:
            with ThreadPoolExecutor(max_workers=1) as pool:
                extras = pool.submit(text_metrics, texts, opts.lexicon_lang, opts.dedup)
                scores = self.detector.score_texts(texts, batch_size=opts.batch_size)
                metrics_and_keys = extras.result()
        for (i, obj, _), score, (q, keys) in zip(parsed, scores, metrics_and_keys, strict=True):
            metrics = {k: _clean(v) if isinstance(v, float) else v for k, v in q.as_dict().items()}
            group = obj.get(opts.generator_field)
            label = obj.get(opts.label_field)
            meta = {
                "group": str(group) if group is not None else UNKNOWN_GROUP,
                "label": str(label) if label is not None else None,
                "h": score.human_likeness,
                "q": q.score,
                "m": metrics,
                "keys": keys,
            }
            result = dict(obj)
            result.update(human_likeness=score.human_likeness, p_llm=score.p_llm, quality=metrics)
            results[i] = ScoredRow.body(meta, result)
        return results


def text_metrics(texts: Sequence[str], lang: str, dedup: Deduplicator) -> list[tuple[TextQuality, list[int]]]:
    """Quality metrics and dedup keys of each text (module level, so a worker process can run it)."""
    return [(text_quality(t, lang), dedup.keys(t)) for t in texts]


def metrics_process_pool() -> ProcessPoolExecutor:
    """One worker process for :func:`text_metrics`. ``forkserver``: never fork a process that
    holds ONNX Runtime's thread pool. Like any ``multiprocessing`` code, it needs an importable
    ``__main__`` (a script or module, not ``python -`` reading stdin)."""
    return ProcessPoolExecutor(
        max_workers=1, mp_context=multiprocessing.get_context("forkserver"), initializer=exit_with_parent
    )


def numbered(first_line: int, results: Sequence[bytes | str]) -> tuple[list[bytes], list[bytes]]:
    """(row lines, reject lines) of consecutive results, the first at input line ``first_line``."""
    rows: list[bytes] = []
    rejects: list[bytes] = []
    for line, result in enumerate(results, first_line):
        if isinstance(result, str):
            rejects.append(reject_line(line, result, "parse"))
        else:
            rows.append(ScoredRow.numbered(line, result))
    return rows, rejects


@dataclass(frozen=True)
class ScoredChunk:
    """A chunk scored and written to its two checkpoint files (see :func:`write_chunk`)."""

    first_line: int
    n_lines: int
    end: int
    """Where the next chunk starts (see :class:`humanlike.curriculum.sources.Chunk`)."""


ChunkFiles = Callable[[int], tuple[Path, Path]]
"""The (rows, rejects) checkpoint files of the k-th chunk (0-based) a run of chunk scoring yields."""


def write_chunk(
    first_line: int, results: Sequence[bytes | str], end: int, files: tuple[Path, Path]
) -> ScoredChunk:
    """Numbers consecutive results and writes them to a chunk's (rows, rejects) files, each renamed
    into place when complete. Whoever scores a chunk writes it: a worker process, so that the rows
    never cross to the process that orders them."""
    rows, rejects = numbered(first_line, results)
    write_bytes_atomic(files[0], b"".join(rows))
    write_bytes_atomic(files[1], b"".join(rejects))
    return ScoredChunk(first_line, len(results), end)


@dataclass(frozen=True)
class ScoredRow:
    """A scored row as a chunk's rows file holds it, one line: ``LINE\tMETA\tOUTPUT\n``.

    Scoring writes it (:meth:`body`, then :meth:`numbered`); ordering reads it (:meth:`parse`). META is
    JSON: ``group`` (the generator), ``label``, ``h`` (human-likeness), ``q`` (quality score), ``m``
    (the metrics), ``keys`` (dedup keys). OUTPUT is the output object's JSON (the input object with
    the scores added); neither holds a tab or a newline, which JSON escapes.
    """

    line: int
    meta: dict[str, Any]
    output: bytes
    """The output object's JSON, without the newline."""

    @staticmethod
    def body(meta: dict[str, Any], output: dict[str, Any]) -> bytes:
        """``META\tOUTPUT\n``: a row as the scorer returns it, before it knows its line."""
        return (
            json.dumps(meta).encode("utf-8")
            + b"\t"
            + json.dumps(output, ensure_ascii=False, default=str).encode("utf-8")
            + b"\n"
        )

    @staticmethod
    def numbered(line: int, body: bytes) -> bytes:
        return b"%d\t" % line + body

    @classmethod
    def parse(cls, row: bytes) -> ScoredRow:
        line, meta, output = row.split(b"\t", 2)
        return cls(int(line), json.loads(meta), output.rstrip(b"\n"))
