"""Does the zero-shot LM criterion add to the n-gram on sources it never saw? A sampled probe.

The zero-shot bundle (SmolLM2-135M, the Fast-DetectGPT criterion; no training) reads about 2-4 texts/s
on 2 cores, too slow for the protocol's ~60,000 test texts. This probe takes, from each free-form
source fold and the newest-generators fold of a generalization report, a stratified sample of its test
texts (``--per-fold``, half human), scores them with the zero-shot bundle, and compares on exactly those
texts: the recorded candidates (their logits are in the report's ``.scores.npz``), the zero-shot
criterion, and stacks of them. A stack standardises each member on human texts its fold never saw
in training (the recorded candidates: their held-apart humans; the zero-shot criterion: a shared pool
of human texts from the other sources) and averages, as the protocol's stacks do.

AUROC only: 50 human texts per fold cannot measure a 1% false-positive rate.

    python research/probe_zero_shot_stack.py --bundle artifacts/zero-shot
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

from humanlike.detector import Detector
from humanlike.training.data.corpus import labels_of, texts_of
from humanlike.training.data.readers import load_corpus
from humanlike.training.evaluation.generalization import protocol_folds
from humanlike.training.evaluation.leave_out import sampled_test

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))  # benchlib: how a result is recorded
from benchlib import machine


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bundle", type=Path, required=True, help="the zero-shot bundle")
    parser.add_argument(
        "--report", type=Path, default=Path(__file__).parent / "results" / "generalization-2026-11-30.json"
    )
    parser.add_argument("--corpus", default="../shared/corpus")
    parser.add_argument("--per-fold", type=int, default=100, help="test texts per fold, half human")
    parser.add_argument("--pool", type=int, default=400, help="human texts to standardise the criterion")
    parser.add_argument("--members", nargs="+", default=["ngram-c1", "transformer"])
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).parent / "results" / "zero-shot-stack-2026-11-30.json"
    )
    args = parser.parse_args()

    report = json.loads(args.report.read_text())
    stored = dict(np.load(args.report.with_suffix(".scores.npz")))
    records, _ = load_corpus([args.corpus])
    folds = [sampled_test(records, f, report["max_test"], report["seed"]) for f in protocol_folds(records)]
    data_types = {(r["fold"]): r["data_types"] for r in report["folds"]}
    folds = [f for f in folds if f.name == "newest-generators" or data_types.get(f.name) == ["free_form"]]
    rng = np.random.default_rng(report["seed"])
    detector = Detector(args.bundle)

    # The criterion's human pool: human texts of every free-form source, none from a fold's own source
    # is used for that fold.
    source = np.array([r.source for r in records])
    humans = np.flatnonzero(labels_of(records, np.arange(len(records))) == 0)
    humans = humans[np.isin(source[humans], [f.name.removeprefix("source=") for f in folds])]
    pool = rng.choice(humans, size=min(args.pool, len(humans)), replace=False)
    started = time.perf_counter()
    pool_logits = detector.llm_logits(texts_of(records, pool))

    rows = []
    for fold in folds:
        y = labels_of(records, fold.test)
        picked = np.concatenate(
            [rng.choice(np.flatnonzero(y == k), args.per_fold // 2, replace=False) for k in (0, 1)]
        )
        zero_shot = detector.llm_logits(texts_of(records, fold.test[picked]))
        others = pool_logits[source[pool] != fold.name.removeprefix("source=")]
        z = {"zero-shot": (zero_shot - others.mean()) / others.std()}
        auroc = {"zero-shot": roc_auc_score(y[picked], zero_shot)}
        for m in args.members:
            test, held = stored[f"{fold.name}|{m}|test"][picked], stored[f"{fold.name}|{m}|held"]
            z[m] = (test - held.mean()) / held.std()
            auroc[m] = roc_auc_score(y[picked], test)
        stacks = {
            "+".join(names): np.mean([z[n] for n in names], axis=0)
            for names in [
                (args.members[0], "zero-shot"),
                tuple(args.members),
                (*args.members, "zero-shot"),
            ]
        }
        auroc.update({name: roc_auc_score(y[picked], s) for name, s in stacks.items()})
        rows.append(
            {"fold": fold.name, "n": len(picked), "auroc": {k: round(v, 4) for k, v in auroc.items()}}
        )
        print(fold.name, " ".join(f"{k} {v:.3f}" for k, v in auroc.items()), flush=True)

    names = list(rows[0]["auroc"])
    sources = [r for r in rows if r["fold"].startswith("source=")]
    summary = {
        n: {
            "free_form_sources_mean_auroc": round(float(np.mean([r["auroc"][n] for r in sources])), 4),
            "newest_generators_auroc": next(r["auroc"][n] for r in rows if r["fold"] == "newest-generators"),
        }
        for n in names
    }
    result = {
        "probe": __doc__.split("\n\n")[0],
        "command": "python " + " ".join(sys.argv),
        "machine": machine(),
        "date": time.strftime("%Y-%m-%d"),
        "report": str(args.report),
        "bundle": str(args.bundle),
        "per_fold": args.per_fold,
        "pool": len(pool),
        "seconds": round(time.perf_counter() - started, 1),
        "summary": summary,
        "folds": rows,
    }
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\n{'candidate':<40} {'LOSO free-form':>14} {'newest':>7}")
    for n, s in summary.items():
        print(f"{n:<40} {s['free_form_sources_mean_auroc']:>14.3f} {s['newest_generators_auroc']:>7.3f}")


if __name__ == "__main__":
    main()
