"""The ``humanlike`` command line: batch work over the detector runtime and the training package.

One module per command group; a command's module is imported only when that command runs, so that
``score``, ``rank`` and ``info`` load the runtime alone (the base install has no scikit-learn or torch)
and start fast. Options whose defaults belong to a configuration class are built from it
(:mod:`humanlike.cli.options`).

Exit codes: 0 success; 1 failure, or some inputs could not be scored (each is reported);
2 usage error. Every command takes ``--help``.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from humanlike.cli.common import EXIT_FAILURE, EXIT_USAGE, CliError

COMMANDS: dict[str, tuple[str, str]] = {
    # name: (module under humanlike.cli, one line of help)
    "corpus": ("corpus", "inspect and slice corpora"),
    "train": (
        "training",
        "train a detector: the n-gram model or the hybrid (writes a bundle), or the transformer "
        "(writes a checkpoint for `humanlike export`)",
    ),
    "zero-shot-bundle": (
        "training",
        "build a zero-shot bundle from the packaged LM alone (Fast-DetectGPT criterion)",
    ),
    "export": ("training", "export a transformer checkpoint as calibrated fp32 and int8 ONNX bundles"),
    "eval": (
        "evaluation",
        "evaluate a bundle (or two, --compare): metrics with intervals, slices, robustness, HTML report",
    ),
    "crossval": ("evaluation", "leave-one-generator-out / leave-one-source-out evaluation"),
    "generalization": (
        "evaluation",
        "the generalization protocol: detector recipes on left-out sources and the newest generators",
    ),
    "downstream": (
        "downstream",
        "train small proxy models on curriculum arms and measure them on human text (does the order help?)",
    ),
    "score": ("scoring", "score texts; JSONL out, one line per input, in order"),
    "rank": ("scoring", "rank a JSONL corpus, most human-like first"),
    "estimate": (
        "estimate",
        "estimate the share of LLM-written texts in a corpus, with a confidence interval, per slice",
    ),
    "curriculum": ("curriculum", "order a corpus into a training curriculum (streaming, resumable)"),
    "serve": ("serve", "serve a bundle over HTTP and gRPC (one process, one batching core)"),
    "info": ("scoring", "verify a bundle and print what it is, as JSON"),
}


def build_parser(argv: Sequence[str] = ()) -> argparse.ArgumentParser:
    """The parser; only the command named in ``argv`` (if any) gets its options, and its module loaded."""
    wanted = next((a for a in argv if not a.startswith("-")), None)
    parser = argparse.ArgumentParser(
        prog="humanlike", description="Tell human-written text from LLM-generated text, and rank by it."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        command = sub.add_parser(name, help=help_text, description=help_text)
        if name == wanted:
            importlib.import_module(f"humanlike.cli.{module}").configure(name, command)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(argv).parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    from humanlike.detector import BundleError, InvalidTextError
    from humanlike.detector.atomic import OutputPathError

    try:
        return int(args.handler(args))
    except CliError as e:
        print(f"humanlike: error: {e}", file=sys.stderr)
        return e.exit_code
    except OutputPathError as e:  # a path the user chose: said before any work, as argparse would
        print(f"humanlike: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except (BundleError, InvalidTextError, FileNotFoundError, ValueError, RuntimeError) as e:
        print(f"humanlike: error: {e}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        print("humanlike: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
