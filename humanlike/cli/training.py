"""``humanlike train``, ``zero-shot-bundle`` and ``export``: detectors fitted on a corpus, written as bundles.

Flags come from the configuration classes of :mod:`humanlike.training.config`, where their defaults live.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from humanlike.cli.common import (
    EXIT_OK,
    add_corpus_arg,
    add_mapping_args,
    add_progress_arg,
    corpus_paths,
    field_mapping,
)
from humanlike.cli.options import add_config_flags, config_from_flags
from humanlike.detector.devices import DEVICES
from humanlike.training.config import (
    HybridConfig,
    NgramBaselineConfig,
    SamplingConfig,
    SplitConfig,
    TransformerConfig,
    ZeroShotConfig,
)

SPLIT_FLAGS = ("seed", "holdout_fraction", "calibration_fraction", "sample_size")
SPLIT_FLAG_NAMES = {
    "holdout_fraction": "--holdout",
    "calibration_fraction": "--calibration",
    "sample_size": "--sample",
}
TRANSFORMER_FLAGS = (
    "max_tokens",
    "max_train_texts",
    "epochs",
    "eval_every",
    "validation_texts",
    "time_budget_s",
)
TRANSFORMER_FLAG_NAMES = {"time_budget_s": "--time-budget"}
SAMPLING_FLAGS = ("cap_per_source_label", "length_match", "max_fit_texts", "threshold_source_folds")
NGRAM_FLAGS = ("normalization", "distorted_view_words", "surprisal_view")
HYBRID_FLAGS = ("precision",)


def add_transformer_args(p: argparse.ArgumentParser) -> None:
    """The fine-tuning flags (``train --model transformer``, ``crossval --model transformer``)."""
    group = p.add_argument_group("transformer fine-tuning")
    group.add_argument("--device", choices=DEVICES, default="auto")
    add_config_flags(
        group, TransformerConfig, TRANSFORMER_FLAGS, flags=TRANSFORMER_FLAG_NAMES, dest_prefix="tf_"
    )
    group.add_argument("--base-model", type=Path, help="encoder directory (default: the packaged MiniLM)")


def transformer_config(args: argparse.Namespace, seed: int) -> TransformerConfig:
    config: TransformerConfig = config_from_flags(
        TransformerConfig, args, TRANSFORMER_FLAGS, TransformerConfig(seed=seed), dest_prefix="tf_"
    )
    return config


def configure(name: str, parser: argparse.ArgumentParser) -> None:
    {"train": _configure_train, "zero-shot-bundle": _configure_zero_shot, "export": _configure_export}[name](
        parser
    )


def _configure_train(parser: argparse.ArgumentParser) -> None:
    add_corpus_arg(parser)
    parser.add_argument(
        "--model",
        choices=["ngram", "transformer", "hybrid"],
        default="ngram",
        help="which detector (default: ngram); the hybrid trains on a sample (--sample, default "
        f"{HybridConfig.sample_size}); the transformer writes a checkpoint for `humanlike export`",
    )
    parser.add_argument(
        "--out", type=Path, required=True, help="bundle (ngram, hybrid) or checkpoint (transformer) directory"
    )
    add_config_flags(parser, SplitConfig, SPLIT_FLAGS, flags=SPLIT_FLAG_NAMES)
    sampling = parser.add_argument_group(
        "training sample and thresholds (n-gram, hybrid; the hybrid makes no source-fold refits unless asked)"
    )
    add_config_flags(sampling, SamplingConfig, SAMPLING_FLAGS)
    add_config_flags(parser.add_argument_group("n-gram"), NgramBaselineConfig, NGRAM_FLAGS)
    add_config_flags(
        parser.add_argument_group("hybrid"),
        HybridConfig,
        HYBRID_FLAGS,
        flags={"precision": "--hybrid-precision"},
        dest_prefix="hybrid_",
    )
    sampling.add_argument(
        "--refit-processes",
        type=int,
        help="n-gram: run the out-of-source refits side by side in N processes (default: one per core, "
        "at most four; each holds its own fit in memory)",
    )
    add_progress_arg(parser)
    parser.add_argument("--json", action="store_true", help="print the manifest's metrics as JSON")
    add_transformer_args(parser)
    add_mapping_args(parser)
    parser.set_defaults(handler=cmd_train)


def _configure_zero_shot(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Exports SmolLM2-135M's forward pass and the zero-shot statistics to one ONNX graph. "
        "When labelled texts are found (--corpus, $HUMANLIKE_DATA or ../shared/corpus), a grouped sample "
        "of them calibrates it (Platt scaling, thresholds at 1%% and 5%% FPR on its human texts); "
        "otherwise the bundle is uncalibrated and has no thresholds."
    )
    parser.add_argument("--out", type=Path, required=True, help="bundle directory to write")
    add_corpus_arg(parser)
    parser.add_argument("--no-calibration", action="store_true", help="do not look for labelled texts")
    add_config_flags(parser, ZeroShotConfig, ["calibration_size", "precision"])
    add_config_flags(parser, SplitConfig, ["seed"])
    add_progress_arg(parser)
    add_mapping_args(parser)
    parser.set_defaults(handler=cmd_zero_shot_bundle)


def _configure_export(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", type=Path)
    add_corpus_arg(parser)
    parser.add_argument("--out", type=Path, required=True, help="directory; bundles go to OUT/fp32, OUT/int8")
    parser.add_argument("--precision", choices=["fp32", "int8"], nargs="+", default=["fp32", "int8"])
    add_progress_arg(parser)
    add_mapping_args(parser)
    parser.set_defaults(handler=cmd_export)


def _print_holdout(manifest: Any) -> None:
    from humanlike.training.evaluation.metrics import format_table

    holdout = manifest.metrics["holdout"]
    print(format_table({"all": holdout["all"]}, "overall"))
    print()
    print(format_table(holdout["data_type"], "data_type"))


def cmd_train(args: argparse.Namespace) -> int:
    if args.model == "transformer":
        return _train_transformer(args)
    paths = corpus_paths(args.corpus)
    # The hybrid's LM reads every training text: no refits for its thresholds unless asked.
    base = SamplingConfig(threshold_source_folds=0) if args.model == "hybrid" else SamplingConfig()
    sampling = config_from_flags(SamplingConfig, args, SAMPLING_FLAGS, base)
    common: dict[str, Any] = {
        "sampling": sampling,
        "mapping": field_mapping(args),
        "progress": not args.no_progress,
    }
    if args.model == "hybrid":
        # imported here, not above: the hybrid's module imports torch, which the n-gram train never needs
        from humanlike.training.models.hybrid import train_hybrid_bundle

        splits = config_from_flags(
            SplitConfig, args, SPLIT_FLAGS, SplitConfig(sample_size=HybridConfig.sample_size)
        )
        config = config_from_flags(HybridConfig, args, HYBRID_FLAGS, dest_prefix="hybrid_")
        manifest = train_hybrid_bundle(paths, args.out, splits=splits, config=config, **common)
    else:
        from humanlike.training.models.ngram import train_ngram_bundle

        splits = config_from_flags(SplitConfig, args, SPLIT_FLAGS)
        config = config_from_flags(NgramBaselineConfig, args, NGRAM_FLAGS)
        manifest = train_ngram_bundle(
            paths, args.out, splits=splits, config=config, refit_processes=args.refit_processes, **common
        )
    if args.json:
        print(json.dumps(manifest.metrics, indent=2))
    else:
        print(f"bundle written to {args.out}; grouped hold-out ({manifest.split.n_holdout} texts):\n")
        _print_holdout(manifest)
        print(f"\ntimings: {manifest.training['timings']}")
    return EXIT_OK


def _train_transformer(args: argparse.Namespace) -> int:
    from humanlike.training.models.transformer import train_transformer_checkpoint

    splits: SplitConfig = config_from_flags(SplitConfig, args, SPLIT_FLAGS)
    meta = train_transformer_checkpoint(
        corpus_paths(args.corpus),
        args.out,
        seed=splits.seed,
        holdout_fraction=splits.holdout_fraction,
        calibration_fraction=splits.calibration_fraction,
        config=transformer_config(args, splits.seed),
        base_model=args.base_model,
        mapping=field_mapping(args),
        sample_size=splits.sample_size,
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
            paths = corpus_paths(args.corpus)
        except FileNotFoundError as e:
            print(
                f"no labelled texts to calibrate on ({e}): the bundle will have no thresholds",
                file=sys.stderr,
            )
    manifest = build_zero_shot_bundle(
        args.out,
        corpus_paths=paths,
        config=config_from_flags(ZeroShotConfig, args, ["calibration_size", "precision"]),
        seed=args.seed or 0,
        mapping=field_mapping(args),
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
    from humanlike.training.models.transformer_graph import export_bundles

    written = export_bundles(
        args.checkpoint,
        corpus_paths(args.corpus),
        args.out,
        precisions=args.precision,
        mapping=field_mapping(args),
        progress=not args.no_progress,
    )
    for precision, manifest in written.items():
        held = manifest.split.n_holdout
        print(f"{precision}: bundle {args.out / precision}; grouped hold-out ({held} texts):")
        _print_holdout(manifest)
        print()
    return EXIT_OK
