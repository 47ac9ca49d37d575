"""``humanlike downstream``: small proxy models trained on each curriculum arm, measured on human text.

The arms, pools and sizes are described in :mod:`humanlike.training.downstream`; docs/downstream.md
says how to read the report and run it on your own data.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from humanlike.cli.common import EXIT_OK, UsageError, add_corpus_arg, corpus_paths


def configure(name: str, parser: argparse.ArgumentParser) -> None:
    from humanlike.training.downstream import ARMS

    parser.description = (
        "Trains a small causal transformer from scratch on each arm (a selection of training texts at one "
        "token budget: human, LLM in random order, LLM ordered by each curriculum strategy, controls, the "
        "scarce-human mixes) and reports bits per byte on human texts of unseen sources and of the arms' "
        "own sources, with 95%% intervals over seeds. Writes OUT/report.json and OUT/report.html."
    )
    add_corpus_arg(parser)
    parser.add_argument("--out", type=Path, required=True, help="report directory to write")
    parser.add_argument(
        "--bundle",
        type=Path,
        help="the detector that orders the arms (default: an n-gram trained here on the sources outside "
        "the pool and evaluation sources, so that it never saw an evaluation text)",
    )
    parser.add_argument(
        "--size",
        choices=["smoke", "default", "gpu"],
        default="default",
        help="smoke: the plumbing only; default: sized for an hour on a small CPU; gpu: ten times the budget",
    )
    parser.add_argument("--arms", nargs="+", choices=ARMS, help="arms to run (default: the size's)")
    parser.add_argument("--seeds", nargs="+", type=int, help="seeds (default: the size's)")
    parser.add_argument("--token-budget", type=int, help="tokens every arm trains on (default: the size's)")
    parser.add_argument(
        "--eval-sources", nargs="+", help="sources whose human texts are the unseen evaluation"
    )
    parser.add_argument("--pool-sources", nargs="+", help="sources the arms' texts come from")
    parser.set_defaults(handler=cmd_downstream)


def cmd_downstream(args: argparse.Namespace) -> int:
    from humanlike.training.downstream import GPU, SMOKE, DownstreamConfig, run_downstream

    config = {"smoke": SMOKE, "default": DownstreamConfig(), "gpu": GPU}[args.size]
    changes = {
        "arms": tuple(args.arms) if args.arms else None,
        "seeds": tuple(args.seeds) if args.seeds else None,
        "token_budget": args.token_budget,
        "eval_sources": tuple(args.eval_sources) if args.eval_sources else None,
        "pool_sources": tuple(args.pool_sources) if args.pool_sources else None,
    }
    config = dataclasses.replace(config, **{k: v for k, v in changes.items() if v is not None})
    if args.bundle is not None and not args.bundle.is_dir():
        raise UsageError(f"bundle {args.bundle} is not a directory")
    report = run_downstream(
        corpus_paths(args.corpus),
        args.out,
        bundle=args.bundle,
        config=config,
        log=lambda s: print(s, file=sys.stderr),
    )
    print(json.dumps(report["comparison"]["bpb_unseen"], indent=2))
    print(f"report: {args.out / 'report.html'}", file=sys.stderr)
    return EXIT_OK
