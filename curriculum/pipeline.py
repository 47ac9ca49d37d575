"""Build a curriculum: score a corpus, filter it, order it by a strategy, write it with a manifest.

Two phases, both streaming, each in its own module:

1. **Score** (the slow part, checkpointed in a work directory, :mod:`humanlike.curriculum.checkpoint`):
   the input is cut into chunks of ``chunk_lines`` rows and each chunk is scored by an engine
   (:mod:`humanlike.curriculum.engines`, :mod:`humanlike.curriculum.ray_engine`). Killed at any point
   (``kill -9`` included), the same command resumes after the last recorded chunk.
2. **Order** (disk-bound, redone in full on resume, :mod:`humanlike.curriculum.ordering`): dedup,
   filters, caps, the strategy's order (:mod:`humanlike.curriculum.options`), stages.

Every input line ends up in exactly one of the output and the errors file. The output, errors file
and manifest (:mod:`humanlike.curriculum.manifest`) appear only when the job completes (written beside
their targets, then renamed), and the work directory is deleted then.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from humanlike.curriculum.checkpoint import WorkDir, bundle_id, job_fingerprint
from humanlike.curriculum.engines import ScoreChunks, local_chunk_scorer
from humanlike.curriculum.manifest import curriculum_manifest
from humanlike.curriculum.options import CurriculumOptions
from humanlike.curriculum.ordering import Ordering
from humanlike.curriculum.progress import Progress
from humanlike.curriculum.sources import input_size, is_parquet, jsonl_to_parquet
from humanlike.detector.atomic import atomic_writer, write_bytes_atomic
from humanlike.detector.bundle import VerifiedBundle
from humanlike.detector.runtime import Detector


@dataclass(frozen=True)
class CurriculumSummary:
    n_lines: int
    n_output: int
    n_rejected: int
    output: str
    errors: str
    manifest: str
    resumed_chunks: int
    # Wall seconds of this invocation's two phases (scoring is 0 when every chunk was already
    # scored). Here, not in the manifest, which a resumed run writes byte for byte the same.
    score_s: float
    order_s: float


def build_curriculum(
    bundle: Detector | VerifiedBundle | str | os.PathLike[str],
    input_path: str | Path,
    output_path: str | Path,
    options: CurriculumOptions | None = None,
    *,
    errors_path: str | Path | None = None,
    work_dir: str | Path | None = None,
    score_chunks: ScoreChunks | None = None,
    engine: str = "local",
    keep_work: bool = False,
    progress: bool = True,
) -> CurriculumSummary:
    """Scores, filters and orders ``input_path`` (JSONL or Parquet) into ``output_path``.

    Writes the curriculum (JSONL, or Parquet when the name ends in ``.parquet``), its errors file
    (default ``OUTPUT.errors.jsonl``) and its manifest (``OUTPUT.manifest.json``). Each output row is
    the input object with ``human_likeness``, ``p_llm``, ``quality`` (the metrics), and
    ``curriculum_position`` (1 = first) and ``stage`` (0 = first) added.

    Args:
        bundle: the bundle whose human-likeness orders the rows: a loaded :class:`Detector`, or,
            when ``score_chunks`` scores elsewhere (worker processes, Ray), the bundle as
            :class:`VerifiedBundle` or its directory (verified here), so that this process does not
            hold a copy of the model it never runs.
        work_dir: the checkpoint directory (default ``OUTPUT.work``); a run that finds one of the same
            job there resumes from it.
        score_chunks: how chunks are scored (default: in this process; see
            :func:`humanlike.curriculum.ray_engine.ray_chunk_scorer`).
        engine: recorded in the manifest.
        keep_work: keep the scored chunks after success, so that another strategy or other filters
            (same ``work_dir``, same input, bundle and scoring options) skip the scoring.
    """
    options = options or CurriculumOptions()
    detector = bundle if isinstance(bundle, Detector) else None
    if isinstance(bundle, Detector):
        verified = VerifiedBundle(bundle.path, bundle.manifest)
    elif isinstance(bundle, VerifiedBundle):
        verified = bundle
    else:
        verified = VerifiedBundle.read(bundle)  # verified, as a Detector would be
    checksums = bundle_id(verified.path)
    input_path, output_path = Path(input_path), Path(output_path)
    errors_path = (
        Path(errors_path) if errors_path else output_path.with_name(output_path.name + ".errors.jsonl")
    )
    manifest_path = output_path.with_name(output_path.name + ".manifest.json")
    work = WorkDir(
        Path(work_dir) if work_dir else output_path.with_name(output_path.name + ".work"),
        job_fingerprint(input_path, checksums, options),
    )
    state = work.load()
    resumed_chunks = state["chunks"]
    started = time.perf_counter()
    if not state["complete"]:
        score = score_chunks or local_chunk_scorer(detector or Detector(verified.path), options.scoring)
        total, unit = input_size(input_path)
        bar = Progress("score", total, unit, enabled=progress, initial=state["next"])
        first_chunk = state["chunks"]

        def files(k: int) -> tuple[Path, Path]:
            return work.rows(first_chunk + k), work.rejects(first_chunk + k)

        # A chunk's files may be written before the chunks ahead of it are recorded (workers run
        # ahead): a chunk is done only once state.json records it, and a resumed job writes again
        # whatever it does not record, with the same bytes.
        for chunk in score(input_path, options.chunk_lines, state["next"], state["next_line"], files):
            state.update(
                chunks=state["chunks"] + 1, next=chunk.end, next_line=chunk.first_line + chunk.n_lines
            )
            work.save(state)
            bar.update(chunk.end - bar.done)
        bar.close()
        state["complete"] = True
        work.save(state)

    n_chunks = state["chunks"]
    scored = time.perf_counter()
    ordering = Ordering(options, work.root)
    with ordering:
        ordering.run(
            [work.rows(i) for i in range(n_chunks)],
            [work.rejects(i) for i in range(n_chunks)],
        )
        jsonl_out = output_path if not is_parquet(output_path) else work.root / "output.jsonl"
        # The errors file is finished after the output: rows cut by the top fraction are found while
        # writing it. Both are renamed into place only when complete.
        with atomic_writer(errors_path) as err_out:
            with atomic_writer(jsonl_out) as out:
                bar = Progress("write", ordering.n_output, "row", enabled=progress)
                for line in ordering.ordered_output():
                    out.write(line)
                    bar.update(1)
                bar.close()
            err_out.writelines(ordering.sorted_rejects())
        if jsonl_out != output_path:
            jsonl_to_parquet(jsonl_out, output_path)
            jsonl_out.unlink()

    n_lines = state["next_line"] - 1
    n_rejected = sum(ordering.reject_counts.values())
    if n_lines != ordering.n_output + n_rejected:  # the accounting invariant; a bug if it breaks
        raise RuntimeError(f"{n_lines} input lines but {ordering.n_output} output + {n_rejected} rejected")
    manifest = curriculum_manifest(
        options,
        engine=engine,
        input_path=input_path,
        bundle_root=verified.path,
        bundle_manifest=verified.manifest,
        bundle_checksums=checksums,
        n_lines=n_lines,
        ordering=ordering,
    )
    write_bytes_atomic(manifest_path, json.dumps(manifest, indent=2).encode() + b"\n")
    if not keep_work:
        shutil.rmtree(work.root, ignore_errors=True)
    return CurriculumSummary(
        n_lines=n_lines,
        n_output=ordering.n_output,
        n_rejected=n_rejected,
        output=str(output_path),
        errors=str(errors_path),
        manifest=str(manifest_path),
        resumed_chunks=resumed_chunks,
        score_s=round(scored - started, 3),
        order_s=round(time.perf_counter() - scored, 3),
    )
