"""``humanlike curriculum``: a corpus ordered into a training curriculum, streaming and resumable.

Flags come from :class:`~humanlike.curriculum.options.CurriculumOptions`,
:class:`~humanlike.curriculum.scoring.ScoringOptions` and :class:`~humanlike.curriculum.dedup.Deduplicator`,
where their defaults live.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from humanlike.cli.common import EXIT_FAILURE, EXIT_OK, add_progress_arg
from humanlike.cli.options import add_config_flags, config_from_flags
from humanlike.curriculum.dedup import Deduplicator
from humanlike.curriculum.extsort import DEFAULT_RUN_BYTES
from humanlike.curriculum.options import CurriculumOptions
from humanlike.curriculum.scoring import ScoringOptions
from humanlike.detector.devices import DEVICES

CURRICULUM_FLAGS = (
    "strategy",
    "stages",
    "top_fraction",
    "min_human_likeness",
    "min_quality",
    "max_per_generator",
    "chunk_lines",
)
SCORING_FLAGS = ("text_field", "generator_field", "label_field", "lexicon_lang", "batch_size")
DEDUP_FLAGS = ("mode", "threshold")


def configure(name: str, parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Scores every row (human-likeness and quality metrics), filters, orders by a "
        "strategy and writes OUT, OUT.errors.jsonl (every row not in OUT, with its reason) and "
        "OUT.manifest.json. Killed, the same command resumes from OUT.work."
    )
    parser.add_argument("bundle", type=Path)
    parser.add_argument("input", type=Path, help="JSONL (one object per line) or Parquet (.parquet)")
    parser.add_argument("--out", type=Path, required=True, help="curriculum to write (.jsonl or .parquet)")
    parser.add_argument("--errors", type=Path, help="rows left out, with reasons (default OUT.errors.jsonl)")
    order = parser.add_argument_group("order and filters")
    add_config_flags(order, CurriculumOptions, CURRICULUM_FLAGS[:-1])
    add_config_flags(
        order,
        Deduplicator,
        DEDUP_FLAGS,
        flags={"mode": "--dedup", "threshold": "--near-threshold"},
        dest_prefix="dedup_",
    )
    fields = parser.add_argument_group("fields")
    add_config_flags(fields, ScoringOptions, SCORING_FLAGS[:-1], flags={"lexicon_lang": "--lexicon"})
    execution = parser.add_argument_group("execution")
    execution.add_argument("--engine", choices=["local", "ray"], default="local")
    execution.add_argument(
        "--ray-actors", type=int, help="scoring actors (--engine ray; default: the cluster's CPUs - 1)"
    )
    execution.add_argument(
        "--workers",
        type=int,
        help="scoring processes (--engine local), each with the bundle loaded and one graph thread; "
        "default: one per usable core for n-gram bundles (their Python featurizer is the cost), one "
        "process with every core for the graph otherwise",
    )
    add_config_flags(execution, CurriculumOptions, CURRICULUM_FLAGS[-1:])
    add_config_flags(execution, ScoringOptions, SCORING_FLAGS[-1:])
    execution.add_argument(
        "--sort-memory-mb",
        type=int,
        default=DEFAULT_RUN_BYTES >> 20,
        help=f"memory per external sort run (default: {DEFAULT_RUN_BYTES >> 20})",
    )
    execution.add_argument("--work-dir", type=Path, help="checkpoint directory (default OUT.work)")
    execution.add_argument(
        "--keep-work",
        action="store_true",
        help="keep the scored chunks: another strategy or filter with the same --work-dir skips scoring",
    )
    execution.add_argument("--device", choices=DEVICES, default="auto")
    add_progress_arg(execution)
    parser.set_defaults(handler=cmd_curriculum)


def cmd_curriculum(args: argparse.Namespace) -> int:
    from humanlike.curriculum.engines import process_chunk_scorer
    from humanlike.curriculum.pipeline import build_curriculum
    from humanlike.detector import Detector
    from humanlike.detector.bundle import VerifiedBundle
    from humanlike.detector.runtime import choose_providers, scoring_processes

    scoring = config_from_flags(
        ScoringOptions,
        args,
        SCORING_FLAGS,
        ScoringOptions(dedup=config_from_flags(Deduplicator, args, DEDUP_FLAGS, dest_prefix="dedup_")),
    )
    options = config_from_flags(
        CurriculumOptions,
        args,
        CURRICULUM_FLAGS,
        CurriculumOptions(scoring=scoring, run_bytes=args.sort_memory_mb << 20),
    )
    if not args.no_progress:
        # Off a terminal the progress is structured log lines (curriculum.progress).
        logging.getLogger("humanlike.curriculum").setLevel(logging.INFO)
    # Where chunks are scored in other processes (workers, Ray actors), this one only orders the
    # scored rows: it reads the bundle's manifest and never loads the model.
    # The bundle is verified once, here; the workers verify the copy each of them loads.
    verified = VerifiedBundle.read(args.bundle)
    bundle: Detector | VerifiedBundle = verified
    score_chunks = None
    if args.engine == "ray":
        from humanlike.curriculum.ray_engine import ray_chunk_scorer

        score_chunks = ray_chunk_scorer(args.bundle, options.scoring, actors=args.ray_actors)
    else:
        workers = args.workers or scoring_processes(verified.manifest, choose_providers(args.device)[0])
        if workers > 1:
            score_chunks = process_chunk_scorer(args.bundle, options.scoring, workers, device=args.device)
        else:
            bundle = Detector(verified, device=args.device)
    summary = build_curriculum(
        bundle,
        args.input,
        args.out,
        options,
        errors_path=args.errors,
        work_dir=args.work_dir,
        score_chunks=score_chunks,
        engine=args.engine,
        keep_work=args.keep_work,
        progress=not args.no_progress,
    )
    print(json.dumps(summary.__dict__), file=sys.stderr)
    return EXIT_OK if summary.n_output or not summary.n_lines else EXIT_FAILURE
