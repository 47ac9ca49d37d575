"""Rank a JSONL corpus by how human it reads, most human-like first.

Accounting: every input line ends up in exactly one of two files, the ranked output (with its
scores added) or the errors file (``{"line": N, "reason": ...}``). Both are written to temporary
files beside their targets and renamed into place only when the whole run succeeded, so a crash
halfway leaves the previous outputs (or none), never half of a new one.

Memory: texts are scored in batches as they are read; only (score, byte offset) per line is kept, and
the output is written by seeking back to each line. Input much larger than memory works as long as
those 16 bytes per line fit.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from humanlike.detector.atomic import atomic_writer
from humanlike.detector.runtime import Detector


@dataclass(frozen=True)
class RankSummary:
    n_lines: int
    n_ranked: int
    n_errors: int
    output: str
    errors: str


@dataclass(frozen=True)
class LineError:
    line: int
    reason: str


class UnscorableLine(ValueError):
    """An input line that cannot be scored; the message says why."""


def parse_line(raw: bytes, text_field: str, check: Callable[[object], str | None]) -> str:
    """The text of one JSONL line.

    Raises:
        UnscorableLine: blank, broken UTF-8, malformed JSON, not an object, no text field, or a text
            that ``check`` refuses.
    """
    return parse_record(raw, text_field, check)[0]


def parse_record(
    raw: bytes, text_field: str, check: Callable[[object], str | None]
) -> tuple[str, dict[str, Any]]:
    """The text of one JSONL line and the whole object (as :func:`parse_line`, which it serves)."""
    if not raw.strip():
        raise UnscorableLine("blank line")
    try:
        decoded = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise UnscorableLine(f"broken UTF-8 at byte {e.start} of the line") from None
    try:
        obj = json.loads(decoded)
    except json.JSONDecodeError as e:
        raise UnscorableLine(f"malformed JSON: {e.msg} at column {e.colno}") from None
    if not isinstance(obj, dict):
        raise UnscorableLine(f"expected a JSON object, got {type(obj).__name__}")
    if text_field not in obj:
        raise UnscorableLine(f"missing field {text_field!r}")
    text = obj[text_field]
    reason = check(text)
    if reason is not None:
        raise UnscorableLine(reason)
    assert isinstance(text, str)
    return text, obj


def rank_jsonl(
    detector: Detector,
    input_path: str | Path,
    output_path: str | Path,
    errors_path: str | Path | None = None,
    *,
    text_field: str = "text",
    batch_size: int = 64,
    on_progress: Callable[[int], Any] | None = None,
) -> RankSummary:
    """Scores every line of ``input_path`` and writes them most human-like first.

    Each output line is the input object with ``human_likeness``, ``p_llm`` and ``rank`` (1 = most
    human-like) added; ties keep input order. ``errors_path`` defaults to ``OUTPUT.errors.jsonl``.
    """
    input_path, output_path = Path(input_path), Path(output_path)
    errors_path = (
        Path(errors_path) if errors_path else output_path.with_name(output_path.name + ".errors.jsonl")
    )
    offsets: list[int] = []
    scores: list[np.ndarray] = []
    errors: list[LineError] = []
    pending_texts: list[str] = []
    pending_offsets: list[int] = []

    def flush() -> None:
        if pending_texts:
            scored = detector.score_texts(pending_texts, batch_size=batch_size)
            scores.append(np.array([s.human_likeness for s in scored], dtype=np.float64))
            offsets.extend(pending_offsets)
            pending_texts.clear()
            pending_offsets.clear()

    n_lines = 0
    with input_path.open("rb") as f:
        offset = 0
        for n_lines, raw in enumerate(f, 1):
            try:
                text = parse_line(raw, text_field, detector.check_text)
            except UnscorableLine as e:
                errors.append(LineError(n_lines, str(e)))
            else:
                pending_texts.append(text)
                pending_offsets.append(offset)
                if len(pending_texts) >= batch_size * 16:
                    flush()
                    if on_progress:
                        on_progress(n_lines)
            offset += len(raw)
        flush()
        if on_progress:
            on_progress(n_lines)

        human_likeness = np.concatenate(scores) if scores else np.zeros(0)
        # Stable sort on the negated score: most human-like first, input order among ties.
        order = np.argsort(-human_likeness, kind="stable")
        with atomic_writer(errors_path) as err_out:
            for err in errors:
                err_out.write(json.dumps({"line": err.line, "reason": err.reason}).encode("utf-8") + b"\n")
            with atomic_writer(output_path) as out:
                for rank, i in enumerate(order, 1):
                    f.seek(offsets[i])
                    obj = json.loads(f.readline())
                    h = float(human_likeness[i])
                    obj.update(human_likeness=h, p_llm=1.0 - h, rank=rank)
                    out.write(json.dumps(obj, ensure_ascii=False).encode("utf-8") + b"\n")
    return RankSummary(
        n_lines=n_lines,
        n_ranked=len(order),
        n_errors=len(errors),
        output=str(output_path),
        errors=str(errors_path),
    )
