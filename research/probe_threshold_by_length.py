"""Does the default's 1% threshold keep its promise for short texts, students, and each domain? A
probe on the recorded logits.

The shipped bundle's thresholds are chosen on human texts scored out of source. The protocol's
threshold transfer (``OOS-thr FPR``) measures that promise per source: for each free-form source fold,
the 1% threshold of the other folds' unseen human texts, applied to this fold's. This probe splits the
same measurement by text length (words) and compares two ways of choosing the threshold:

- **one threshold** for every text, as the bundle ships;
- **one threshold per length band**, each the 1% point of the other folds' unseen human texts of that
  band (a band with fewer than ``--min-humans`` of them falls back to the single threshold).

For each band: the share of the left-out folds' human texts flagged (pooled over folds), and the share
of their LLM texts caught, under both. Then, under the single threshold, the share of each fold's human
texts flagged per ``domain`` (a source's humans are not one population: one domain can carry a
source's whole excess). Nothing is refitted: it reads a report's ``.scores.npz`` and
rebuilds the folds' texts from the corpus.

    python research/probe_threshold_by_length.py \
        [--report research/results/generalization-30k-2026-11-30.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
from protocol_run import ProtocolRun

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))  # benchlib: how a result is recorded
from benchlib import command, machine, now

TARGET_FPR = 0.01
BANDS = (0, 50, 100, 200, 400)
"""Lower bounds, in words, of the length bands."""
DEFAULT_MEMBERS = ("ngram-c1", "ngram-c1-distorted-300")


def band_of(n_words: np.ndarray) -> np.ndarray:
    return np.searchsorted(np.array(BANDS), n_words, side="right") - 1


def band_name(b: int) -> str:
    return f"{BANDS[b]}+" if b == len(BANDS) - 1 else f"{BANDS[b]}-{BANDS[b + 1] - 1}"


def cut(humans: np.ndarray) -> float:
    return float(np.quantile(humans, 1 - TARGET_FPR, method="higher"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--report",
        type=Path,
        default=Path(__file__).parent / "results" / "generalization-30k-2026-11-30.json",
    )
    parser.add_argument("--corpus", default="../shared/corpus")
    parser.add_argument("--members", nargs="+", default=list(DEFAULT_MEMBERS))
    parser.add_argument("--min-humans", type=int, default=1000)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    run = ProtocolRun(args.report, args.corpus)
    members = tuple(args.members)
    score = {f: run.standardised(f, members).mean(axis=1) for f in run.free}
    label = {f: run.labels(f) for f in run.free}
    band = {f: band_of(np.array([len(t.split()) for t in run.texts(f)])) for f in run.free}
    domain = {f: np.array([run.records[i].domain for i in run.test[f]]) for f in run.free}

    flagged: dict[str, dict[str, np.ndarray]] = {"one threshold": {}, "per length band": {}}
    fallbacks: dict[str, list[str]] = {}
    for fold in run.free:
        others = [g for g in run.free if g != fold]
        humans = np.concatenate([score[g][label[g] == 0] for g in others])
        human_bands = np.concatenate([band[g][label[g] == 0] for g in others])
        single = cut(humans)
        per_band = np.full(len(BANDS), single)
        for b in range(len(BANDS)):
            in_band = humans[human_bands == b]
            if in_band.size >= args.min_humans:
                per_band[b] = cut(in_band)
            else:
                fallbacks.setdefault(fold, []).append(band_name(b))
        flagged["one threshold"][fold] = score[fold] > single
        flagged["per length band"][fold] = score[fold] > per_band[band[fold]]

    def share(hit: np.ndarray, where: np.ndarray) -> float | None:
        return round(float(hit[where].mean()), 4) if where.any() else None

    result: dict[str, Any] = {"by_band": {}, "by_fold": {}, "by_domain": {}, "summary": {}}
    for b in range(len(BANDS)):
        row: dict[str, Any] = {
            "n_human": int(sum((band[f] == b)[label[f] == 0].sum() for f in run.free)),
            "n_llm": int(sum((band[f] == b)[label[f] == 1].sum() for f in run.free)),
        }
        for way, hits in flagged.items():
            hit = np.concatenate([hits[f] for f in run.free])
            bands = np.concatenate([band[f] for f in run.free])
            y = np.concatenate([label[f] for f in run.free])
            row[way] = {
                "human_flagged": share(hit, (bands == b) & (y == 0)),
                "llm_caught": share(hit, (bands == b) & (y == 1)),
            }
        result["by_band"][band_name(b)] = row
    for way, hits in flagged.items():
        per_fold_fpr = {f: float(hits[f][label[f] == 0].mean()) for f in run.free}
        short_fpr = {
            f: float(hits[f][(label[f] == 0) & (band[f] == 0)].mean())
            for f in run.free
            if ((label[f] == 0) & (band[f] == 0)).sum() >= 20
        }
        for f in run.free:
            result["by_fold"].setdefault(f, {})[way] = {
                "human_flagged": round(per_fold_fpr[f], 4),
                "llm_caught": round(float(hits[f][label[f] == 1].mean()), 4),
            }
        result["summary"][way] = {
            "mean_fold_fpr": round(float(np.mean(list(per_fold_fpr.values()))), 4),
            "worst_fold_fpr": round(max(per_fold_fpr.values()), 4),
            "worst_fold": max(per_fold_fpr, key=per_fold_fpr.__getitem__),
            "students_fpr (comnets)": round(per_fold_fpr.get("source=comnets", float("nan")), 4),
            "worst_short_text_fpr (under 50 words, folds with 20+)": round(max(short_fpr.values()), 4)
            if short_fpr
            else None,
            "mean_fold_tpr": round(float(np.mean([hits[f][label[f] == 1].mean() for f in run.free])), 4),
        }

    for f in run.free:
        humans = label[f] == 0
        result["by_domain"][f] = {
            d: {
                "n_human": int((humans & (domain[f] == d)).sum()),
                "human_flagged": share(flagged["one threshold"][f], humans & (domain[f] == d)),
            }
            for d in sorted(set(domain[f][humans].tolist()))
        }
    print(f"{'band (words)':>14} {'humans':>7} {'llm':>6}  " + "  ".join(f"{w:>30}" for w in flagged))
    for name, row in result["by_band"].items():
        cells = "  ".join(
            f"FPR {row[w]['human_flagged'] or 0:6.3f}  TPR {row[w]['llm_caught'] or 0:6.3f}      "
            for w in flagged
        )
        print(f"{name:>14} {row['n_human']:7d} {row['n_llm']:6d}  {cells}")
    for way, s in result["summary"].items():
        print(way, json.dumps(s))
    for f, by_domain in result["by_domain"].items():
        worst = max(by_domain, key=lambda d: by_domain[d]["human_flagged"] or 0)
        if len(by_domain) > 1 and (by_domain[worst]["human_flagged"] or 0) > 2 * TARGET_FPR:
            row = by_domain[worst]
            print(f"{f}: {worst} flagged {row['human_flagged']:.3f} of {row['n_human']}")
    if fallbacks:
        print("bands with too few other-fold humans (single threshold used):", json.dumps(fallbacks))
    if args.out:
        out = {
            "benchmark": "1% threshold by text length, out of source (free-form folds)",
            "date": now(),
            "command": command(),
            "machine": machine(),
            "report": str(args.report),
            "members": list(members),
            "bands_words": list(BANDS),
            "min_humans": args.min_humans,
            "fallbacks": fallbacks,
            **result,
        }
        args.out.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
