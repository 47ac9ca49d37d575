"""What every command group shares: exit codes, the one-line error, corpus and field-mapping options."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


class CliError(Exception):
    """A failure to report in one line, without a traceback."""

    exit_code = EXIT_FAILURE


class UsageError(CliError):
    """Arguments that name nothing the command can act on: reported like argparse's errors (exit 2)."""

    exit_code = EXIT_USAGE


def add_mapping_args(p: argparse.ArgumentParser) -> None:
    g = p.add_mutually_exclusive_group()
    g.add_argument("--preset", help="a known column layout for a foreign dataset (e.g. hc3)")
    g.add_argument("--mapping", type=Path, help="JSON file with a FieldMapping for a foreign dataset")


def add_corpus_arg(p: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    p.add_argument(
        "--corpus",
        nargs="+",
        metavar="PATH",
        help="corpus files, directories or hf://NAME datasets (default: $HUMANLIKE_DATA or ../shared/corpus)",
    )


def add_progress_arg(p: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def field_mapping(args: argparse.Namespace) -> Any:
    """The ``FieldMapping`` that ``--preset`` or ``--mapping`` names, or None."""
    from humanlike.training.data.readers import PRESETS, FieldMapping

    if getattr(args, "preset", None):
        if args.preset not in PRESETS:
            raise CliError(f"unknown preset {args.preset!r} (known: {', '.join(sorted(PRESETS))})")
        return PRESETS[args.preset]
    if getattr(args, "mapping", None):
        return FieldMapping.model_validate_json(args.mapping.read_text(encoding="utf-8"))
    return None


def corpus_paths(paths: Sequence[str] | None) -> list[str]:
    from humanlike.training.data.corpus import resolve_corpus_paths

    return resolve_corpus_paths(paths)


def load_records(args: argparse.Namespace, paths: Sequence[str] | None) -> Any:
    from humanlike.training.data.readers import load_corpus

    records, report = load_corpus(corpus_paths(paths), field_mapping(args))
    print(report.summary(), file=sys.stderr)
    return records
