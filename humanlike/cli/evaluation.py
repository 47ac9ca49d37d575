"""``humanlike eval`` and ``crossval``: how a bundle does, in distribution and on what it never saw.

The eval flags come from :class:`~humanlike.training.evaluation.evaluate.EvalOptions`, where their
defaults live.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from humanlike.cli.common import (
    EXIT_OK,
    CliError,
    UsageError,
    add_corpus_arg,
    add_mapping_args,
    add_progress_arg,
    corpus_paths,
    field_mapping,
)
from humanlike.cli.options import add_config_flags, config_from_flags
from humanlike.cli.training import add_transformer_args, transformer_config
from humanlike.training.evaluation.evaluate import EvalOptions

EVAL_FLAGS = ("split", "n_bootstrap", "robustness_per_class", "profile", "examples", "seed")
EVAL_FLAG_NAMES = {"n_bootstrap": "--bootstrap", "robustness_per_class": "--robustness-texts"}
PROTOCOL_FLAGS = ("max_train", "max_test", "seed")


def configure(name: str, parser: argparse.ArgumentParser) -> None:
    {"eval": _configure_eval, "crossval": _configure_crossval, "generalization": _configure_generalization}[
        name
    ](parser)


def _configure_generalization(parser: argparse.ArgumentParser) -> None:
    from humanlike.training.evaluation.generalization import CANDIDATES, DEFAULT_CANDIDATES

    parser.description = (
        "Leave-one-source-out over every source with both labels, and newest-generators-out, for each "
        "candidate recipe on the same folds and texts. Writes OUT (JSON) and OUT.scores.npz after every "
        "fit; run again to resume."
    )
    add_corpus_arg(parser)
    parser.add_argument("--out", type=Path, required=True, help="report to write (JSON)")
    parser.add_argument(
        "--candidate",
        nargs="+",
        choices=list(CANDIDATES),
        default=list(DEFAULT_CANDIDATES),
        help="recipes to compare (default: all but those that read text with a transformer, the slowest "
        "on a CPU; "
        "a stack is computed where its members' rows are in the report)",
    )
    parser.add_argument("--redo", nargs="+", default=[], metavar="CANDIDATE", help="fit these again")
    parser.add_argument(
        "--merge",
        nargs="+",
        type=Path,
        default=[],
        metavar="REPORT",
        help="take in the rows of reports of the same protocol run elsewhere (a GPU machine, say)",
    )
    parser.add_argument(
        "--only", nargs="+", metavar="FOLD", help="run only these folds (source=S, newest-generators, edits)"
    )
    from humanlike.training.config import ProtocolConfig

    add_config_flags(parser, ProtocolConfig, PROTOCOL_FLAGS)
    add_progress_arg(parser)
    parser.set_defaults(handler=cmd_generalization)


def cmd_generalization(args: argparse.Namespace) -> int:
    from humanlike.training.config import ProtocolConfig
    from humanlike.training.evaluation.generalization import format_folds, format_summary, run_protocol

    budget: ProtocolConfig = config_from_flags(ProtocolConfig, args, PROTOCOL_FLAGS)
    report = run_protocol(
        corpus_paths(args.corpus),
        args.out,
        candidates=args.candidate,
        budget=budget,
        only=args.only,
        redo=args.redo,
        merge=args.merge,
        progress=not args.no_progress,
        log=lambda line: print(line, file=sys.stderr),
    )
    print(format_summary(report))
    print()
    print(format_folds(report))
    return EXIT_OK


def _configure_eval(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("bundle", type=Path, nargs="?", help="the bundle (omit with --compare / --from-json)")
    parser.add_argument(
        "--compare", type=Path, nargs=2, metavar=("A", "B"), help="two bundles side by side on the same texts"
    )
    add_corpus_arg(parser)
    add_config_flags(parser, EvalOptions, EVAL_FLAGS, flags=EVAL_FLAG_NAMES)
    parser.add_argument(
        "--report", type=Path, metavar="DIR", help="write DIR/report.json and DIR/report.html"
    )
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the full report as JSON")
    parser.add_argument("--format", choices=["table", "json"], default="table", help="what to print")
    parser.add_argument("--perturbations", nargs="+", metavar="NAME", help="a subset (default: all)")
    parser.add_argument(
        "--crossval",
        type=Path,
        metavar="FILE",
        help="a `humanlike crossval --json` report to show as the generalization table",
    )
    parser.add_argument("--from-json", type=Path, metavar="FILE", help="re-render a saved report; no scoring")
    add_progress_arg(parser)
    add_mapping_args(parser)
    parser.set_defaults(handler=cmd_eval)


def _configure_crossval(parser: argparse.ArgumentParser) -> None:
    add_corpus_arg(parser)
    parser.add_argument("--by", choices=["generator", "source"], nargs="+", default=["generator", "source"])
    parser.add_argument("--only", nargs="+", metavar="VALUE", help="hold out only these values")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sample", type=int, help="use a grouped sample of about N records")
    parser.add_argument("--json", type=Path, metavar="FILE", help="write the report as JSON")
    add_progress_arg(parser)
    parser.add_argument(
        "--model",
        choices=["ngram", "transformer", "zero-shot", "encoder", "hybrid"],
        nargs="+",
        default=["ngram"],
        help="models to refit per fold, side by side on the same test texts (default: ngram); "
        "zero-shot, encoder and hybrid read LM features computed once per record: use --sample",
    )
    parser.add_argument(
        "--max-test-texts", type=int, help="score a grouped sample of about N test texts per fold"
    )
    add_transformer_args(parser)
    parser.set_defaults(handler=cmd_crossval)


def _print_report(report: dict[str, Any]) -> None:
    from humanlike.training.evaluation.metrics import format_table

    print(format_table({"all": report["all"]}, "overall"))
    for key in ("data_type", "source", "generator", "domain", "length"):
        if key in report:
            print()
            print(format_table(report[key], key))


def _relative_inside(path: Path, directory: Path) -> Path | None:
    """``path`` relative to ``directory`` if it lies inside it."""
    try:
        return path.resolve().relative_to(directory.resolve())
    except ValueError:
        return None


def _write_report(
    report: dict[str, Any], out_dir: Path, also: dict[Path, dict[str, Any]] | None = None
) -> None:
    """``out_dir/report.json`` and ``report.html``, and the JSON files ``also`` names (paths relative
    to ``out_dir``), swapped in as one directory."""
    from humanlike.detector.atomic import atomic_directory
    from humanlike.training.evaluation.report import render_compare_html, render_html

    page = render_compare_html(report) if report["schema"].endswith("compare") else render_html(report)
    # the JSON and the page always from the same run
    with atomic_directory(out_dir, "eval-report") as staging:
        (staging / "report.json").write_bytes(json.dumps(report, indent=2).encode("utf-8") + b"\n")
        (staging / "report.html").write_bytes(page.encode("utf-8"))
        for relative, content in (also or {}).items():
            (staging / relative).parent.mkdir(parents=True, exist_ok=True)
            (staging / relative).write_text(json.dumps(content, indent=2) + "\n", encoding="utf-8")
    print(f"report: {out_dir / 'report.html'}", file=sys.stderr)


def _print_eval(report: dict[str, Any]) -> None:
    from humanlike.training.evaluation.crossval import format_crossval
    from humanlike.training.evaluation.profile import format_profile
    from humanlike.training.evaluation.robustness import format_robustness

    scope = report["scope"]
    print(f"scored {scope['n_scored']} texts ({scope['split']}); skipped {scope['n_skipped_invalid']}\n")
    _print_report(report)
    if report.get("robustness"):
        print("\nrobustness\n" + format_robustness(report["robustness"]))
    if report.get("generalization"):
        print("\ngeneralization (leave-one-out refits)\n" + format_crossval(report["generalization"]))
    if report.get("profile"):
        print("\ncorpus profile\n" + format_profile(report["profile"]))
    share = report.get("share")
    if share and share.get("all"):
        print(f"\nLLM share ({share['method']}, {', '.join(share['data_types'])}): estimated vs true")
        for name, row in [("all", share["all"]), *share["source"].items()]:
            lo, hi = row["ci"]
            print(
                f"{name[:36]:<36} {row['share']:>6.1%} [{lo:.1%}, {hi:.1%}]  true {row['true_share']:>6.1%}  "
                f"n {row['n']}"
            )


def _print_compare(report: dict[str, Any]) -> None:
    a, b = report["names"]
    print(f"A = {a}\nB = {b}\n{report['n_texts']} texts, the same for both\n")
    header = f"{'slice':<36} {'A':>7} {'B':>7} {'A-B':>7} {'95% CI of A-B':>17}"
    for key in ("all", "data_type", "source", "generator", "length"):
        section = {"all": report["auroc_delta"]["all"]} if key == "all" else report["auroc_delta"][key]
        print(f"{'overall AUROC' if key == 'all' else 'AUROC by ' + key}\n{header}\n{'-' * len(header)}")
        for name, d in section.items():
            if d is not None:
                ci = f"{d['ci'][0]:+.3f} .. {d['ci'][1]:+.3f}" if d.get("ci") else "-"
                print(f"{name[:36]:<36} {d['a']:>7.3f} {d['b']:>7.3f} {d['delta']:>+7.3f} {ci:>17}")
        print()


def cmd_eval(args: argparse.Namespace) -> int:
    from humanlike.detector.atomic import check_output_directory
    from humanlike.training.evaluation.evaluate import compare_bundles, evaluate_bundle

    if args.report:
        check_output_directory(args.report, "eval-report", "--report")
    if args.from_json:
        report = json.loads(args.from_json.read_text(encoding="utf-8"))
    else:
        options = config_from_flags(
            EvalOptions,
            args,
            EVAL_FLAGS,
            EvalOptions(
                perturbations=tuple(args.perturbations or ()),
                crossval=args.crossval,
                progress=not args.no_progress,
                mapping=field_mapping(args),
            ),
        )
        if args.compare and args.bundle:
            raise CliError("give either a bundle or --compare A B, not both")
        if args.compare:
            bundle_a, bundle_b = args.compare
            report = compare_bundles(bundle_a, bundle_b, corpus_paths(args.corpus), options)
        elif args.bundle:
            report = evaluate_bundle(args.bundle, corpus_paths(args.corpus), options)
        else:
            raise CliError("give a bundle, --compare A B, or --from-json REPORT")
    # A --json file inside the --report directory is written into the new report, so that the swap
    # that replaces the directory keeps it.
    json_inside = _relative_inside(args.json, args.report) if args.json and args.report else None
    if args.json and json_inside is None:
        from humanlike.detector.atomic import write_text_atomic

        write_text_atomic(args.json, json.dumps(report, indent=2) + "\n")
    if args.report:
        _write_report(report, args.report, {json_inside: report} if json_inside else {})
    if args.format == "json":
        print(json.dumps(report, indent=2))
    elif report["schema"].endswith("compare"):
        _print_compare(report)
    else:
        _print_eval(report)
    return EXIT_OK


def cmd_crossval(args: argparse.Namespace) -> int:
    from humanlike.detector.atomic import atomic_writer
    from humanlike.training.evaluation.crossval import UnknownFoldError, crossval_report, format_crossval

    def write_json(report: dict[str, Any]) -> None:
        if args.json:
            with atomic_writer(args.json) as f:
                f.write(json.dumps(report, indent=2).encode("utf-8") + b"\n")

    def save(report: dict[str, Any]) -> None:
        fold = report["folds"][-1]
        results = [fold] if len(args.model) == 1 else [fold[m] for m in args.model]
        aurocs = ", ".join(
            f"{m} AUROC {r['auroc']} ({r['seconds']} s)" for m, r in zip(args.model, results, strict=True)
        )
        print(
            f"fold {len(report['folds'])}/{report['n_folds']}: {fold['key']}={fold['held_out']}: {aurocs}",
            file=sys.stderr,
        )
        write_json(report)

    try:
        report = crossval_report(
            corpus_paths(args.corpus),
            keys=args.by,
            only=args.only,
            seed=args.seed,
            sample_size=args.sample,
            models=args.model,
            transformer_config=transformer_config(args, args.seed) if "transformer" in args.model else None,
            max_test_texts=args.max_test_texts,
            progress=not args.no_progress,
            on_fold=save,
        )
    except UnknownFoldError as e:
        raise UsageError(str(e)) from e
    write_json(report)  # also when no fold ran, so that the file asked for always exists
    print(format_crossval(report))
    return EXIT_OK
