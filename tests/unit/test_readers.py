"""Readers: every bad input is reported with file and line and counted; the rest is read."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

import pytest

from humanlike.training.data.readers import PRESETS, FieldMapping, load_corpus


def good(i: int, label: str = "human") -> dict[str, object]:
    return {
        "id": f"r{i}",
        "text": f"Text number {i}, written for a reader test.",
        "label": label,
        "generator": "human" if label == "human" else "gpt-x",
        "data_type": "free_form",
        "source": "unit",
        "pair_id": None,
    }


def jsonl_bytes(rows: list[object]) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in rows)


def test_jsonl_bad_lines_are_reported_and_the_rest_read(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    lines = [
        jsonl_bytes([good(1)]),
        b'{"id": "x", "text": "unterminated\n',  # 2: malformed JSON
        jsonl_bytes([{k: v for k, v in good(3).items() if k != "label"}]),  # 3: missing field
        jsonl_bytes([{**good(4), "label": "robot"}]),  # 4: unknown label
        b'{"id": "u", "text": "caf\xc3\xa9 \xff\xfe", "label": "human"}\n',  # 5: broken UTF-8
        b"\n",  # 6: blank
        b"[1, 2, 3]\n",  # 7: not an object
        jsonl_bytes([{**good(8), "generator": "gpt-4"}]),  # 8: human text with an LLM generator
        jsonl_bytes([good(9, "llm")]),
    ]
    path.write_bytes(b"".join(lines))
    records, report = load_corpus([path])
    assert [r.id for r in records] == ["r1", "r9"]
    reasons = {i.line: i.reason for i in report.issues}
    assert set(reasons) == {2, 3, 4, 5, 6, 7, 8}
    assert "malformed JSON" in reasons[2]
    assert "missing field 'label'" in reasons[3]
    assert "unknown value 'robot'" in reasons[4]
    assert "broken UTF-8" in reasons[5]
    assert "blank" in reasons[6]
    assert "expected an object" in reasons[7]
    assert "generator" in reasons[8]
    assert all(i.path == str(path) for i in report.issues)
    assert report.n_records == 2 and report.n_issues == 7


def test_gzip_and_truncated_gzip(tmp_path: Path) -> None:
    data = jsonl_bytes([good(i) for i in range(2000)])
    whole = tmp_path / "whole.jsonl.gz"
    whole.write_bytes(gzip.compress(data))
    records, report = load_corpus([whole])
    assert len(records) == 2000 and report.n_issues == 0

    cut = tmp_path / "cut.jsonl.gz"
    compressed = gzip.compress(data)
    cut.write_bytes(compressed[: len(compressed) // 2])
    records, report = load_corpus([cut])
    assert 0 < len(records) < 2000
    assert report.n_issues == 1
    assert "truncated or corrupt" in report.issues[0].reason
    assert report.issues[0].line == len(records) + 1  # where reading stopped: the first line not read


def test_csv_with_bad_rows(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    fields = ["id", "text", "label", "data_type", "source"]
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(fields)
        w.writerow(["a", "A text, with a comma\nand a newline.", "human", "free_form", "unit"])
        w.writerow(["b", "too", "few"])
        w.writerow(["c", "Fine text here.", "llm", "translation", "unit"])
    with path.open("ab") as f:
        f.write(b"d,broken \xff bytes,human,free_form,unit\r\n")
        f.write(b"e,Last good line.,human,instructions,unit\r\n")
    records, report = load_corpus([path])
    assert [r.id for r in records] == ["a", "c", "e"]
    assert records[0].text == "A text, with a comma\nand a newline."
    assert records[1].generator == "unknown"
    reasons = [i.reason for i in report.issues]
    assert len(reasons) == 2
    assert "number of fields" in reasons[0]
    assert "broken UTF-8" in reasons[1]


def test_parquet(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [good(1), {**good(2), "label": "nope"}, good(3, "llm")]
    path = tmp_path / "p.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path)
    records, report = load_corpus([path])
    assert [r.id for r in records] == ["r1", "r3"]
    assert report.issues[0].line == 2


def test_directory_reads_supported_files_in_order(tmp_path: Path) -> None:
    (tmp_path / "b.jsonl").write_bytes(jsonl_bytes([good(2)]))
    (tmp_path / "a.jsonl.gz").write_bytes(gzip.compress(jsonl_bytes([good(1)])))
    (tmp_path / "README.md").write_text("not data")
    records, _ = load_corpus([tmp_path])
    assert [r.id for r in records] == ["r1", "r2"]


def test_missing_path_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_corpus([tmp_path / "nope.jsonl"])


def test_hc3_layout_from_a_saved_dataset(tmp_path: Path) -> None:
    """The hub path cannot run here; the same mapping is tested on a local dataset of HC3's shape."""
    import datasets

    hc3 = datasets.Dataset.from_dict(
        {
            "id": ["0", "1"],
            "question": ["Why is the sky blue?", "What is a bond?"],
            "human_answers": [["Rayleigh scattering, mostly."], ["A loan you can trade.", "Debt."]],
            "chatgpt_answers": [["The sky appears blue because of Rayleigh scattering."], []],
            "source": ["reddit_eli5", "finance"],
        }
    )
    hc3.save_to_disk(str(tmp_path / "hc3"))
    records, report = load_corpus([tmp_path / "hc3"], PRESETS["hc3"])
    assert report.n_issues == 0
    assert [(r.label, r.pair_id) for r in records] == [
        ("human", "0"),
        ("llm", "0"),
        ("human", "1"),
        ("human", "1"),
    ]
    assert records[1].generator == "gpt-3.5-turbo" and records[0].generator == "human"
    assert records[0].domain == "reddit_eli5" and records[0].source == "hc3"
    assert len({r.id for r in records}) == 4


def test_mapping_with_label_values(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    path.write_bytes(
        jsonl_bytes([{"content": "Some text here.", "is_ai": 1}, {"content": "Other.", "is_ai": 0}])
    )
    mapping = FieldMapping(
        columns={"text": "content", "label": "is_ai"},
        constants={"data_type": "free_form", "source": "mine"},
        label_values={"0": "human", "1": "llm"},
    )
    records, report = load_corpus([path], mapping)
    assert report.n_issues == 0
    assert [r.label for r in records] == ["llm", "human"]
    assert records[0].id == "m.jsonl:1"
