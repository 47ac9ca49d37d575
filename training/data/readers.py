"""Streaming corpus readers: JSONL (plain or gzip), CSV, Parquet and Hugging Face ``datasets``.

Every reader yields :class:`~humanlike.training.data.schema.CorpusRecord` one at a time and never stops on bad
input: a malformed line, a missing field, an unknown label or broken UTF-8 becomes a
:class:`ReadIssue` (file, line, reason) in the :class:`ReadReport`, and the rest is read.

A path may be:

- a file: ``*.jsonl``, ``*.jsonl.gz``, ``*.csv``, ``*.parquet``;
- a directory written by ``datasets`` (``save_to_disk``), read with ``load_from_disk``;
- any other directory: every supported file inside it, in name order;
- ``hf://NAME[:CONFIG][@SPLIT]``: a dataset on the Hugging Face hub, streamed (needs the network).

Sources whose columns differ from the schema are read through a :class:`FieldMapping`; ``PRESETS``
holds known layouts, e.g. HC3's ``human_answers`` / ``chatgpt_answers`` lists.
"""

from __future__ import annotations

import csv
import gzip
import json
import logging
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from humanlike.training.data.schema import CorpusRecord, Label

log = logging.getLogger("humanlike.corpus")

SUFFIXES = (".jsonl", ".jsonl.gz", ".csv", ".parquet")
MAX_ISSUES_KEPT = 10_000
MAX_ISSUES_LOGGED = 20


class FieldMapping(BaseModel):
    """How the columns of a foreign dataset become schema fields.

    Attributes:
        columns: schema field -> source column (``{"text": "answer"}``).
        constants: schema field -> value given to every record (``{"data_type": "free_form"}``);
            ``generator`` is given to LLM records only.
        label_values: source label value -> ``human`` / ``llm`` (``{"0": "human", "1": "llm"}``).
        text_lists: list-valued source column -> the label of every text in it. Each item becomes one
            record; the items of one row share a ``pair_id`` (they answer the same prompt).
    """

    model_config = ConfigDict(frozen=True)

    columns: dict[str, str] = {}
    constants: dict[str, str] = {}
    label_values: dict[str, Label] = {}
    text_lists: dict[str, Label] = {}


PRESETS: dict[str, FieldMapping] = {
    # Hello-SimpleAI/HC3: {id, question, human_answers: [...], chatgpt_answers: [...], source}
    "hc3": FieldMapping(
        columns={"id": "id", "domain": "source"},
        constants={"data_type": "free_form", "source": "hc3", "generator": "gpt-3.5-turbo"},
        text_lists={"human_answers": "human", "chatgpt_answers": "llm"},
    ),
}


@dataclass(frozen=True)
class ReadIssue:
    path: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.reason}"


@dataclass
class ReadReport:
    """What a read produced: records per file, and every input that was not a record."""

    records: Counter[str] = field(default_factory=Counter)
    issue_counts: Counter[str] = field(default_factory=Counter)
    issues: list[ReadIssue] = field(default_factory=list)

    @property
    def n_records(self) -> int:
        return sum(self.records.values())

    @property
    def n_issues(self) -> int:
        return sum(self.issue_counts.values())

    def add_issue(self, path: str, line: int, reason: str) -> None:
        issue = ReadIssue(path, line, reason)
        self.issue_counts[path] += 1
        if len(self.issues) < MAX_ISSUES_KEPT:
            self.issues.append(issue)
        if self.n_issues <= MAX_ISSUES_LOGGED:
            log.warning("skipped %s", issue)
        elif self.n_issues == MAX_ISSUES_LOGGED + 1:
            log.warning("more input was skipped; see the read report for the full list")

    def summary(self) -> str:
        return f"{self.n_records} records read, {self.n_issues} inputs skipped"


def _map_row(row: Mapping[str, Any], mapping: FieldMapping | None, row_id: str) -> list[dict[str, Any]]:
    """One source row as zero or more schema dicts."""
    if mapping is None:
        return [dict(row)]
    base: dict[str, Any] = {name: row.get(col) for name, col in mapping.columns.items()}
    if base.get("id") in (None, ""):
        base["id"] = row_id
    for name, value in mapping.constants.items():
        if base.get(name) is None:
            base[name] = value
    if not mapping.text_lists:
        rows = [base]
    else:
        rows = []
        group = str(base["id"])
        for column, label in mapping.text_lists.items():
            items = row.get(column)
            if items is None:
                continue
            if isinstance(items, str) or not isinstance(items, list):
                raise ValueError(f"column {column!r} should hold a list of texts")
            for k, text in enumerate(items):
                rows.append(
                    {**base, "id": f"{group}:{column}:{k}", "pair_id": group, "text": text, "label": label}
                )
    for out in rows:
        raw_label = out.get("label")
        if mapping.label_values and raw_label is not None:
            out["label"] = mapping.label_values.get(str(raw_label), raw_label)
        if out.get("label") == "human" and mapping.constants.get("generator") == out.get("generator"):
            out["generator"] = "human"
    return rows


def _to_records(
    row: Any, mapping: FieldMapping | None, path: str, line: int, report: ReadReport
) -> Iterator[CorpusRecord]:
    if not isinstance(row, Mapping):
        report.add_issue(path, line, f"expected an object, got {type(row).__name__}")
        return
    try:
        dicts = _map_row(row, mapping, f"{Path(path).name}:{line}")
    except ValueError as e:
        report.add_issue(path, line, str(e))
        return
    for d in dicts:
        try:
            record = CorpusRecord.model_validate(d)
        except ValidationError as e:
            report.add_issue(path, line, _describe(e))
            continue
        report.records[path] += 1
        yield record


def _describe(error: ValidationError) -> str:
    parts = []
    for err in error.errors():
        where = ".".join(str(p) for p in err["loc"]) or "record"
        if err["type"] == "missing":
            parts.append(f"missing field {where!r}")
        elif err["type"] == "literal_error":
            parts.append(f"unknown value {err['input']!r} for {where!r} ({err['msg']})")
        else:
            parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)


def _read_jsonl(path: Path, mapping: FieldMapping | None, report: ReadReport) -> Iterator[CorpusRecord]:
    name = str(path)
    opener = gzip.open if path.name.endswith(".gz") else open
    line_no = 0
    try:
        with opener(path, "rb") as f:
            for line_no, raw in enumerate(f, 1):
                if not raw.strip():
                    report.add_issue(name, line_no, "blank line")
                    continue
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError as e:
                    report.add_issue(name, line_no, f"broken UTF-8 at byte {e.start} of the line")
                    continue
                try:
                    row = json.loads(text)
                except json.JSONDecodeError as e:
                    report.add_issue(name, line_no, f"malformed JSON: {e.msg} at column {e.colno}")
                    continue
                yield from _to_records(row, mapping, name, line_no, report)
    except (EOFError, OSError, zlib.error) as e:
        # A truncated or corrupt gzip stream cannot be resynchronised: report where it broke.
        report.add_issue(name, line_no + 1, f"file is truncated or corrupt, reading stopped here: {e}")


def _has_surrogates(value: object) -> bool:
    if not isinstance(value, str):
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _read_csv(path: Path, mapping: FieldMapping | None, report: ReadReport) -> Iterator[CorpusRecord]:
    name = str(path)
    # surrogateescape keeps broken bytes visible (as lone surrogates) so that the row can be reported.
    with path.open("r", encoding="utf-8", errors="surrogateescape", newline="") as f:
        reader = csv.DictReader(f)
        while True:
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error as e:
                report.add_issue(name, reader.line_num, f"malformed CSV: {e}")
                continue
            if None in row or any(v is None for v in row.values()):
                report.add_issue(
                    name, reader.line_num, "row has a different number of fields than the header"
                )
                continue
            if any(_has_surrogates(v) for v in row.values()):
                report.add_issue(name, reader.line_num, "broken UTF-8")
                continue
            clean = {k: (v if v != "" else None) for k, v in row.items()}
            yield from _to_records(clean, mapping, name, reader.line_num, report)


def _read_parquet(path: Path, mapping: FieldMapping | None, report: ReadReport) -> Iterator[CorpusRecord]:
    import pyarrow.parquet as pq

    name = str(path)
    try:
        parquet = pq.ParquetFile(path)
    except Exception as e:  # pyarrow raises ArrowInvalid and OSError for broken files
        report.add_issue(name, 0, f"not a readable Parquet file: {e}")
        return
    row_no = 0
    for batch in parquet.iter_batches(batch_size=4096):
        for row in batch.to_pylist():
            row_no += 1
            yield from _to_records(row, mapping, name, row_no, report)


def _read_rows(
    rows: Iterable[Any], name: str, mapping: FieldMapping | None, report: ReadReport
) -> Iterator[CorpusRecord]:
    for row_no, row in enumerate(rows, 1):
        yield from _to_records(row, mapping, name, row_no, report)


def _read_hf_disk(path: Path, mapping: FieldMapping | None, report: ReadReport) -> Iterator[CorpusRecord]:
    import datasets

    loaded = datasets.load_from_disk(str(path))
    if isinstance(loaded, datasets.DatasetDict):
        for split in sorted(loaded):
            yield from _read_rows(loaded[split], f"{path}[{split}]", mapping, report)
    else:
        yield from _read_rows(loaded, str(path), mapping, report)


def _read_hf_hub(spec: str, mapping: FieldMapping | None, report: ReadReport) -> Iterator[CorpusRecord]:
    import datasets

    name, _, split = spec.removeprefix("hf://").partition("@")
    name, _, config = name.partition(":")
    stream = datasets.load_dataset(name, config or None, split=split or "train", streaming=True)
    yield from _read_rows(stream, spec, mapping, report)


def is_hf_disk_dataset(path: Path) -> bool:
    return path.is_dir() and any(
        (path / marker).exists() for marker in ("dataset_info.json", "state.json", "dataset_dict.json")
    )


def expand_paths(paths: Iterable[str | Path]) -> list[str | Path]:
    """Files and datasets to read, in order; a plain directory becomes its supported files."""
    out: list[str | Path] = []
    for p in paths:
        if isinstance(p, str) and p.startswith("hf://"):
            out.append(p)
            continue
        path = Path(p)
        if path.is_dir() and not is_hf_disk_dataset(path):
            found = sorted(f for f in path.rglob("*") if f.is_file() and f.name.endswith(SUFFIXES))
            if not found:
                raise FileNotFoundError(f"{path} holds no corpus files ({', '.join(SUFFIXES)})")
            out.extend(found)
        elif path.exists():
            out.append(path)
        else:
            raise FileNotFoundError(f"corpus path {path} does not exist")
    return out


def read_corpus(
    paths: Iterable[str | Path],
    mapping: FieldMapping | None = None,
    report: ReadReport | None = None,
) -> Iterator[CorpusRecord]:
    """Streams records from every path (see the module docstring for what a path may be).

    Raises:
        FileNotFoundError: a path does not exist (nothing at all to read is not "bad input").
        ValueError: a file's format is not one this reader knows.
    """
    report = report if report is not None else ReadReport()
    for p in expand_paths(paths):
        if isinstance(p, str):
            yield from _read_hf_hub(p, mapping, report)
        elif is_hf_disk_dataset(p):
            yield from _read_hf_disk(p, mapping, report)
        elif p.name.endswith((".jsonl", ".jsonl.gz")):
            yield from _read_jsonl(p, mapping, report)
        elif p.name.endswith(".csv"):
            yield from _read_csv(p, mapping, report)
        elif p.name.endswith(".parquet"):
            yield from _read_parquet(p, mapping, report)
        else:
            raise ValueError(f"{p}: unknown corpus format (expected one of {', '.join(SUFFIXES)})")


def load_corpus(
    paths: Iterable[str | Path], mapping: FieldMapping | None = None
) -> tuple[list[CorpusRecord], ReadReport]:
    """Reads every record into a list; returns it with the report of what was skipped."""
    report = ReadReport()
    records = list(read_corpus(paths, mapping, report))
    return records, report
