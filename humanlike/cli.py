"""The ``humanlike`` command line: batch work over the detector runtime and the training package.

Exit codes: 0 success; 1 failure, or some inputs could not be scored (each is reported);
2 usage error. Every command takes ``--help``.

Imports live inside the commands on purpose: ``score``, ``rank`` and ``info`` need only the runtime
(the base install has no scikit-learn or torch), and start faster without the training stack.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


class CliError(Exception):
    """A failure to report in one line, without a traceback."""


def _mapping_args(p: argparse.ArgumentParser) -> None:
    g = p.add_mutually_exclusive_group()
    g.add_argument("--preset", help="a known column layout for a foreign dataset (e.g. hc3)")
    g.add_argument("--mapping", type=Path, help="JSON file with a FieldMapping for a foreign dataset")


def _corpus_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--corpus",
        nargs="+",
        metavar="PATH",
        help="corpus files, directories or hf://NAME datasets (default: $HUMANLIKE_DATA or ../shared/corpus)",
    )


def _transformer_args(p: argparse.ArgumentParser) -> None:
    tr = p.add_argument_group("transformer fine-tuning (defaults: training.transformer.TransformerConfig)")
    tr.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    tr.add_argument("--max-tokens", type=int, help="window length in tokens (default 128)")
    tr.add_argument("--max-train-texts", type=int, help="cap on training texts (default 36000)")
    tr.add_argument("--epochs", type=int, help="passes over the training texts (default 1)")
    tr.add_argument("--eval-every", type=int, help="validate every N steps (default 250)")
    tr.add_argument("--validation-texts", type=int, help="validation set size (default 1000)")
    tr.add_argument(
        "--time-budget", type=float, help="stop fine-tuning after this many seconds (default 2700)"
    )
    tr.add_argument("--base-model", type=Path, help="encoder directory (default: the packaged MiniLM)")


def _transformer_config(args: argparse.Namespace) -> Any:
    import dataclasses

    from humanlike.training.models.transformer import TransformerConfig

    overrides = {
        "max_tokens": args.max_tokens,
        "max_train_texts": args.max_train_texts,
        "epochs": args.epochs,
        "eval_every": args.eval_every,
        "validation_texts": args.validation_texts,
        "time_budget_s": args.time_budget,
    }
    return dataclasses.replace(
        TransformerConfig(seed=args.seed), **{k: v for k, v in overrides.items() if v is not None}
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="humanlike", description="Tell human-written text from LLM-generated text, and rank by it."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    corpus = sub.add_parser("corpus", help="inspect and slice corpora").add_subparsers(
        dest="corpus_command", required=True, metavar="SUBCOMMAND"
    )
    stats = corpus.add_parser("stats", help="counts by label x data_type / source / generator, lengths")
    stats.add_argument("paths", nargs="*", metavar="PATH", help="default: the corpus location")
    stats.add_argument("--json", action="store_true", help="print JSON instead of tables")
    _mapping_args(stats)
    sample = corpus.add_parser("sample", help="write a grouped, stratified sample of a corpus as JSONL")
    sample.add_argument("paths", nargs="*", metavar="PATH", help="default: the corpus location")
    sample.add_argument("--n", type=int, required=True, help="about how many records")
    sample.add_argument("--seed", type=int, default=0)
    sample.add_argument("--out", type=Path, required=True)
    _mapping_args(sample)

    train = sub.add_parser(
        "train",
        help="train a detector: the n-gram baseline or the hybrid (write a bundle), or the transformer "
        "(writes a checkpoint for `humanlike export`)",
    )
    _corpus_arg(train)
    train.add_argument(
        "--model",
        choices=["ngram", "transformer", "hybrid"],
        default="ngram",
        help="which detector (default ngram); hybrid: LM statistics + encoder embedding, trained on "
        "--sample records (default 3000: the LM reads every text, about 0.3 s each on 2 cores)",
    )
    train.add_argument(
        "--out", type=Path, required=True, help="bundle (ngram) or checkpoint (transformer) directory"
    )
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--holdout", type=float, default=0.1, help="grouped hold-out fraction (default 0.1)")
    train.add_argument("--calibration", type=float, default=0.1, help="calibration fraction (default 0.1)")
    train.add_argument("--sample", type=int, help="train on a grouped sample of about N records")
    train.add_argument("--no-progress", action="store_true")
    train.add_argument("--json", action="store_true", help="print the manifest's metrics as JSON")
    _transformer_args(train)
    _mapping_args(train)

    zs = sub.add_parser(
        "zero-shot-bundle",
        help="build a zero-shot bundle from the packaged LM alone (Fast-DetectGPT criterion)",
        description="Exports SmolLM2-135M's forward pass and the zero-shot statistics to one ONNX graph. "
        "When labelled texts are found (--corpus, $HUMANLIKE_DATA or ../shared/corpus), a grouped sample "
        "of them calibrates it (Platt scaling, thresholds at 1%% and 5%% FPR on its human texts); "
        "otherwise the bundle is uncalibrated and has no thresholds.",
    )
    zs.add_argument("--out", type=Path, required=True, help="bundle directory to write")
    _corpus_arg(zs)
    zs.add_argument("--no-calibration", action="store_true", help="do not look for labelled texts")
    zs.add_argument(
        "--calibration-size", type=int, default=400, help="labelled texts to calibrate on (default 400)"
    )
    zs.add_argument("--seed", type=int, default=0)
    zs.add_argument("--no-progress", action="store_true")
    _mapping_args(zs)

    export = sub.add_parser(
        "export", help="export a transformer checkpoint as calibrated fp32 and int8 ONNX bundles"
    )
    export.add_argument("checkpoint", type=Path)
    _corpus_arg(export)
    export.add_argument("--out", type=Path, required=True, help="directory; bundles go to OUT/fp32, OUT/int8")
    export.add_argument("--precision", choices=["fp32", "int8"], nargs="+", default=["fp32", "int8"])
    export.add_argument("--no-progress", action="store_true")
    _mapping_args(export)

    ev = sub.add_parser(
        "eval",
        help="evaluate a bundle (or two, --compare): metrics with intervals, slices, robustness, HTML report",
    )
    ev.add_argument("bundle", type=Path, nargs="?", help="the bundle (omit with --compare / --from-json)")
    ev.add_argument(
        "--compare", type=Path, nargs=2, metavar=("A", "B"), help="two bundles side by side on the same texts"
    )
    _corpus_arg(ev)
    ev.add_argument(
        "--split",
        choices=["auto", "holdout", "all"],
        default="auto",
        help="auto: the bundle's hold-out when the corpus is its training corpus, else all records",
    )
    ev.add_argument("--report", type=Path, metavar="DIR", help="write DIR/report.json and DIR/report.html")
    ev.add_argument("--json", type=Path, metavar="FILE", help="also write the full report as JSON")
    ev.add_argument("--format", choices=["table", "json"], default="table", help="what to print")
    ev.add_argument("--bootstrap", type=int, default=200, help="grouped bootstrap replicates (0: none)")
    ev.add_argument(
        "--robustness-texts",
        type=int,
        default=1000,
        help="human and LLM texts each, perturbed per perturbation (0: skip robustness; default 1000)",
    )
    ev.add_argument("--perturbations", nargs="+", metavar="NAME", help="a subset (default: all)")
    ev.add_argument("--no-profile", action="store_true", help="skip the corpus profile")
    ev.add_argument(
        "--crossval",
        type=Path,
        metavar="FILE",
        help="a `humanlike crossval --json` report to show as the generalization table",
    )
    ev.add_argument(
        "--no-examples", action="store_true", help="keep corpus text out of the report (for publishing it)"
    )
    ev.add_argument("--from-json", type=Path, metavar="FILE", help="re-render a saved report; no scoring")
    ev.add_argument("--seed", type=int, default=0)
    ev.add_argument("--no-progress", action="store_true")
    _mapping_args(ev)

    cv = sub.add_parser(
        "crossval", help="leave-one-generator-out / leave-one-source-out evaluation of the baseline"
    )
    _corpus_arg(cv)
    cv.add_argument("--by", choices=["generator", "source"], nargs="+", default=["generator", "source"])
    cv.add_argument("--only", nargs="+", metavar="VALUE", help="hold out only these values")
    cv.add_argument("--seed", type=int, default=0)
    cv.add_argument("--sample", type=int, help="use a grouped sample of about N records")
    cv.add_argument("--json", type=Path, metavar="FILE", help="write the report as JSON")
    cv.add_argument("--no-progress", action="store_true")
    cv.add_argument(
        "--model",
        choices=["ngram", "transformer", "zero-shot", "encoder", "hybrid"],
        nargs="+",
        default=["ngram"],
        help="models to refit per fold, side by side on the same test texts (default ngram); "
        "zero-shot, encoder and hybrid read LM features computed once per record: use --sample",
    )
    cv.add_argument(
        "--max-test-texts", type=int, help="score a grouped sample of about N test texts per fold"
    )
    _transformer_args(cv)

    score = sub.add_parser("score", help="score texts; JSONL out, one line per input, in order")
    score.add_argument("bundle", type=Path)
    score.add_argument("texts", nargs="*", metavar="TEXT", help="texts to score (default: read lines)")
    score.add_argument("--input", type=Path, help="read from FILE instead of stdin, one input per line")
    score.add_argument("--jsonl", action="store_true", help="input lines are JSON objects with a text field")
    score.add_argument("--text-field", default="text")
    score.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    score.add_argument("--batch-size", type=int, default=64)
    score.add_argument(
        "--windows", action="store_true", help="add each text's per-window scores (character spans, p_llm)"
    )

    rank = sub.add_parser("rank", help="rank a JSONL corpus, most human-like first")
    rank.add_argument("bundle", type=Path)
    rank.add_argument("input", type=Path, help="JSONL, one object with a text field per line")
    rank.add_argument("--out", type=Path, required=True, help="ranked JSONL to write")
    rank.add_argument("--errors", type=Path, help="where unscorable lines go (default OUT.errors.jsonl)")
    rank.add_argument("--text-field", default="text")
    rank.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    rank.add_argument("--batch-size", type=int, default=64)
    rank.add_argument("--no-progress", action="store_true")

    cur = sub.add_parser(
        "curriculum",
        help="order a corpus into a training curriculum (streaming, resumable)",
        description="Scores every row (human-likeness and quality metrics), filters, orders by a "
        "strategy and writes OUT, OUT.errors.jsonl (every row not in OUT, with its reason) and "
        "OUT.manifest.json. Killed, the same command resumes from OUT.work.",
    )
    cur.add_argument("bundle", type=Path)
    cur.add_argument("input", type=Path, help="JSONL (one object per line) or Parquet (.parquet)")
    cur.add_argument("--out", type=Path, required=True, help="curriculum to write (.jsonl or .parquet)")
    cur.add_argument("--errors", type=Path, help="rows left out, with reasons (default OUT.errors.jsonl)")
    cur.add_argument(
        "--strategy",
        choices=["human-likeness", "quality", "mixed-generators", "combined"],
        default="human-likeness",
    )
    cur.add_argument("--stages", type=int, default=4, help="equal stages the order is cut into (default 4)")
    filters = cur.add_argument_group("filters")
    filters.add_argument("--top-fraction", type=float, help="keep this leading share of the order")
    filters.add_argument("--min-human-likeness", type=float, help="drop rows below this human-likeness")
    filters.add_argument("--min-quality", type=float, help="drop rows below this quality score")
    filters.add_argument("--max-per-generator", type=int, help="keep at most N rows of each generator")
    filters.add_argument("--dedup", choices=["none", "exact", "near"], default="none")
    filters.add_argument(
        "--near-threshold", type=float, default=0.8, help="Jaccard of word 3-grams for near duplicates"
    )
    fields = cur.add_argument_group("fields")
    fields.add_argument("--text-field", default="text")
    fields.add_argument("--generator-field", default="generator")
    fields.add_argument("--label-field", default="label")
    fields.add_argument("--lexicon", default="en", help="wordfreq language of the OOV lexicon")
    execution = cur.add_argument_group("execution")
    execution.add_argument("--engine", choices=["local", "ray"], default="local")
    execution.add_argument(
        "--ray-actors", type=int, help="scoring actors (--engine ray; default: the cluster's CPUs - 1)"
    )
    execution.add_argument("--chunk-lines", type=int, default=10_000, help="rows per checkpointed chunk")
    execution.add_argument("--sort-memory-mb", type=int, default=64, help="memory per external sort run")
    execution.add_argument("--work-dir", type=Path, help="checkpoint directory (default OUT.work)")
    execution.add_argument(
        "--keep-work",
        action="store_true",
        help="keep the scored chunks: another strategy or filter with the same --work-dir skips scoring",
    )
    execution.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    # 16, not 64: the n-gram graph's dense [batch, features] intermediates dominate memory, and on
    # 2 cores a smaller batch leaves room for the metrics thread at the same scoring rate
    # (bench/bench_curriculum.py).
    execution.add_argument("--batch-size", type=int, default=16)
    execution.add_argument("--no-progress", action="store_true")

    serve = sub.add_parser(
        "serve",
        help="serve a bundle over HTTP and gRPC (one process, one batching core)",
        description="Every option can also be set with the environment variable HUMANLIKE_<OPTION> "
        "(e.g. HUMANLIKE_MAX_WAIT_MS=5); a flag wins over the variable. SIGTERM drains and exits 0; "
        "SIGHUP reloads the bundle. Prints one JSON line when listening.",
    )
    serve.add_argument("bundle", nargs="?", help="bundle directory (or HUMANLIKE_BUNDLE)")
    serve.add_argument(
        "--http", dest="http_port", metavar="PORT", help="HTTP port, 0 = any, off (default 8000)"
    )
    serve.add_argument(
        "--grpc", dest="grpc_port", metavar="PORT", help="gRPC port, 0 = any, off (default 50051)"
    )
    serve.add_argument("--host", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--device", choices=["auto", "cpu", "cuda"])
    serve.add_argument("--threads", type=int, help="ONNX Runtime intra-op threads (default: usable cores)")
    serve.add_argument("--max-batch-tokens", type=int, help="cap on windows x longest window per batch")
    serve.add_argument("--max-batch-size", type=int, help="most windows per batch (default 64)")
    serve.add_argument("--max-wait-ms", type=float, help="how long a partial batch waits (default 2)")
    serve.add_argument("--max-queue-texts", type=int, help="admitted texts before 429 (default 2048)")
    serve.add_argument("--max-texts-per-request", type=int, help="(default 256)")
    serve.add_argument("--max-request-bytes", type=int, help="(default 4 MiB)")
    serve.add_argument("--request-timeout", dest="request_timeout_s", type=float, help="seconds (default 60)")
    serve.add_argument("--drain-timeout", dest="drain_timeout_s", type=float, help="seconds (default 30)")
    serve.add_argument(
        "--auth-token-file", type=Path, help="require this bearer token (or HUMANLIKE_AUTH_TOKEN)"
    )
    serve.add_argument("--tls-cert", help="PEM certificate chain: gRPC over TLS")
    serve.add_argument("--tls-key", help="PEM private key of --tls-cert")
    serve.add_argument("--log-level", choices=["debug", "info", "warning", "error"])

    info = sub.add_parser("info", help="verify a bundle and print what it is, as JSON")
    info.add_argument("bundle", type=Path)
    info.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    return parser


# ---- commands -----------------------------------------------------------------------------------


def _mapping(args: argparse.Namespace) -> Any:
    from humanlike.training.data.readers import PRESETS, FieldMapping

    if getattr(args, "preset", None):
        if args.preset not in PRESETS:
            raise CliError(f"unknown preset {args.preset!r} (known: {', '.join(sorted(PRESETS))})")
        return PRESETS[args.preset]
    if getattr(args, "mapping", None):
        return FieldMapping.model_validate_json(args.mapping.read_text(encoding="utf-8"))
    return None


def _corpus_paths(paths: Sequence[str] | None) -> list[str]:
    from humanlike.training.data.corpus import resolve_corpus_paths

    return resolve_corpus_paths(paths)


def _load(args: argparse.Namespace, paths: Sequence[str] | None) -> Any:
    from humanlike.training.data.readers import load_corpus

    records, report = load_corpus(_corpus_paths(paths), _mapping(args))
    print(report.summary(), file=sys.stderr)
    return records


def cmd_corpus(args: argparse.Namespace) -> int:
    from humanlike.detector.ranking import atomic_writer
    from humanlike.training.data.corpus import corpus_stats, sample

    records = _load(args, args.paths)
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


def _print_report(report: dict[str, Any]) -> None:
    from humanlike.training.evaluation.metrics import format_table

    print(format_table({"all": report["all"]}, "overall"))
    for key in ("data_type", "source", "generator", "domain", "length"):
        if key in report:
            print()
            print(format_table(report[key], key))


def cmd_train(args: argparse.Namespace) -> int:
    if args.model == "transformer":
        return _train_transformer(args)
    from humanlike.training.evaluation.metrics import format_table
    from humanlike.training.models.hybrid import train_hybrid_bundle
    from humanlike.training.models.ngram import train_ngram_bundle

    paths = _corpus_paths(args.corpus)
    train_bundle = train_hybrid_bundle if args.model == "hybrid" else train_ngram_bundle
    default_sample = 3000 if args.model == "hybrid" else None
    manifest = train_bundle(
        paths,
        args.out,
        seed=args.seed,
        holdout_fraction=args.holdout,
        calibration_fraction=args.calibration,
        mapping=_mapping(args),
        sample_size=args.sample or default_sample,
        progress=not args.no_progress,
    )
    holdout = manifest.metrics["holdout"]
    if args.json:
        print(json.dumps(manifest.metrics, indent=2))
    else:
        print(f"bundle written to {args.out}; grouped hold-out ({manifest.split.n_holdout} texts):\n")
        print(format_table({"all": holdout["all"]}, "overall"))
        print()
        print(format_table(holdout["data_type"], "data_type"))
        print(f"\ntimings: {manifest.training['timings']}")
    return EXIT_OK


def _train_transformer(args: argparse.Namespace) -> int:
    from humanlike.training.models.transformer import train_transformer_checkpoint

    config = _transformer_config(args)
    meta = train_transformer_checkpoint(
        _corpus_paths(args.corpus),
        args.out,
        seed=args.seed,
        holdout_fraction=args.holdout,
        calibration_fraction=args.calibration,
        config=config,
        base_model=args.base_model,
        mapping=_mapping(args),
        sample_size=args.sample,
        device=args.device,
        progress=not args.no_progress,
    )
    t = meta["training"]
    print(
        f"checkpoint written to {args.out}: best validation AUROC {t['best_val_auroc']} at step "
        f"{t['best_step']} ({t['stopped_because']}); {t['timings']}\n"
        f"next: humanlike export {args.out} --out BUNDLES"
    )
    return EXIT_OK


def cmd_zero_shot_bundle(args: argparse.Namespace) -> int:
    from humanlike.training.models.zero_shot import build_zero_shot_bundle

    paths: list[str] | None = None
    if not args.no_calibration:
        try:
            paths = _corpus_paths(args.corpus)
        except FileNotFoundError as e:
            print(
                f"no labelled texts to calibrate on ({e}): the bundle will have no thresholds",
                file=sys.stderr,
            )
    manifest = build_zero_shot_bundle(
        args.out,
        corpus_paths=paths,
        calibration_size=args.calibration_size,
        seed=args.seed,
        mapping=_mapping(args),
        progress=not args.no_progress,
    )
    found = manifest.metrics.get("calibration_sample")
    summary = (
        f"AUROC {found['auroc']:.3f} on {found['n_human'] + found['n_llm']} calibration texts"
        if found
        else "uncalibrated"
    )
    print(f"zero-shot bundle written to {args.out} ({summary})")
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    from humanlike.training.evaluation.metrics import format_table
    from humanlike.training.models.transformer_graph import export_bundles

    written = export_bundles(
        args.checkpoint,
        _corpus_paths(args.corpus),
        args.out,
        precisions=args.precision,
        mapping=_mapping(args),
        progress=not args.no_progress,
    )
    for precision, manifest in written.items():
        holdout = manifest.metrics["holdout"]
        print(
            f"{precision}: bundle {args.out / precision}; "
            f"grouped hold-out ({manifest.split.n_holdout} texts):"
        )
        print(format_table({"all": holdout["all"]}, "overall"))
        print(format_table(holdout["data_type"], "data_type"))
        print()
    return EXIT_OK


def _write_report(report: dict[str, Any], out_dir: Path) -> None:
    from humanlike.detector.ranking import atomic_writer
    from humanlike.training.evaluation.report import render_compare_html, render_html

    page = render_compare_html(report) if report["schema"].endswith("compare") else render_html(report)
    out_dir.mkdir(parents=True, exist_ok=True)
    with atomic_writer(out_dir / "report.json") as f:
        f.write(json.dumps(report, indent=2).encode("utf-8") + b"\n")
    with atomic_writer(out_dir / "report.html") as f:
        f.write(page.encode("utf-8"))
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
    from humanlike.training.evaluation.evaluate import EvalOptions, compare_bundles, evaluate_bundle

    if args.from_json:
        report = json.loads(args.from_json.read_text(encoding="utf-8"))
    else:
        options = EvalOptions(
            split=args.split,
            n_bootstrap=args.bootstrap,
            robustness_per_class=args.robustness_texts,
            perturbations=tuple(args.perturbations or ()),
            profile=not args.no_profile,
            crossval=args.crossval,
            examples=not args.no_examples,
            seed=args.seed,
            progress=not args.no_progress,
            mapping=_mapping(args),
        )
        if args.compare and args.bundle:
            raise CliError("give either a bundle or --compare A B, not both")
        if args.compare:
            bundle_a, bundle_b = args.compare
            report = compare_bundles(bundle_a, bundle_b, _corpus_paths(args.corpus), options)
        elif args.bundle:
            report = evaluate_bundle(args.bundle, _corpus_paths(args.corpus), options)
        else:
            raise CliError("give a bundle, --compare A B, or --from-json REPORT")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    if args.report:
        _write_report(report, args.report)
    if args.format == "json":
        print(json.dumps(report, indent=2))
    elif report["schema"].endswith("compare"):
        _print_compare(report)
    else:
        _print_eval(report)
    return EXIT_OK


def cmd_crossval(args: argparse.Namespace) -> int:
    from humanlike.detector.ranking import atomic_writer
    from humanlike.training.evaluation.crossval import crossval_report, format_crossval

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
        if args.json:
            with atomic_writer(args.json) as f:
                f.write(json.dumps(report, indent=2).encode("utf-8") + b"\n")

    report = crossval_report(
        _corpus_paths(args.corpus),
        keys=args.by,
        only=args.only,
        seed=args.seed,
        sample_size=args.sample,
        models=args.model,
        transformer_config=_transformer_config(args) if "transformer" in args.model else None,
        max_test_texts=args.max_test_texts,
        progress=not args.no_progress,
        on_fold=save,
    )
    print(format_crossval(report))
    return EXIT_OK


def _score_inputs(
    args: argparse.Namespace, check: Callable[[object], str | None]
) -> Iterator[tuple[int, str | None, str | None]]:
    """(index, text, None) for each scorable input and (index, None, reason) for the rest, in order."""
    from humanlike.detector.ranking import UnscorableLine, parse_line

    if args.texts:
        for i, text in enumerate(args.texts):
            reason = check(text)
            yield (i, None, reason) if reason else (i, text, None)
        return
    stream = args.input.open("rb") if args.input else sys.stdin.buffer
    with stream:
        for i, raw in enumerate(stream):
            if args.jsonl:
                try:
                    yield i, parse_line(raw, args.text_field, check), None
                except UnscorableLine as e:
                    yield i, None, str(e)
                continue
            try:
                text = raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError as e:
                yield i, None, f"broken UTF-8 at byte {e.start} of the line"
                continue
            reason = check(text)
            yield (i, None, reason) if reason else (i, text, None)


def cmd_score(args: argparse.Namespace) -> int:
    from humanlike.detector import Detector

    detector = Detector(args.bundle, device=args.device)
    failures = 0
    batch: list[tuple[int, str]] = []

    def flush() -> None:
        scores = detector.score_texts([t for _, t in batch], batch_size=args.batch_size, windows=args.windows)
        for (i, _), s in zip(batch, scores, strict=True):
            line: dict[str, Any] = {
                "index": i,
                "p_llm": s.p_llm,
                "human_likeness": s.human_likeness,
                "flagged": s.flagged,
            }
            if s.windows is not None:
                line["windows"] = [w.__dict__ for w in s.windows]
            print(json.dumps(line))
        batch.clear()

    for i, text, error in _score_inputs(args, detector.check_text):
        if text is None:
            flush()
            failures += 1
            print(json.dumps({"index": i, "error": error}))
            continue
        batch.append((i, text))
        if len(batch) >= args.batch_size:
            flush()
    flush()
    if failures:
        print(f"humanlike: {failures} input(s) could not be scored (see their error lines)", file=sys.stderr)
    return EXIT_FAILURE if failures else EXIT_OK


def cmd_rank(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from humanlike.detector import Detector
    from humanlike.detector.ranking import rank_jsonl

    detector = Detector(args.bundle, device=args.device)
    bar = tqdm(desc="rank", unit="line", disable=args.no_progress)

    def progress(n_lines: int) -> None:
        bar.update(n_lines - bar.n)

    summary = rank_jsonl(
        detector,
        args.input,
        args.out,
        args.errors,
        text_field=args.text_field,
        batch_size=args.batch_size,
        on_progress=progress,
    )
    bar.close()
    print(json.dumps(summary.__dict__), file=sys.stderr)
    return EXIT_OK if summary.n_ranked or not summary.n_lines else EXIT_FAILURE


def cmd_curriculum(args: argparse.Namespace) -> int:
    from humanlike.curriculum.dedup import Deduplicator
    from humanlike.curriculum.pipeline import CurriculumOptions, build_curriculum
    from humanlike.curriculum.scoring import ScoringOptions
    from humanlike.detector import Detector

    options = CurriculumOptions(
        strategy=args.strategy,
        scoring=ScoringOptions(
            text_field=args.text_field,
            generator_field=args.generator_field,
            label_field=args.label_field,
            lexicon_lang=args.lexicon,
            batch_size=args.batch_size,
            dedup=Deduplicator(mode=args.dedup, threshold=args.near_threshold),
        ),
        chunk_lines=args.chunk_lines,
        stages=args.stages,
        top_fraction=args.top_fraction,
        min_human_likeness=args.min_human_likeness,
        min_quality=args.min_quality,
        max_per_generator=args.max_per_generator,
        run_bytes=args.sort_memory_mb << 20,
    )
    if not args.no_progress:
        # Off a terminal the progress is structured log lines (curriculum.progress).
        logging.getLogger("humanlike.curriculum").setLevel(logging.INFO)
    detector = Detector(args.bundle, device=args.device)
    score_chunks = None
    if args.engine == "ray":
        from humanlike.curriculum.ray_engine import ray_chunk_scorer

        score_chunks = ray_chunk_scorer(args.bundle, options.scoring, actors=args.ray_actors)
    summary = build_curriculum(
        detector,
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


def cmd_info(args: argparse.Namespace) -> int:
    from humanlike.detector import Detector

    detector = Detector(args.bundle, device=args.device)
    manifest = detector.manifest
    print(
        json.dumps(
            {
                "model": detector.info.__dict__,
                "calibration": manifest.calibration.model_dump(),
                "corpus": manifest.corpus.model_dump(),
                "created_at": manifest.created_at,
                "holdout_auroc": manifest.metrics.get("holdout", {}).get("all", {}).get("auroc"),
            },
            indent=2,
        )
    )
    return EXIT_OK


def cmd_serve(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from humanlike.serving.config import ServeConfig

    flags = {k: v for k, v in vars(args).items() if k not in ("command", "verbose", "auth_token_file")}
    if args.auth_token_file is not None:
        flags["auth_token"] = args.auth_token_file.read_text(encoding="utf-8").strip()
    try:
        config = ServeConfig.from_sources(flags)
    except ValidationError as e:
        raise CliError(f"invalid serve configuration: {e}") from None
    from humanlike.serving.server import run

    return run(config)


COMMANDS = {
    "corpus": cmd_corpus,
    "train": cmd_train,
    "zero-shot-bundle": cmd_zero_shot_bundle,
    "export": cmd_export,
    "eval": cmd_eval,
    "crossval": cmd_crossval,
    "score": cmd_score,
    "rank": cmd_rank,
    "curriculum": cmd_curriculum,
    "info": cmd_info,
    "serve": cmd_serve,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    from humanlike.detector import BundleError, InvalidTextError

    try:
        return COMMANDS[args.command](args)
    except (CliError, BundleError, InvalidTextError, FileNotFoundError, ValueError, RuntimeError) as e:
        print(f"humanlike: error: {e}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        print("humanlike: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
