"""``humanlike corpus``: what a corpus holds, and grouped samples of it."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from humanlike.cli.common import EXIT_OK, add_mapping_args, load_records


def configure(name: str, parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="corpus_command", required=True, metavar="SUBCOMMAND")
    stats = sub.add_parser("stats", help="counts by label x data_type / source / generator, lengths")
    stats.add_argument("paths", nargs="*", metavar="PATH", help="default: the corpus location")
    stats.add_argument("--json", action="store_true", help="print JSON instead of tables")
    add_mapping_args(stats)
    sample = sub.add_parser("sample", help="write a grouped, stratified sample of a corpus as JSONL")
    sample.add_argument("paths", nargs="*", metavar="PATH", help="default: the corpus location")
    sample.add_argument("--n", type=int, required=True, help="about how many records")
    sample.add_argument("--seed", type=int, default=0)
    sample.add_argument("--out", type=Path, required=True)
    add_mapping_args(sample)
    parser.set_defaults(handler=cmd_corpus)


def cmd_corpus(args: argparse.Namespace) -> int:
    from humanlike.detector.atomic import atomic_writer
    from humanlike.training.data.corpus import corpus_stats, sample

    records = load_records(args, args.paths)
    if args.corpus_command == "sample":
        picked = sample(records, args.n, args.seed)
        with atomic_writer(args.out) as f:
            for r in picked:
                f.write(json.dumps(r.model_dump(), ensure_ascii=False).encode("utf-8") + b"\n")
        print(f"wrote {len(picked)} records to {args.out}", file=sys.stderr)
        return EXIT_OK
    stats = corpus_stats(records)
    if args.json:
        print(json.dumps(stats, indent=2))
        return EXIT_OK
    print(f"{stats['n_records']} records: {stats['label']}")
    for key in ("data_type", "source", "generator"):
        print(f"\n{key:<28} {'human':>7} {'llm':>7}")
        for name, c in stats[key].items():
            print(f"{name:<28} {c['human']:>7} {c['llm']:>7}")
    print("\nlength (chars): " + ", ".join(f"{k} {v:g}" for k, v in stats["length_chars"].items()))
    return EXIT_OK
