"""How close ``humanlike estimate`` comes to the true LLM share of a corpus from a source it never saw.

From a generalization-protocol run (``humanlike generalization``: its report and ``.scores.npz``), for
every ``source=S`` fold and one candidate recipe:

- the *corpus*: mixtures of S's test texts at known LLM shares (:data:`SHARES`), each drawn
  without replacement, ``repeats`` times, all of one size per fold (at most ``mixture_size``), scored
  by the refit that never saw S;
- the *reference*, as a bundle would carry it: every other source fold's own texts, each scored by the
  refit that never saw that source, of S's data types, kept as per-source quantiles
  (:func:`humanlike.estimate.quantile_reference`);
- with ``reference_human`` texts: that many of S's human texts, set apart from every mixture.

Per method: the absolute error of each estimate, and for the methods given ``n_bootstrap``, whether
its 95% interval holds the true share.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from humanlike.estimate import METHODS, Method, estimate_shares, of_data_types, quantile_reference
from humanlike.training.data.corpus import labels_of
from humanlike.training.data.readers import load_corpus
from humanlike.training.evaluation.generalization import protocol_folds
from humanlike.training.evaluation.leave_out import sampled_test

SHARES = (0.0, 0.01, 0.05, 0.1, 0.25, 0.5, 0.75)


FoldLogits = dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]
"""Per source fold: (logits, labels, sources, data types) of its test texts."""


def fold_logits(corpus_paths: Sequence[str], report_path: Path, candidate: str) -> FoldLogits:
    """The test texts of each source fold of a generalization report, with the candidate's logits."""
    report = json.loads(report_path.read_text(encoding="utf-8"))
    stored = np.load(report_path.with_suffix(".scores.npz"))
    records, _ = load_corpus(corpus_paths)
    if report["n_records"] != len(records):
        raise ValueError(
            f"{report_path} was run on {report['n_records']} records, this corpus has {len(records)}"
        )
    out = {}
    for fold in protocol_folds(records):
        key = f"{fold.name}|{candidate}|test"
        if not fold.name.startswith("source=") or key not in stored:
            continue
        fold = sampled_test(records, fold, report["max_test"], report["seed"])
        logits = stored[key].astype(np.float64)
        if len(logits) != len(fold.test):
            raise ValueError(f"{key}: {len(logits)} logits for {len(fold.test)} test texts")
        sources = np.array([records[i].source for i in fold.test])
        dtypes = np.array([records[i].data_type for i in fold.test])
        out[fold.name.split("=", 1)[1]] = (logits, labels_of(records, fold.test), sources, dtypes)
    if not out:
        raise ValueError(f"{report_path} holds no source fold of candidate {candidate!r}")
    return out


def validate(
    folds: FoldLogits,
    *,
    methods: Sequence[Method] = METHODS,
    interval_methods: Sequence[Method] = ("hdy", "dys", "bbe"),
    mixture_size: int = 2000,
    reference_human: int = 500,
    repeats: int = 3,
    n_bootstrap: int = 200,
    min_mixture: int = 100,
    seed: int = 0,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """The validation table (see the module docstring) as a JSON-ready dict."""
    rows: list[dict[str, Any]] = []
    skipped: dict[str, str] = {}
    for source, (logits, labels, sources, dtypes) in folds.items():
        own = sources == source
        kinds = sorted(set(dtypes[own].tolist()))
        parts = [
            (lg[keep], lb[keep], s[keep], d[keep])
            for name, (lg, lb, s, d) in folds.items()
            if name != source
            for keep in [s == name]
        ]
        logits_r, labels_r, sources_r, dtypes_r = (np.concatenate([p[k] for p in parts]) for k in range(4))
        reference = quantile_reference(
            logits_r,
            labels_r,
            sources_r,
            dtypes_r,
            fitted_on="the other source folds' texts, each scored by the refit that never saw its source",
        )
        if not of_data_types(reference, kinds).llm:
            skipped[source] = f"no other fold has LLM texts of {', '.join(kinds)}"
            log(f"{source:<24} skipped: {skipped[source]}")
            continue
        rng = np.random.default_rng(seed)
        humans = rng.permutation(np.flatnonzero(own & (labels == 0)))
        llm = np.flatnonzero(own & (labels == 1))
        n_ref = min(reference_human, len(humans) // 2)
        ref_humans, pool = humans[:n_ref], humans[n_ref:]
        size = min(
            [mixture_size]
            + [int(len(pool) / (1 - s)) for s in SHARES]
            + [int(len(llm) / s) for s in SHARES if s]
        )
        if size < min_mixture or n_ref == 0:
            skipped[source] = f"{len(pool)} human and {len(llm)} LLM texts: no mixture of {min_mixture}"
            log(f"{source:<24} skipped: {skipped[source]}")
            continue
        targets: dict[str, np.ndarray] = {}
        for share in SHARES:
            for r in range(repeats):
                n_llm = round(share * size)
                draw = np.concatenate(
                    [rng.choice(pool, size - n_llm, replace=False), rng.choice(llm, n_llm, replace=False)]
                )
                targets[f"{share}|{r}"] = logits[draw]
        for mode, ref_h in (("bundle reference", None), ("in-domain human reference", logits[ref_humans])):
            for method in methods:
                boot = n_bootstrap if method in interval_methods else 0
                estimates = estimate_shares(
                    targets,
                    reference,
                    reference_human=ref_h,
                    method=method,
                    data_types=kinds,
                    n_bootstrap=boot,
                    seed=seed,
                )
                for key, e in estimates.items():
                    share = float(key.split("|")[0])
                    rows.append(
                        {
                            "source": source,
                            "data_types": kinds,
                            "mode": mode,
                            "method": method,
                            "true": share,
                            "estimate": e.share,
                            "ci": list(e.ci) if boot else None,
                            "n": e.n,
                            "n_reference_human": n_ref if ref_h is not None else None,
                        }
                    )
        errors = {
            mode: [
                abs(r["estimate"] - r["true"]) for r in rows if r["source"] == source and r["mode"] == mode
            ]
            for mode in ("bundle reference", "in-domain human reference")
        }
        log(
            f"{source:<24} n={size:<5} MAE (all methods): {np.mean(errors['bundle reference']):.3f}, "
            f"with a reference {np.mean(errors['in-domain human reference']):.3f}"
        )
    return {
        "shares": list(SHARES),
        "mixture_size": mixture_size,
        "repeats": repeats,
        "n_bootstrap": n_bootstrap,
        "rows": rows,
        "skipped": skipped,
        "summary": summarize(rows),
    }


def summarize(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Per mode and method: mean and worst absolute error, interval coverage, the largest estimate of
    an all-human corpus; overall, over free-form folds, and per source."""
    out: dict[str, Any] = {}
    for mode in sorted({r["mode"] for r in rows}):
        out[mode] = {}
        for method in sorted({r["method"] for r in rows}):
            mine = [r for r in rows if r["mode"] == mode and r["method"] == method]

            def stats(rs: Sequence[dict[str, Any]]) -> dict[str, Any]:
                errors = [abs(r["estimate"] - r["true"]) for r in rs]
                with_ci = [r for r in rs if r["ci"] is not None]
                zero = [r["estimate"] for r in rs if r["true"] == 0]
                return {
                    "mae": round(float(np.mean(errors)), 4),
                    "worst": round(float(np.max(errors)), 4),
                    "coverage": round(
                        float(np.mean([r["ci"][0] <= r["true"] <= r["ci"][1] for r in with_ci])), 3
                    )
                    if with_ci
                    else None,
                    "max_at_zero": round(float(np.max(zero)), 4) if zero else None,
                    "n": len(rs),
                }

            free = [r for r in mine if r["data_types"] == ["free_form"]]
            out[mode][method] = {
                "all": stats(mine),
                "free_form": stats(free) if free else None,
                "by_source": {
                    s: stats([r for r in mine if r["source"] == s])
                    for s in sorted({r["source"] for r in mine})
                },
            }
    return out
