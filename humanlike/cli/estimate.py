"""``humanlike estimate``: the share of a corpus that an LLM wrote, with a 95% interval, per slice.

Reads the runtime and :mod:`humanlike.estimate` only (no training stack), except ``--validate``, which
replays the generalization protocol's left-out sources
(:mod:`humanlike.training.evaluation.share_validation`).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from humanlike.cli.common import EXIT_FAILURE, EXIT_OK, UsageError, add_corpus_arg
from humanlike.detector.devices import DEVICES

DESCRIPTION = """\
Estimates the share of LLM-written texts in a corpus (JSONL, one object with a text field a line; a
label field, if any, is ignored), overall and per value of each --by field, each with a 95% interval.
It is a population estimate, not a count of flagged texts: the corpus's scores are matched against
the bundle's reference scores of human and LLM texts from sources its model never saw.

--reference-human: texts known to be human from the same place as the corpus (an archive from before
2022, a few hundred texts or more). Use it whenever you have them: human scores shift from one source
to the next, and that shift is the largest error of an estimate without them (see docs/estimate.md).
With it the default method changes (see --method), as the validation in docs/estimate.md chose;
--method bbe reads the human side alone, so the corpus's generators need not look like the bundle's.
"""


def configure(name: str, parser: argparse.ArgumentParser) -> None:
    from humanlike.estimate import DEFAULT_DATA_TYPES, DEFAULT_METHOD, DEFAULT_METHOD_WITH_REFERENCE, METHODS

    parser.description = DESCRIPTION
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("bundle", type=Path, nargs="?", help="the bundle whose scores and reference to use")
    parser.add_argument("corpus", type=Path, nargs="*", help="JSONL files to estimate (read together)")
    parser.add_argument(
        "--by", nargs="+", default=[], metavar="FIELD", help="also estimate per value of FIELD"
    )
    parser.add_argument(
        "--reference-human",
        type=Path,
        metavar="FILE",
        help="JSONL of texts known to be human, from the same place",
    )
    parser.add_argument("--text-field", default="text", help="the text's field in JSON lines (default: text)")
    parser.add_argument("--json", type=Path, metavar="OUT", help="write the estimate as JSON")
    parser.add_argument("--errors", type=Path, metavar="FILE", help="write unscorable lines here (JSONL)")
    parser.add_argument(
        "--method",
        choices=METHODS,
        help=f"quantification method (default: {DEFAULT_METHOD}, {DEFAULT_METHOD_WITH_REFERENCE} with "
        "--reference-human)",
    )
    parser.add_argument(
        "--data-type",
        nargs="+",
        default=list(DEFAULT_DATA_TYPES),
        help="the reference texts' data types to estimate against (default: free_form)",
    )
    parser.add_argument("--bootstrap", type=int, default=200, help="bootstrap replicates (default: 200)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", choices=DEVICES, default="auto")
    validation = parser.add_argument_group("validation (instead of BUNDLE CORPUS)")
    validation.add_argument(
        "--validate",
        type=Path,
        metavar="REPORT",
        help="replay a `humanlike generalization` report's left-out sources as mixtures at known shares",
    )
    validation.add_argument("--candidate", default="stack-ngram-c1-distorted-300", help="its recipe to use")
    validation.add_argument("--out", type=Path, help="where to write the validation report (JSON)")
    validation.add_argument(
        "--repeats", type=int, default=3, help="mixtures per share and source (default: 3)"
    )
    add_corpus_arg(validation)
    parser.set_defaults(handler=cmd_estimate)


def cmd_estimate(args: argparse.Namespace) -> int:
    if args.validate:
        return _validate(args)
    if args.bundle is None or not args.corpus:
        raise UsageError("give a BUNDLE and at least one CORPUS file (or --validate REPORT)")
    for path in [*args.corpus, *([args.reference_human] if args.reference_human else [])]:
        if not path.is_file():
            raise UsageError(f"{path} is not a file")
    from humanlike.detector import Detector
    from humanlike.detector.atomic import write_text_atomic
    from humanlike.estimate import corpus_report, score_corpus

    detector = Detector(args.bundle, device=args.device)
    reference = detector.manifest.share_reference
    if reference is None:
        raise UsageError(
            f"bundle {args.bundle} carries no share reference (built before format 6): retrain it"
        )
    reference_human = None
    if args.reference_human:
        ref = score_corpus(detector, [args.reference_human], text_field=args.text_field)
        if not len(ref.all):
            raise UsageError(f"{args.reference_human}: no scorable line")
        reference_human = ref.all
    scored = score_corpus(detector, args.corpus, by=args.by, text_field=args.text_field)
    if not len(scored.all):
        raise UsageError(f"no scorable line in {', '.join(map(str, args.corpus))}")
    report = corpus_report(
        scored,
        reference,
        reference_human=reference_human,
        method=args.method,
        data_types=args.data_type,
        n_bootstrap=args.bootstrap,
        seed=args.seed,
    )
    report["bundle"] = str(args.bundle)
    if args.errors:
        lines = [json.dumps({"file": f, "line": n, "reason": r}) + "\n" for f, n, r in scored.errors]
        write_text_atomic(args.errors, "".join(lines))
    if args.json:
        write_text_atomic(args.json, json.dumps(report, indent=2) + "\n")
    _print(report)
    if scored.errors:
        print(
            f"humanlike: {len(scored.errors)} of {scored.n_lines} line(s) could not be scored"
            + (f" (see {args.errors})" if args.errors else " (--errors FILE lists them)"),
            file=sys.stderr,
        )
    return EXIT_FAILURE if scored.errors else EXIT_OK


def _print(report: dict[str, Any]) -> None:
    def line(name: str, d: dict[str, Any]) -> str:
        lo, hi = d["ci"]
        return f"{name[:40]:<40} {d['n']:>8} {100 * d['share']:>7.1f}%  [{100 * lo:5.1f}, {100 * hi:5.1f}]"

    print(f"{'':<40} {'texts':>8} {'LLM share':>8}  95% interval   ({report['method']})")
    print(line("all", report))
    for field, values in report["by"].items():
        print(f"by {field}")
        for value, d in values.items():
            print(line("  " + value, d))


def _validate(args: argparse.Namespace) -> int:
    from humanlike.cli.common import corpus_paths
    from humanlike.detector.atomic import write_text_atomic
    from humanlike.training.evaluation.share_validation import fold_logits, validate

    if args.out is None:
        raise UsageError("--validate needs --out FILE")
    folds = fold_logits(corpus_paths(args.corpus), args.validate, args.candidate)
    report = validate(
        folds,
        repeats=args.repeats,
        n_bootstrap=args.bootstrap,
        seed=args.seed,
        log=lambda s: print(s, file=sys.stderr),
    )
    report = {"generalization_report": str(args.validate), "candidate": args.candidate, **report}
    write_text_atomic(args.out, json.dumps(report, indent=2) + "\n")
    for mode, methods in report["summary"].items():
        print(mode)
        for method, s in methods.items():
            a, f = s["all"], s["free_form"] or {}
            print(
                f"  {method:<5} MAE {a['mae']:.3f} worst {a['worst']:.3f} coverage {a['coverage']} "
                f"all-human max {a['max_at_zero']}; free-form MAE {f.get('mae')}"
            )
    return EXIT_OK
