"""The command line end to end, as a user runs it: real subprocesses, a real slice of the corpus."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from humanlike.cli import main
from humanlike.training.data.schema import CorpusRecord


def humanlike(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "humanlike", *args], input=stdin, capture_output=True, timeout=600
    )


def test_help_everywhere(capsys: pytest.CaptureFixture[str]) -> None:
    top = humanlike("--help")  # the installed entry point, once; every command's parser in this process
    assert top.returncode == 0 and b"usage: humanlike" in top.stdout
    for command in (
        ["corpus"],
        ["corpus", "stats"],
        ["train"],
        ["export"],
        ["eval"],
        ["crossval"],
        ["generalization"],
        ["zero-shot-bundle"],
        ["curriculum"],
        ["estimate"],
        ["serve"],
        ["score"],
        ["rank"],
        ["info"],
    ):
        with pytest.raises(SystemExit) as exited:
            main([*command, "--help"])
        assert exited.value.code == 0, command
        assert "usage: humanlike" in capsys.readouterr().out, command


def test_usage_error_exits_2() -> None:
    assert humanlike("rank").returncode == 2
    assert humanlike("nonsense").returncode == 2


def test_corpus_stats(small_corpus_file: Path, small_corpus: list[CorpusRecord]) -> None:
    result = humanlike("corpus", "stats", str(small_corpus_file), "--json")
    assert result.returncode == 0, result.stderr
    stats = json.loads(result.stdout)
    assert stats["n_records"] == len(small_corpus)
    assert sum(c["human"] + c["llm"] for c in stats["data_type"].values()) == len(small_corpus)
    assert set(stats["data_type"]) == {r.data_type for r in small_corpus}
    table = humanlike("corpus", "stats", str(small_corpus_file))
    assert b"generator" in table.stdout and b"length (chars)" in table.stdout


def test_train_eval_info(small_corpus_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "b"
    # Two out-of-source refits, side by side in processes as the default's four are (one round, not two).
    result = humanlike(
        "train", "--corpus", str(small_corpus_file), "--out", str(out), "--sample", "800",
        "--threshold-source-folds", "2", "--refit-processes", "2", "--no-progress",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert b"grouped hold-out" in result.stdout and b"free_form" in result.stdout
    assert json.loads((out / "bundle.json").read_text())["training"]["refit_processes"] == 2

    info = humanlike("info", str(out))
    assert info.returncode == 0, info.stderr
    assert json.loads(info.stdout)["model"]["provider"] == "CPUExecutionProvider"

    report_path = tmp_path / "eval.json"
    # the report's every section has its own tests (test_eval_report.py); here the chain, with no
    # intervals, perturbations or profile
    ev = humanlike(
        "eval", str(out), "--corpus", str(small_corpus_file), "--json", str(report_path), "--no-progress",
        "--bootstrap", "0", "--robustness-texts", "0", "--no-profile",
    )  # fmt: skip
    assert ev.returncode == 0, ev.stderr
    report = json.loads(report_path.read_text())
    # trained on a sample of this file, so the corpus differs from the training corpus: all is scored
    assert report["scope"]["split"] == "all"
    assert report["all"]["n_human"] + report["all"]["n_llm"] == report["scope"]["n_scored"]
    assert set(report) >= {"all", "data_type", "source", "generator"}
    assert b"AUROC" in ev.stdout


def test_eval_uses_the_holdout_of_the_training_corpus(bundle: Path, small_corpus_file: Path) -> None:
    ev = humanlike(
        "eval", str(bundle), "--corpus", str(small_corpus_file), "--format", "json", "--no-progress",
        "--bootstrap", "0", "--robustness-texts", "0", "--no-profile",
    )  # fmt: skip
    assert ev.returncode == 0, ev.stderr
    report = json.loads(ev.stdout)
    manifest = json.loads((bundle / "bundle.json").read_text())
    assert report["scope"]["split"] == "holdout"
    assert report["scope"]["n_scored"] == manifest["split"]["n_holdout"]
    # the runtime's hold-out AUROC equals the one training computed with scikit-learn
    assert report["all"]["auroc"] == pytest.approx(manifest["metrics"]["holdout"]["all"]["auroc"], abs=1e-4)


def test_score_from_arguments_stdin_and_file(bundle: Path, tmp_path: Path) -> None:
    args = humanlike("score", str(bundle), "The first text.", "A second, rather different text.")
    assert args.returncode == 0, args.stderr
    lines = [json.loads(line) for line in args.stdout.splitlines()]
    assert [line["index"] for line in lines] == [0, 1]
    assert all(0 <= line["p_llm"] <= 1 for line in lines)

    stdin = humanlike("score", str(bundle), stdin=b"The first text.\n\nbad \xff utf8\nLast one.\n")
    assert stdin.returncode == 1  # some inputs failed, and each says why
    lines = [json.loads(line) for line in stdin.stdout.splitlines()]
    assert [line["index"] for line in lines] == [0, 1, 2, 3]
    assert lines[1]["error"] == "empty text"
    assert "broken UTF-8" in lines[2]["error"]
    assert lines[0]["p_llm"] == pytest.approx(json.loads(args.stdout.splitlines()[0])["p_llm"])

    jsonl = tmp_path / "in.jsonl"
    jsonl.write_text('{"text": "From a file."}\n{"body": "wrong field"}\n{"text": 5}\n{"text": ""}\n')
    from_file = humanlike("score", str(bundle), "--input", str(jsonl), "--jsonl")
    assert from_file.returncode == 1 and b"Traceback" not in from_file.stderr
    lines = [json.loads(line) for line in from_file.stdout.splitlines()]
    assert "p_llm" in lines[0] and "missing field 'text'" in lines[1]["error"]
    assert lines[2]["error"] == "expected a string, got int"
    assert lines[3]["error"] == "empty text"


def test_score_refuses_a_corrupt_bundle(bundle: Path, tmp_path: Path) -> None:
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(bundle, broken)
    (broken / "model.onnx").write_bytes(b"garbage")
    result = humanlike("score", str(broken), "text")
    assert result.returncode == 1
    assert b"corrupt" in result.stderr and b"Traceback" not in result.stderr


def test_rank_accounts_for_every_line(bundle: Path, small_corpus: list[CorpusRecord], tmp_path: Path) -> None:
    good = small_corpus[:300]
    raw = [r.model_dump_json().encode() for r in good]
    bad = {
        5: b'{"text": ',
        17: b"",
        40: b'{"id": "no text here"}',
        41: b'{"text": "   "}',
        77: b'{"text": "bad \xff\xfe bytes"}',
        90: b'"just a string"',
        120: json.dumps({"text": "x" * 100_001}).encode(),
    }
    lines = []
    for i, line in enumerate(raw):
        if i in bad:
            lines.append(bad[i])
        lines.append(line)
    source = tmp_path / "input.jsonl"
    source.write_bytes(b"\n".join(lines) + b"\n")
    out = tmp_path / "ranked.jsonl"

    result = humanlike("rank", str(bundle), str(source), "--out", str(out), "--no-progress")
    assert result.returncode == 0, result.stderr
    ranked = [json.loads(line) for line in out.read_text().splitlines()]
    errors = [json.loads(line) for line in Path(str(out) + ".errors.jsonl").read_text().splitlines()]

    assert len(ranked) == len(good) and len(errors) == len(bad)
    assert len(ranked) + len(errors) == len(lines)
    assert sorted(r["id"] for r in ranked) == sorted(r.id for r in good)
    error_lines = {e["line"] for e in errors}
    assert len(error_lines) == len(bad)
    assert all(e["reason"] for e in errors)
    scores = [r["human_likeness"] for r in ranked]
    assert scores == sorted(scores, reverse=True)
    assert [r["rank"] for r in ranked] == list(range(1, len(ranked) + 1))
    summary = json.loads(result.stderr.splitlines()[-1])
    assert summary["n_lines"] == len(lines) and summary["n_errors"] == len(bad)


def test_rank_failure_leaves_no_output(bundle: Path, tmp_path: Path) -> None:
    out = tmp_path / "ranked.jsonl"
    result = humanlike("rank", str(bundle), str(tmp_path / "missing.jsonl"), "--out", str(out))
    assert result.returncode == 1
    assert b"Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_missing_corpus_says_where_it_looked(tmp_path: Path) -> None:
    result = humanlike("corpus", "stats", str(tmp_path / "absent"))
    assert result.returncode == 1
    assert b"does not exist" in result.stderr


def test_crossval_holds_out_what_it_names(small_corpus_file: Path, tmp_path: Path) -> None:
    report_path = tmp_path / "cv.json"
    result = humanlike(
        "crossval",
        "--corpus",
        str(small_corpus_file),
        "--by",
        "generator",
        "source",
        "--only",
        "gpt2-xl",
        "topical_chat",
        "--json",
        str(report_path),
        "--no-progress",
        "--sample",  # about half the file: both folds keep texts of both labels
        "700",
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(report_path.read_text())
    folds = {(f["key"], f["held_out"]): f for f in report["folds"]}
    assert set(folds) == {("generator", "gpt2-xl"), ("source", "topical_chat")}
    for fold in folds.values():
        assert fold["n_human"] > 0 and fold["n_llm"] > 0
        assert 0.0 <= fold["auroc"] <= 1.0
    assert b"fold 2/2" in result.stderr
    assert b"generator=gpt2-xl" in result.stdout


def _smallest_two_label_source(records: list[CorpusRecord], at_least: int) -> tuple[str, int]:
    """The sample's smallest source with both labels and at least ``at_least`` texts, and its size:
    whichever sources a sample happens to draw, the test holds one out."""
    sizes: dict[str, Counter[str]] = {}
    for r in records:
        sizes.setdefault(r.source, Counter())[r.label] += 1
    two_label = [
        (sum(c.values()), s) for s, c in sizes.items() if len(c) == 2 and sum(c.values()) >= at_least
    ]
    n, source = min(two_label)
    return source, n


@pytest.mark.slow  # fine-tunes the encoder
def test_crossval_compares_models_on_the_same_texts(
    small_corpus_file: Path, small_corpus: list[CorpusRecord], tmp_path: Path
) -> None:
    source, n_source = _smallest_two_label_source(small_corpus, at_least=30)
    report_path = tmp_path / "cv.json"
    result = humanlike(
        "crossval",
        "--corpus",
        str(small_corpus_file),
        "--by",
        "source",
        "--only",
        source,
        "--model",
        "ngram",
        "transformer",
        "--max-tokens",
        "64",
        "--max-train-texts",
        "200",
        "--validation-texts",
        "60",
        "--eval-every",
        "10",
        "--max-test-texts",
        "20",
        "--json",
        str(report_path),
        "--no-progress",
    )
    assert result.returncode == 0, result.stderr
    (fold,) = json.loads(report_path.read_text())["folds"]
    assert fold["held_out"] == source
    for model in ("ngram", "transformer"):
        scores = fold[model]
        assert (scores["n_human"], scores["n_llm"]) == (fold["n_human"], fold["n_llm"])
        assert 0.0 <= scores["auroc"] <= 1.0
    assert fold["n_human"] + fold["n_llm"] <= 25 < n_source  # sampled: the fold tests on the whole source
    assert "transformer AUROC" in result.stderr.decode()


def test_crossval_refuses_a_fold_the_corpus_lacks_and_always_writes_its_json(
    small_corpus_file: Path, tmp_path: Path
) -> None:
    report_path = tmp_path / "cv.json"
    args = ["crossval", "--corpus", str(small_corpus_file), "--by", "source", "--json", str(report_path)]
    result = humanlike(*args, "--only", "no-such-source", "--no-progress")
    assert result.returncode == 2
    assert b"no-such-source" in result.stderr and b"Traceback" not in result.stderr
    assert not report_path.exists()  # refused before any work, so nothing to write

    empty = tmp_path / "empty.jsonl"  # one source, one label: no fold to run, still a report
    lines = [line for line in small_corpus_file.read_text().splitlines() if '"label":"human"' in line]
    empty.write_text("\n".join(lines[:50]) + "\n")
    result = humanlike("crossval", "--corpus", str(empty), "--by", "generator", "--json", str(report_path))
    assert result.returncode == 0, result.stderr
    assert json.loads(report_path.read_text())["folds"] == []
