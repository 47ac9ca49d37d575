"""``humanlike score``, ``rank`` and ``info``: the runtime alone (no training stack is imported)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from humanlike.cli.common import EXIT_FAILURE, EXIT_OK, CliError, add_progress_arg
from humanlike.detector.devices import DEVICES

BATCH_SIZE = 64
"""Texts per runtime call for score and rank; the runtime plans its own window batches within it."""


def configure(name: str, parser: argparse.ArgumentParser) -> None:
    parser.add_argument("bundle", type=Path)
    if name == "info":
        parser.add_argument("--device", choices=DEVICES, default="auto")
        parser.add_argument(
            "--card",
            action="store_true",
            help="print the bundle's model card (README.md) instead of the summary",
        )
        parser.set_defaults(handler=cmd_info)
        return
    if name == "score":
        parser.add_argument("texts", nargs="*", metavar="TEXT", help="texts to score (default: read lines)")
        parser.add_argument("--input", type=Path, help="read from FILE instead of stdin, one input per line")
        parser.add_argument(
            "--jsonl", action="store_true", help="input lines are JSON objects with a text field"
        )
        parser.add_argument(
            "--windows",
            action="store_true",
            help="add each text's per-window scores (character spans, p_llm)",
        )
        parser.set_defaults(handler=cmd_score)
    else:
        parser.add_argument("input", type=Path, help="JSONL, one object with a text field per line")
        parser.add_argument("--out", type=Path, required=True, help="ranked JSONL to write")
        parser.add_argument(
            "--errors", type=Path, help="where unscorable lines go (default OUT.errors.jsonl)"
        )
        add_progress_arg(parser)
        parser.set_defaults(handler=cmd_rank)
    parser.add_argument("--text-field", default="text", help="the text's field in JSON lines (default: text)")
    parser.add_argument("--device", choices=DEVICES, default="auto")
    parser.add_argument(
        "--batch-size", type=int, default=BATCH_SIZE, help=f"texts per runtime call (default: {BATCH_SIZE})"
    )


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


def cmd_info(args: argparse.Namespace) -> int:
    from humanlike.detector import Detector
    from humanlike.detector.card import MODEL_CARD_FILE

    detector = Detector(args.bundle, device=args.device)  # verifies every checksummed file, the card too
    manifest = detector.manifest
    card = detector.path / MODEL_CARD_FILE
    if args.card:
        if not card.is_file():
            raise CliError(f"{args.bundle} has no model card (built before humanlike wrote them)")
        print(card.read_text(encoding="utf-8"), end="")
        return EXIT_OK
    print(
        json.dumps(
            {
                "model": detector.info.__dict__,
                "model_card": str(card) if card.is_file() else None,
                "calibration": manifest.calibration.model_dump(),
                "corpus": manifest.corpus.model_dump(),
                "created_at": manifest.created_at,
                "holdout_auroc": manifest.metrics.get("holdout", {}).get("all", {}).get("auroc"),
            },
            indent=2,
        )
    )
    return EXIT_OK
