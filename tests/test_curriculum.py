"""Curricula: metrics, the external sort, dedup, every strategy's order, accounting, resume, Ray.

Runs on a real bundle (the session's small baseline) and real corpus texts; the resume test kills a
real ``humanlike curriculum`` process with SIGKILL halfway and checks the resumed output byte for byte.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from humanlike.curriculum.checkpoint import JobMismatchError
from humanlike.curriculum.dedup import Deduplicator
from humanlike.curriculum.engines import process_chunk_scorer
from humanlike.curriculum.extsort import ExternalSorter, float_key, uint_key
from humanlike.curriculum.options import CurriculumOptions
from humanlike.curriculum.pipeline import build_curriculum
from humanlike.curriculum.quality import GroupStats, oov_share, quality_score, text_quality
from humanlike.curriculum.scoring import ScoringOptions
from humanlike.detector import Detector
from humanlike.textstats import lexical_stats
from humanlike.training.data.schema import CorpusRecord
from tests.processes import descendants, still_alive

N_TEXTS = 400
BAD_LINES = [b"not json\n", b"\n", b'{"text": ""}\n', b'{"text": "broken \xff utf-8"}\n', b"[1, 2]\n"]


# --- metrics -------------------------------------------------------------------------------------


def test_lexical_stats_by_hand() -> None:
    stats = lexical_stats("the cat the cat the cat")
    assert stats["words"] == 6
    assert stats["ttr"] == pytest.approx(2 / 6)
    # bigrams: (the cat) x3, (cat the) x2 -> 2 distinct of 5; 3 repeat an earlier one
    assert stats["distinct_2"] == pytest.approx(2 / 5)
    assert stats["repetition"] == pytest.approx(3 / 5)
    assert math.isnan(lexical_stats("...")["mtld"])


def test_oov_share_uses_the_lexicon() -> None:
    assert oov_share("the cat sat on the mat") == 0.0
    assert oov_share("the xqzvb blorfnik") == pytest.approx(2 / 3)
    assert oov_share("don\u2019t stop") == 0.0  # typographic apostrophe maps to the lexicon's
    assert math.isnan(oov_share("1234 !!"))


def test_quality_score_rewards_diversity_and_penalizes_errors() -> None:
    assert quality_score(50.0, 0.0, 0.0) == pytest.approx(0.5 ** (1 / 3))
    assert quality_score(100.0, 0.0, 0.0) > quality_score(20.0, 0.0, 0.0)
    assert quality_score(80.0, 0.3, 0.0) < quality_score(80.0, 0.0, 0.0)
    assert quality_score(80.0, 0.0, 0.5) < quality_score(80.0, 0.0, 0.0)
    assert quality_score(math.nan, math.nan, math.nan) == 0.0
    varied = text_quality("A quick brown fox jumps over the lazy dog while seven wizards quietly hex judges.")
    repetitive = text_quality("the the the the the the the the the the the the the the the the")
    assert varied.score > repetitive.score


def test_group_stats_means_skip_nan() -> None:
    stats = GroupStats()
    stats.add("a", {"quality": 0.2, "mtld": math.nan})
    stats.add("a", {"quality": 0.4, "mtld": 10.0})
    stats.add("b", {"quality": 1.0})
    summary = stats.summary()
    assert summary["a"]["n"] == 2
    assert summary["a"]["mean_quality"] == pytest.approx(0.3)
    assert summary["a"]["mean_mtld"] == pytest.approx(10.0)
    assert summary["b"]["mean_mtld"] is None


# --- external sort -------------------------------------------------------------------------------


def test_float_key_orders_like_floats() -> None:
    values = [-math.inf, -2.5, -1e-300, -0.0, 0.0, 1e-300, 0.5, 0.5000001, 3.0, math.inf]
    keys = [float_key(v) for v in values]
    assert keys == sorted(keys)
    assert [float_key(v, descending=True) for v in values] == sorted(
        (float_key(v, descending=True) for v in values), reverse=True
    )


def test_external_sort_spills_and_merges(tmp_path: Path) -> None:
    rng = random.Random(0)
    lines = [float_key(rng.uniform(-1, 1)) + uint_key(i) + b"\n" for i in range(5000)]
    with ExternalSorter(tmp_path, run_bytes=4096) as sorter:
        sorter.extend(lines)
        assert len(list((tmp_path).glob("sort-*/run-*"))) > 10  # it really spilled
        assert list(sorter.sorted()) == sorted(lines)
    assert not list(tmp_path.glob("sort-*"))  # runs are cleaned up


def test_ordered_runs_merge_with_buffered_lines_and_refuse_disorder(tmp_path: Path) -> None:
    rng = random.Random(1)
    lines = [uint_key(rng.randrange(10**6)) + b"\n" for _ in range(3000)]
    evens, odds = sorted(lines[:1000]), sorted(lines[1000:2000])
    with ExternalSorter(tmp_path, run_bytes=1 << 20) as sorter:
        with sorter.ordered_run() as run:
            for line in evens:
                run.add(line)
        with sorter.ordered_run() as run:
            for line in odds:
                run.add(line)
        sorter.extend(lines[2000:])  # buffered, then spilled as one more run by sorted()
        assert sorter.n_lines == 3000
        assert list(sorter.sorted()) == sorted(lines)
    with ExternalSorter(tmp_path) as sorter, sorter.ordered_run() as run:
        run.add(uint_key(2) + b"\n")
        with pytest.raises(ValueError, match="comes after"):
            run.add(uint_key(1) + b"\n")


# --- dedup ---------------------------------------------------------------------------------------


def test_dedup_keys_find_exact_and_near_duplicates(small_corpus: list[CorpusRecord]) -> None:
    texts = [r.text for r in small_corpus if len(r.text.split()) > 150][:20]
    near = Deduplicator(mode="near", threshold=0.8)
    exact = Deduplicator(mode="exact")
    base = texts[0]
    words = base.split()
    edited = " ".join([*words[:70], "zebra", *words[71:]])  # one word of 150+ changed
    assert set(exact.keys(base)) & set(exact.keys("  " + base.upper() + " "))
    assert not set(exact.keys(base)) & set(exact.keys(edited))
    assert set(near.keys(base)) & set(near.keys(edited))
    collisions = sum(
        bool(set(near.keys(a)) & set(near.keys(b))) for a in texts[1:] for b in texts[1:] if a < b
    )
    assert collisions == 0
    assert Deduplicator().keys(base) == []


# --- the pipeline --------------------------------------------------------------------------------


def _input_lines(small_corpus: list[CorpusRecord]) -> list[bytes]:
    lines = [r.model_dump_json().encode() + b"\n" for r in small_corpus[:N_TEXTS]]
    words = small_corpus[3].text.split()
    near = dict(json.loads(lines[3]), id="near-dup", text=" ".join([*words[:-1], "zebra"]))
    lines[10:10] = BAD_LINES
    lines.insert(50, lines[3])  # an exact duplicate of line 4
    lines.insert(120, json.dumps(near).encode() + b"\n")
    return lines


@pytest.fixture(scope="module")
def corpus_input(small_corpus: list[CorpusRecord], tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("curriculum") / "input.jsonl"
    path.write_bytes(b"".join(_input_lines(small_corpus)))
    return path


@pytest.fixture(scope="module")
def detector(bundle: Path) -> Detector:
    return Detector(bundle, device="cpu")


def _read(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_bytes().splitlines()]


def _accounted(input_path: Path, out: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Output and errors; asserts every input line is in exactly one of them."""
    rows, errors = _read(out), _read(out.with_name(out.name + ".errors.jsonl"))
    n_lines = len(input_path.read_bytes().splitlines())
    input_ids: Counter[str] = Counter()
    for line in input_path.read_bytes().splitlines():
        with contextlib.suppress(ValueError, TypeError, KeyError):  # malformed lines carry no id
            input_ids[json.loads(line)["id"]] += 1
    assert not Counter(r["id"] for r in rows) - input_ids  # no row invented or written twice
    error_lines = [e["line"] for e in errors]
    assert error_lines == sorted(set(error_lines))
    assert len(rows) + len(errors) == n_lines
    return rows, errors


@pytest.mark.parametrize("strategy", ["human-likeness", "quality", "mixed-generators", "combined"])
def test_strategies_order_and_account(
    strategy: str, detector: Detector, corpus_input: Path, tmp_path: Path
) -> None:
    options = CurriculumOptions(strategy=strategy, chunk_lines=97)  # type: ignore[arg-type]
    out = tmp_path / "out.jsonl"
    summary = build_curriculum(detector, corpus_input, out, options, progress=False)
    rows, errors = _accounted(corpus_input, out)
    assert {e["step"] for e in errors} == {"parse"} and len(errors) == len(BAD_LINES)
    assert [r["curriculum_position"] for r in rows] == list(range(1, len(rows) + 1))
    h = [r["human_likeness"] for r in rows]
    q = [r["quality"]["score"] for r in rows]
    if strategy == "human-likeness":
        assert h == sorted(h, reverse=True)
    elif strategy == "quality":
        assert q == sorted(q, reverse=True)
    else:
        counts = Counter(r["generator"] for r in rows)
        n_gen, smallest = len(counts), min(counts.values())
        # Round-robin: while every generator has rows left, each round of n_gen rows holds them all.
        for start in range(0, n_gen * smallest, n_gen):
            assert len({r["generator"] for r in rows[start : start + n_gen]}) == n_gen
        for g in counts:
            own = [r for r in rows if r["generator"] == g]
            key = [
                r["human_likeness"]
                if strategy == "mixed-generators"
                else math.sqrt(r["human_likeness"] * r["quality"]["score"])
                for r in own
            ]
            assert key == sorted(key, reverse=True)
    stages = Counter(r["stage"] for r in rows)
    assert sorted(stages) == [0, 1, 2, 3] and max(stages.values()) - min(stages.values()) <= 1
    manifest = json.loads(Path(summary.manifest).read_text())
    assert manifest["strategy"] == strategy
    assert manifest["counts"]["lines"] == len(rows) + len(errors)
    assert [s["n"] for s in manifest["stages"]] == [stages[i] for i in range(4)]
    assert sum(g["n"] for g in manifest["corpus"]["by_generator"].values()) == len(rows)
    assert set(manifest["corpus"]["by_label"]) == {"human", "llm"}
    assert not Path(str(out) + ".work").exists()


def test_filters_caps_dedup_and_top_fraction(detector: Detector, corpus_input: Path, tmp_path: Path) -> None:
    options = CurriculumOptions(
        strategy="human-likeness",
        scoring=ScoringOptions(dedup=Deduplicator(mode="near")),
        min_quality=0.3,
        max_per_generator=40,
        top_fraction=0.5,
        chunk_lines=128,
        run_bytes=50_000,  # several runs per sort even on 400 rows
    )
    out = tmp_path / "out.jsonl"
    build_curriculum(detector, corpus_input, out, options, progress=False)
    rows, errors = _accounted(corpus_input, out)
    reasons = {e["line"]: e["reason"] for e in errors}
    assert reasons[51] == "exact duplicate of line 4" or reasons[51] == "near duplicate of line 4"
    assert reasons[121] == "near duplicate of line 4"
    steps = Counter(e["step"] for e in errors)
    assert steps["parse"] == len(BAD_LINES) and steps["dedup"] >= 2 and steps["cap"] > 0 and steps["top"] > 0
    assert all(r["quality"]["score"] >= 0.3 for r in rows)
    assert max(Counter(r["generator"] for r in rows).values()) <= 40
    kept = len(rows) + steps["top"]
    assert len(rows) == math.ceil(0.5 * kept)


def test_parquet_in_and_out(detector: Detector, corpus_input: Path, tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    good = [
        json.loads(line) for line in corpus_input.read_bytes().splitlines()[:60] if line.startswith(b'{"id"')
    ]
    parquet_in = tmp_path / "in.parquet"
    pq.write_table(pa.Table.from_pylist(good), parquet_in)
    options = CurriculumOptions(strategy="quality", chunk_lines=25)
    build_curriculum(detector, parquet_in, tmp_path / "a.jsonl", options, progress=False)
    build_curriculum(detector, parquet_in, tmp_path / "a.parquet", options, progress=False)
    from_jsonl = _read(tmp_path / "a.jsonl")
    table = pq.read_table(tmp_path / "a.parquet").to_pylist()
    assert len(table) == len(from_jsonl) == len(good)
    assert [r["id"] for r in table] == [r["id"] for r in from_jsonl]
    assert [r["quality"]["score"] for r in table] == [r["quality"]["score"] for r in from_jsonl]


def test_a_checkpoint_of_another_job_is_refused(
    detector: Detector, corpus_input: Path, tmp_path: Path
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    (work / "state.json").write_text(json.dumps({"fingerprint": "another job", "chunks": 3}))
    with pytest.raises(JobMismatchError, match="another job"):
        build_curriculum(detector, corpus_input, tmp_path / "out.jsonl", work_dir=work, progress=False)


def _curriculum_cmd(bundle: Path, input_path: Path, out: Path) -> list[str]:
    return [
        sys.executable, "-m", "humanlike", "curriculum", str(bundle), str(input_path), "--out", str(out),
        "--strategy", "combined", "--dedup", "near", "--chunk-lines", "40", "--device", "cpu",
        "--no-progress",
    ]  # fmt: skip


def test_resume_after_kill_9_is_byte_identical(bundle: Path, corpus_input: Path, tmp_path: Path) -> None:
    whole = tmp_path / "whole.jsonl"
    done = subprocess.run(_curriculum_cmd(bundle, corpus_input, whole), capture_output=True, timeout=600)
    assert done.returncode == 0, done.stderr.decode()

    resumed = tmp_path / "resumed.jsonl"
    state = Path(str(resumed) + ".work") / "state.json"
    proc = subprocess.Popen(_curriculum_cmd(bundle, corpus_input, resumed), stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            chunks = json.loads(state.read_text())["chunks"]
        except (FileNotFoundError, json.JSONDecodeError, KeyError):
            chunks = 0
        if chunks >= 3:
            break
        time.sleep(0.02)
    tree = descendants(proc.pid)  # the forkserver and its scoring workers, each with the model loaded
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the job finished before it could be killed"
    assert len(tree) >= 3 and not still_alive(tree, within_s=30)  # none lives on as an orphan
    assert not resumed.exists()  # nothing half-written
    chunks_at_kill = json.loads(state.read_text())["chunks"]
    assert 3 <= chunks_at_kill < 11  # 410 lines / 40 per chunk: it stopped partway

    again = subprocess.run(_curriculum_cmd(bundle, corpus_input, resumed), capture_output=True, timeout=600)
    assert again.returncode == 0, again.stderr.decode()
    summary = json.loads(again.stderr.decode().strip().splitlines()[-1])
    assert summary["resumed_chunks"] == chunks_at_kill
    assert summary["score_s"] > 0 and summary["order_s"] > 0  # this run scored the rest, then ordered
    assert resumed.read_bytes() == whole.read_bytes()
    errors = Path(str(resumed) + ".errors.jsonl").read_bytes()
    assert errors == Path(str(whole) + ".errors.jsonl").read_bytes()
    assert not state.parent.exists()


def test_jsonl_blocks_cover_every_line_once(corpus_input: Path, tmp_path: Path) -> None:
    """However the file is cut into byte blocks, the blocks' lines are the file's lines, in order."""
    from humanlike.curriculum.ray_engine import END, LINE, read_jsonl_block

    # Blocks of 1 and 97 bytes on the input's first 30 lines (its broken lines among them): a block
    # that starts mid-line reads to the line's end, so byte blocks over the whole file cost its lines'
    # squared lengths and test nothing more.
    head = tmp_path / "head.jsonl"
    head.write_bytes(b"".join(corpus_input.read_bytes().splitlines(keepends=True)[:30]))
    for path, block_sizes in ((head, (1, 97)), (corpus_input, (1000, corpus_input.stat().st_size))):
        data = path.read_bytes()
        lines = data.splitlines(keepends=True)
        resume = len(b"".join(lines[:7]))  # a resumed job starts at a line boundary
        for first in (0, resume):
            for block_bytes in block_sizes:
                read = [
                    row
                    for a in range(first, len(data), block_bytes)
                    for row in read_jsonl_block(
                        {
                            "path": str(path),
                            "first": first,
                            "start": a,
                            "end": min(a + block_bytes, len(data)),
                        }
                    )
                ]
                assert [r[LINE] for r in read] == data[first:].splitlines(keepends=True), (path, block_bytes)
                assert read[-1][END] == len(data)


def test_chunk_spans_read_the_lines_read_chunks_reads(tmp_path: Path) -> None:
    """A worker reading its chunk's byte span gets the lines, first line and end the command's
    reader would have handed it: also for carriage returns, form feeds, broken UTF-8, a last line
    without a newline, and from a resumed offset."""
    from humanlike.curriculum.sources import chunk_spans, read_chunks, read_span

    path = tmp_path / "awkward.jsonl"
    lines = [b'{"text": "line %d"}\n' % i for i in range(23)]
    lines[3] = b'{"text": "a\rcarriage\x0bvertical\x0cfeed"}\n'
    lines[8] = b"\xff\xfe not utf-8\n"
    lines[-1] = b'{"text": "no newline at the end"}'
    path.write_bytes(b"".join(lines))
    resume = len(b"".join(lines[:7]))
    for start, start_line in ((0, 1), (resume, 8)):
        for chunk_lines in (1, 5, 23, 100):
            chunks = list(read_chunks(path, chunk_lines, start, start_line))
            spans = list(chunk_spans(path, chunk_lines, start, start_line))
            assert [read_span(path, s) for s in spans] == [c.rows for c in chunks]
            assert [(s.first_line, s.end) for s in spans] == [(c.first_line, c.end) for c in chunks]
            assert spans[0].start == start and spans[-1].end == path.stat().st_size


def test_a_shared_featurizer_serves_only_the_same_features_json(
    bundle: Path, corpus: list[CorpusRecord], monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the workers' forkserver builds ahead is what a Detector would build, and a Detector takes
    it only for the very bytes it was built from."""
    import numpy as np

    from humanlike.detector import features

    monkeypatch.setattr(features, "_SHARED", {})
    data = (bundle / "features.json").read_bytes()
    fresh = features.load_featurizer(data)
    features.share_featurizer(data)
    shared = features.load_featurizer(data)
    assert shared is features.load_featurizer(data) and shared is not fresh
    assert features.load_featurizer(data + b" ") is not shared  # the same spec, other bytes
    texts = [r.text for r in corpus[:50]]
    for name, array in fresh.encode(texts).as_feed().items():
        np.testing.assert_array_equal(shared.encode(texts).as_feed()[name], array)
    assert Detector(bundle, device="cpu")._inputs._featurizer is shared  # type: ignore[attr-defined]


@pytest.mark.slow  # starts a local Ray cluster
def test_ray_engine_matches_the_local_engine(
    bundle: Path, corpus_input: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Parquet and JSONL (bad lines included, cut into many small blocks) give the local engine's output."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    import ray

    from humanlike.curriculum import ray_engine
    from humanlike.curriculum.ray_engine import ray_chunk_scorer

    rows = [
        json.loads(line) for line in corpus_input.read_bytes().splitlines()[:150] if line.startswith(b'{"id"')
    ]
    rows[5]["text"] = ""  # unscorable rows must be accounted for by both engines
    rows[9]["text"] = None
    parquet_in = tmp_path / "in.parquet"
    pq.write_table(pa.Table.from_pylist(rows), parquet_in, row_group_size=37)
    monkeypatch.setattr(ray_engine, "BLOCK_BYTES", 4096)  # many blocks, lines across their edges
    options = CurriculumOptions(
        strategy="mixed-generators", scoring=ScoringOptions(dedup=Deduplicator(mode="near")), chunk_lines=50
    )
    detector = Detector(bundle, device="cpu")
    # Three logical CPUs: two scoring actors and one for the read tasks (on 2 real cores).
    ray.init(num_cpus=3, include_dashboard=False, log_to_driver=False)
    try:
        for source in (parquet_in, corpus_input):
            local = build_curriculum(detector, source, tmp_path / "local.jsonl", options, progress=False)
            on_ray = build_curriculum(
                detector,
                source,
                tmp_path / "ray.jsonl",
                options,
                score_chunks=ray_chunk_scorer(bundle, options.scoring, batch_rows=16),
                engine="ray",
                progress=False,
            )
            assert on_ray.n_output == local.n_output and on_ray.n_lines == local.n_lines
            assert (tmp_path / "ray.jsonl").read_bytes() == (tmp_path / "local.jsonl").read_bytes()
            assert Path(on_ray.errors).read_bytes() == Path(local.errors).read_bytes()
            errors = _read(Path(local.errors))
            assert any(e["step"] == "dedup" for e in errors)  # the inserted duplicates, on both engines
            if source == parquet_in:
                assert local.n_lines == len(rows)
                assert [e["line"] for e in errors if e["step"] == "parse"] == [6, 10]
            else:
                assert {e["step"] for e in errors} >= {"parse"}
                assert len([e for e in errors if e["step"] == "parse"]) == len(BAD_LINES)
    finally:
        ray.shutdown()


def test_scoring_processes_match_the_local_engine(bundle: Path, corpus_input: Path, tmp_path: Path) -> None:
    """Chunks scored in two worker processes at once come back in input order: the same bytes."""
    options = CurriculumOptions(
        strategy="combined", scoring=ScoringOptions(dedup=Deduplicator(mode="near")), chunk_lines=40
    )
    # one graph thread, as in each worker: a sum's order, and so its last bit, follows the threads
    detector = Detector(bundle, device="cpu", threads=1)
    local = build_curriculum(detector, corpus_input, tmp_path / "local.jsonl", options, progress=False)
    workers = build_curriculum(
        bundle,  # a path: this process only orders, so it loads no model of its own
        corpus_input,
        tmp_path / "workers.jsonl",
        options,
        score_chunks=process_chunk_scorer(bundle, options.scoring, workers=2),
        progress=False,
    )
    assert local.n_lines > 3 * options.chunk_lines  # several chunks, in flight together
    assert workers.n_output == local.n_output and workers.n_lines == local.n_lines
    assert (tmp_path / "workers.jsonl").read_bytes() == (tmp_path / "local.jsonl").read_bytes()
    assert Path(workers.errors).read_bytes() == Path(local.errors).read_bytes()
    assert len([e for e in _read(Path(local.errors)) if e["step"] == "parse"]) == len(BAD_LINES)
    recorded = [json.loads(Path(s.manifest).read_text())["bundle"] for s in (local, workers)]
    assert recorded[0] == recorded[1] and recorded[0]["kind"] == "ngram-linear"


def test_a_kept_work_dir_serves_another_strategy(
    detector: Detector, corpus_input: Path, tmp_path: Path
) -> None:
    work = tmp_path / "scores"
    first = build_curriculum(
        detector, corpus_input, tmp_path / "a.jsonl", CurriculumOptions(chunk_lines=150), work_dir=work,
        keep_work=True, progress=False,
    )  # fmt: skip
    assert first.resumed_chunks == 0 and (work / "state.json").exists()
    quality = CurriculumOptions(strategy="quality", chunk_lines=150, top_fraction=0.5)
    reused = build_curriculum(
        detector, corpus_input, tmp_path / "b.jsonl", quality, work_dir=work, progress=False
    )
    assert reused.resumed_chunks == 3  # 410 lines: nothing scored again
    fresh = build_curriculum(detector, corpus_input, tmp_path / "c.jsonl", quality, progress=False)
    assert (tmp_path / "b.jsonl").read_bytes() == (tmp_path / "c.jsonl").read_bytes()
    assert fresh.resumed_chunks == 0 and not work.exists()


def test_progress_off_a_terminal_is_structured_log_lines(caplog: pytest.LogCaptureFixture) -> None:
    from humanlike.curriculum.progress import Progress

    caplog.set_level("INFO", logger="humanlike.curriculum")
    progress = Progress("score", total=100, unit="B", log_every_s=0.0)  # pytest's stderr is no TTY
    progress.update(40)
    progress.update(60)
    progress.close()
    events = [json.loads(r.getMessage()) for r in caplog.records]
    assert [e["done"] for e in events] == [40, 100, 100]
    assert all(e["phase"] == "score" and e["total"] == 100 and e["rate"] > 0 for e in events)
    assert events[0]["eta_s"] is not None and events[-1]["eta_s"] == 0.0
