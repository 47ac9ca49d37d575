"""The generalization protocol: how a detector recipe does on sources and generators it never saw.

Folds, on the whole corpus directory:

- ``source=S`` for every source that has both labels: the test is S's texts (and the human texts paired
  with them); the training side is every other source, minus every group that touches the test;
- ``newest-generators``: the test is every LLM text of the newest families (:data:`NEWEST`: gpt-4o,
  gpt-4-turbo, claude-3-*, gemini-*, llama-3-*) and the human texts paired with them; the training side
  holds no text of those families;
- ``edits``: the test is every LLM text made by editing another (:func:`is_edit`: polished,
  paraphrased, rewritten, humanized) and the human texts paired with them; the training side holds no
  edited text. Its ``own_tpr`` is the recall at the candidate's own 1% threshold.

Every candidate recipe is fitted on the same training side of a fold (a grouped 10% of it set apart to
choose the recipe's own thresholds) and scores the same test texts. Per fold and candidate:

- AUROC, and TPR at 1% FPR (the threshold that flags 1% of the test's human texts);
- ``own_fpr``: the share of the test's human texts that the candidate's *own* 1% threshold flags, the
  threshold chosen as a bundle's is, on human texts of its training side;
- the test's logits and the training side's held-apart human logits, kept beside the report
  (``.scores.npz``): :func:`threshold_transfer` asks from them what a threshold chosen on
  *unseen-source* human texts does on yet another unseen source, and a *stack* candidate combines
  other candidates' logits without a fit of its own.

Candidates are of three kinds: the n-gram model (fitted here, on CPU), the fine-tuned encoder (fitted
with the same code as ``humanlike train --model transformer``, on CUDA where there is one: 17 CPU
fine-tunes do not fit in a working session, so its rows may come from another machine's report,
joined with ``--merge``), and stacks of those.

The report is written after every fold and a rerun skips the folds it holds: a run may stop and resume.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from humanlike.detector.atomic import atomic_writer, write_text_atomic
from humanlike.detector.normalize import Normalization, normalize_text
from humanlike.training.config import (
    EncoderConfig,
    NgramBaselineConfig,
    ProtocolConfig,
    SurprisalConfig,
    TransformerConfig,
)
from humanlike.training.data.balance import Balance, balanced_indices
from humanlike.training.data.corpus import labels_of, sample_indices
from humanlike.training.data.readers import load_corpus
from humanlike.training.data.schema import CorpusRecord
from humanlike.training.data.splits import LeaveOutColumns, Split, holdout_split, leave_out
from humanlike.training.evaluation.leave_out import TARGET_FPR, FoldScores, Scorer, sampled_test, score_folds
from humanlike.training.evaluation.metrics import binary_metrics
from humanlike.training.kinds import DetectorKind, make_kind

NEWEST_EXACT = ("gpt-4o", "gpt-4-turbo")
NEWEST_PREFIXES = ("claude-3", "gemini-", "llama-3-")


EDIT_VARIANT = re.compile(r"polish|paraphras|rewrite|rephras|humaniz", re.IGNORECASE)


def is_edit(variant: str | None) -> bool:
    """An LLM text made by editing another text (polished, paraphrased, rewritten, humanized): the
    edits fold leaves every one of them out."""
    return variant is not None and EDIT_VARIANT.search(variant) is not None


def is_newest(generator: str) -> bool:
    """One of the families the newest-generators fold leaves out."""
    return generator in NEWEST_EXACT or generator.startswith(NEWEST_PREFIXES)


@dataclass(frozen=True)
class Candidate:
    """A recipe: which texts the model trains on, how it reads them, and the model.

    The model is a detector kind (:mod:`humanlike.training.kinds`) with its configuration, unless
    ``stack`` names other candidates (no fit: their logits, each standardised on its own held-apart
    human texts of the training side, averaged).
    """

    balance: Balance | None
    """None: a uniform sample of the training side, as large as the balanced one would be."""
    kind: str = "ngram"
    config: Any = None
    """The kind's configuration (its estimator's ``config``)."""
    normalization: Normalization = "none"
    """Applied to every text before the model reads it, training and test alike."""
    stack: tuple[str, ...] = ()

    def estimator(self, seed: int = 0) -> DetectorKind:
        """An unfitted estimator of the candidate's model."""
        model = make_kind(self.kind, config=self.config)
        if "seed" in model.get_params():
            model.set_params(seed=seed)
        return model

    def describe(self) -> dict[str, Any]:
        if self.stack:
            return {
                "stack": list(self.stack),
                "combination": "mean of logits standardised on held-apart humans",
            }
        return {
            "balance": asdict(self.balance) if self.balance else None,
            "normalization": self.normalization,
            **self.estimator().recipe(),
        }


SMALL_NGRAM = NgramBaselineConfig(
    max_word_features=100_000,
    max_char_features=150_000,
    C=10.0,
    distorted_view_words=None,
    surprisal_view=None,
)
"""The n-gram at the protocol's budget (17 folds x every candidate must fit in a working session), with
the penalty the n-gram had before the protocol chose C=1; spelled out so that the recorded candidates
keep their meaning whatever the defaults become."""

CANDIDATES: dict[str, Candidate] = {
    "ngram": Candidate(balance=None, config=SMALL_NGRAM),
    "ngram-balanced": Candidate(balance=Balance(), config=SMALL_NGRAM),
    "ngram-balanced-normalized": Candidate(balance=Balance(), normalization="v1", config=SMALL_NGRAM),
    # a 10x stronger penalty: fewer, broader n-gram weights, less room to memorise a source's topics
    "ngram-balanced-normalized-c1": Candidate(
        balance=Balance(), normalization="v1", config=dataclasses.replace(SMALL_NGRAM, C=1.0)
    ),
    "ngram-c1": Candidate(balance=None, config=dataclasses.replace(SMALL_NGRAM, C=1.0)),
    "ngram-balanced-normalized-c03": Candidate(
        balance=Balance(), normalization="v1", config=dataclasses.replace(SMALL_NGRAM, C=0.3)
    ),
    # The product's fine-tuning recipe (128-token windows, frozen word embeddings, one epoch) on the
    # protocol's budget of texts; no wall-clock stop, so that the result does not depend on the machine.
    "transformer": Candidate(
        balance=None,
        kind="transformer",
        config=TransformerConfig(max_train_texts=None, time_budget_s=None, eval_every=100),
    ),
    "encoder-lr": Candidate(balance=None, kind="encoder-lr", config=EncoderConfig()),
    # topic-blind n-grams: words outside the 300 / 1000 most frequent masked (training side only)
    "ngram-c1-distorted-300": Candidate(
        balance=None, config=dataclasses.replace(SMALL_NGRAM, C=1.0, distort_top_words=300)
    ),
    "ngram-c1-distorted-1000": Candidate(
        balance=None, config=dataclasses.replace(SMALL_NGRAM, C=1.0, distort_top_words=1000)
    ),
    # mirror pairs: the LLM-minus-human differences inside pairs fitted beside the texts
    "ngram-c1-pairs": Candidate(
        balance=None, config=dataclasses.replace(SMALL_NGRAM, C=1.0, pair_contrast=1.0)
    ),
    # the pairs' differences weighing five times a text (the fit then leans on them, not on the texts)
    "ngram-c1-pairs-5": Candidate(
        balance=None, config=dataclasses.replace(SMALL_NGRAM, C=1.0, pair_contrast=5.0)
    ),
    # group-robust: every source weighs the same
    "ngram-c1-sources": Candidate(
        balance=None, config=dataclasses.replace(SMALL_NGRAM, C=1.0, source_weighting=True)
    ),
    "ngram-c1-distorted-300-pairs": Candidate(
        balance=None,
        config=dataclasses.replace(SMALL_NGRAM, C=1.0, distort_top_words=300, pair_contrast=1.0),
    ),
    "ngram-c1-distorted-300-sources": Candidate(
        balance=None,
        config=dataclasses.replace(SMALL_NGRAM, C=1.0, distort_top_words=300, source_weighting=True),
    ),
    "stack-ngram-c1-distorted-300-pairs": Candidate(
        balance=None, stack=("ngram-c1-pairs", "ngram-c1-distorted-300-pairs")
    ),
    "stack-ngram-c1-distorted-300-sources": Candidate(
        balance=None, stack=("ngram-c1-sources", "ngram-c1-distorted-300-sources")
    ),
    # the shipped recipe (NgramBaselineConfig.distorted_view_words=300), here from stored logits
    "stack-ngram-c1-distorted-300": Candidate(balance=None, stack=("ngram-c1", "ngram-c1-distorted-300")),
    "stack-ngram-c1-distorted-1000": Candidate(balance=None, stack=("ngram-c1", "ngram-c1-distorted-1000")),
    "stack-ngram-c1-distorted-300-transformer": Candidate(
        balance=None, stack=("ngram-c1", "ngram-c1-distorted-300", "transformer")
    ),
    "stack-ngram-c1-transformer": Candidate(balance=None, stack=("ngram-c1", "transformer")),
    "stack-ngram-c1-encoder-lr": Candidate(balance=None, stack=("ngram-c1", "encoder-lr")),
    "stack-ngram-c1-transformer-encoder-lr": Candidate(
        balance=None, stack=("ngram-c1", "transformer", "encoder-lr")
    ),
    # topic-blind by construction: trees over how probable a text's words are in general English
    "surprisal": Candidate(balance=None, kind="surprisal", config=SurprisalConfig()),
    "stack-ngram-c1-distorted-300-surprisal": Candidate(
        balance=None, stack=("ngram-c1", "ngram-c1-distorted-300", "surprisal")
    ),
    "stack-ngram-c1-surprisal": Candidate(balance=None, stack=("ngram-c1", "surprisal")),
}
TRANSFORMER_KINDS = ("transformer", "encoder-lr")
DEFAULT_CANDIDATES = tuple(n for n, c in CANDIDATES.items() if c.kind not in TRANSFORMER_KINDS)
"""What ``humanlike generalization`` runs unless told: the encoder candidates read every text with a
transformer (the fine-tuned one trains on every fold, far the slowest on a CPU); their rows come from a GPU
run (docs/research/generalization.md)."""


def protocol_folds(records: Sequence[CorpusRecord]) -> list[Split]:
    """Every ``source=S`` fold with both labels, then the newest-generators fold."""
    none = np.array([], dtype=int)
    columns = LeaveOutColumns.of(records)
    sources = np.array([r.source for r in records])
    folds = [
        leave_out(records, sources == s, f"source={s}", none, columns)
        for s in sorted(set(sources.tolist()))
        if {"human", "llm"} <= set(columns.labels[sources == s].tolist())
    ]
    newest = np.array([r.label == "llm" and is_newest(r.generator) for r in records])
    folds.append(leave_out(records, newest, "newest-generators", none, columns))
    edits = np.array([r.label == "llm" and is_edit(r.variant) for r in records])
    folds.append(leave_out(records, edits, "edits", none, columns))
    return folds


def training_texts(
    records: Sequence[CorpusRecord], train: np.ndarray, candidate: Candidate, max_train: int, seed: int
) -> np.ndarray:
    """The indices a candidate fits on: balanced or uniform, at most ``max_train``, the same size for
    every candidate of a fold (the uniform one takes as many as the default balance would)."""
    rng = np.random.default_rng(seed)
    default_balanced = balanced_indices(records, train, Balance(), seed)
    budget = min(max_train, len(default_balanced))
    if candidate.balance is None:
        pool = train
    elif candidate.balance == Balance():
        pool = default_balanced  # the same draw, not computed twice
    else:
        pool = balanced_indices(records, train, candidate.balance, seed)
    return np.sort(rng.permutation(pool)[: min(budget, len(pool))])


def recipe_scorer(candidate: Candidate, max_train: int, seed: int) -> Scorer:
    """A scorer that fits ``candidate`` on the training side of a fold and scores the fold's test
    texts and the training side's held-apart human texts (a grouped 10%). A kind that stops early
    validates on texts of the training side outside the fit sample and the held-apart set."""

    def score(records: Sequence[CorpusRecord], fold: Split) -> FoldScores:
        side = [records[i] for i in fold.train]
        rest, calibration = holdout_split(side, 0.1, seed)
        fit_idx = training_texts(records, fold.train[rest], candidate, max_train, seed)
        cal = fold.train[calibration]
        cal_human = cal[labels_of(records, cal) == 0]
        model = candidate.estimator(seed)
        validation = None
        if candidate.kind == "transformer":
            others = np.setdiff1d(fold.train[rest], fit_idx)
            val_idx = sample_indices(records, others, candidate.config.validation_texts, seed)
            validation = _read_as(candidate, [records[i] for i in val_idx.tolist()])
        model.fit(_read_as(candidate, [records[i] for i in fit_idx.tolist()]), validation=validation)

        def logits(idx: np.ndarray) -> np.ndarray:
            texts = [r.text for r in _read_as(candidate, [records[i] for i in idx])]
            return np.asarray(model.decision_function(texts))

        return FoldScores(logits(fold.test), logits(cal_human), len(fit_idx))

    return score


def stack_scorer(members: Sequence[str], logits: dict[str, np.ndarray]) -> Scorer:
    """A scorer that fits nothing: the members' scores of the fold, as ``logits`` holds them when it
    is called (:func:`stack_scores`), or None where a member has none."""

    def score(records: Sequence[CorpusRecord], fold: Split) -> FoldScores | None:
        found = [_stored(logits, fold.name, m) for m in members]
        present = [m for m in found if m is not None]
        return stack_scores(present) if len(present) == len(found) else None

    return score


def _read_as(candidate: Candidate, records: list[CorpusRecord]) -> list[CorpusRecord]:
    """The records with their texts normalised as the candidate reads them."""
    if candidate.normalization == "none":
        return records
    return [r.model_copy(update={"text": normalize_text(r.text, candidate.normalization)}) for r in records]


def stack_scores(members: Sequence[FoldScores]) -> FoldScores:
    """The members' logits on one fold, each standardised by the mean and spread of its held-apart
    human logits (training side only: nothing of the test is used), averaged."""

    def standardised(s: FoldScores, x: np.ndarray) -> np.ndarray:
        h = s.held_apart_humans
        return np.asarray((x - h.mean()) / max(float(h.std()), 1e-9))

    return FoldScores(
        np.mean([standardised(m, m.test) for m in members], axis=0),
        np.mean([standardised(m, m.held_apart_humans) for m in members], axis=0),
        max(m.n_fit for m in members),
    )


def run_protocol(
    corpus_paths: Sequence[str],
    out: Path,
    *,
    candidates: Sequence[str] = tuple(CANDIDATES),
    budget: ProtocolConfig = ProtocolConfig(),
    only: Sequence[str] | None = None,
    redo: Sequence[str] = (),
    merge: Sequence[Path] = (),
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Runs (or resumes) the protocol; writes ``out`` (JSON) and ``out.scores.npz`` after every fold.

    ``budget`` is what every fit reads and every fold scores; ``redo`` names candidates whose rows are
    dropped and fitted again; ``merge`` names reports of the same protocol (same budget and seed) from
    elsewhere, another machine say, whose rows are taken in where ``out`` has none.
    """
    records, _ = load_corpus(corpus_paths)
    folds = [
        sampled_test(records, f, budget.max_test, budget.seed)
        for f in protocol_folds(records)
        if not only or f.name in only
    ]
    report: dict[str, Any] = {
        "protocol": __doc__.split("\n\n")[0] if __doc__ else "",
        "seed": budget.seed,
        "max_train": budget.max_train,
        "max_test": budget.max_test,
        "n_records": len(records),
        "candidates": {name: CANDIDATES[name].describe() for name in candidates},
        "folds": [],
    }
    scores_path = out.with_suffix(".scores.npz")
    logits: dict[str, np.ndarray] = {}
    for previous_path in [out, *merge]:
        if previous_path.exists():
            _take_rows(report, logits, previous_path, dropped=set(redo) if previous_path == out else set())
    done = {(f["fold"], f["candidate"]) for f in report["folds"]}
    scorers = {
        name: stack_scorer(CANDIDATES[name].stack, logits)
        if CANDIDATES[name].stack
        else recipe_scorer(CANDIDATES[name], budget.max_train, budget.seed)
        for name in candidates
    }
    data_type = np.array([r.data_type for r in records])
    for scored in score_folds(records, folds, scorers, skip=done, progress=progress, desc="generalization"):
        fold, name, scores = scored.fold, scored.candidate, scored.scores
        if scores is None:
            log(f"{fold.name:<28} {name:<26} skipped: not every member has this fold's logits")
            continue
        y = labels_of(records, fold.test)
        metrics = binary_metrics(y, 1 / (1 + np.exp(-scores.test)))
        humans = scores.test[y == 0]
        row = {
            "fold": fold.name,
            "candidate": name,
            "data_types": sorted(set(data_type[fold.test].tolist())),
            "n_train": scores.n_fit,
            "n_human": metrics["n_human"],
            "n_llm": metrics["n_llm"],
            "auroc": metrics["auroc"],
            "tpr_at_1pct_fpr": metrics["tpr_at_fpr"]["0.01"],
            "own_fpr": float(np.mean(humans > scores.threshold)) if humans.size else None,
            "own_tpr": float(np.mean(scores.test[y == 1] > scores.threshold)) if (y == 1).any() else None,
            "seconds": round(scored.seconds, 1),
        }
        report["folds"].append(row)
        logits[f"{fold.name}|{name}"] = humans
        logits[f"{fold.name}|{name}|test"] = scores.test.astype(np.float32)
        logits[f"{fold.name}|{name}|held"] = scores.held_apart_humans.astype(np.float32)
        logits[f"{fold.name}|{name}|n_fit"] = np.array([scores.n_fit])
        _write(out, report, scores_path, logits)
        log(
            f"{fold.name:<28} {name:<26} AUROC {row['auroc']:.3f}  TPR@1% {row['tpr_at_1pct_fpr']:.3f}  "
            f"own-threshold FPR {row['own_fpr']:.3f}  ({row['seconds']} s)"
        )
    report["summary"] = summarize(report, logits)
    _write(out, report, scores_path, logits)
    return report


def _take_rows(report: dict[str, Any], logits: dict[str, np.ndarray], path: Path, dropped: set[str]) -> None:
    """Takes in the rows (and their logits) of an earlier report of the same budget and seed, for each
    candidate whose recipe is unchanged (compared as JSON: tuples come back as lists) and not
    ``dropped``, where ``report`` has no row for that fold and candidate yet."""
    previous = json.loads(path.read_text(encoding="utf-8"))
    if any(previous.get(k) != report[k] for k in ("max_train", "max_test", "seed")):
        return
    described = json.loads(json.dumps(report["candidates"]))
    kept = {
        n for n, d in previous.get("candidates", {}).items() if described.get(n, d) == d and n not in dropped
    }
    report["candidates"] = {**{n: previous["candidates"][n] for n in kept}, **report["candidates"]}
    have = {(f["fold"], f["candidate"]) for f in report["folds"]}
    # A row is taken with its logits or not at all: the logits file is a build output (not committed),
    # and a row without them would leave threshold transfer and stacks without their inputs.
    stored = read_logits(path)
    taken = [
        f
        for f in previous["folds"]
        if f["candidate"] in kept
        and (f["fold"], f["candidate"]) not in have
        and f"{f['fold']}|{f['candidate']}" in stored
    ]
    report["folds"].extend(taken)
    keys = {(f["fold"], f["candidate"]) for f in taken}
    logits.update({k: v for k, v in stored.items() if tuple(k.split("|")[:2]) in keys})


def read_logits(report_path: Path) -> dict[str, np.ndarray]:
    """A report's logits by ``fold|candidate[|test|held|n_fit]``: its ``.scores.npz`` (what the protocol
    writes), else its ``.scores.json`` (the same arrays as lists, for logits kept in git, which cannot
    be rebuilt where they were fitted: a GPU's rows), else none."""
    npz, text = report_path.with_suffix(".scores.npz"), report_path.with_suffix(".scores.json")
    if npz.exists():
        with np.load(npz) as stored:
            return dict(stored.items())
    if text.exists():
        arrays = json.loads(text.read_text(encoding="utf-8"))
        return {
            k: np.asarray(v, dtype=np.int64 if k.endswith("|n_fit") else np.float32)
            for k, v in arrays.items()
        }
    return {}


def _stored(logits: dict[str, np.ndarray], fold: str, candidate: str) -> FoldScores | None:
    """A candidate's logits on a fold as the report keeps them, if it keeps them (older reports kept
    the test's human logits only)."""
    key = f"{fold}|{candidate}"
    if f"{key}|test" not in logits or f"{key}|held" not in logits:
        return None
    n_fit = int(logits[f"{key}|n_fit"][0]) if f"{key}|n_fit" in logits else 0
    return FoldScores(
        logits[f"{key}|test"].astype(np.float64), logits[f"{key}|held"].astype(np.float64), n_fit
    )


def _write(out: Path, report: dict[str, Any], scores_path: Path, logits: dict[str, np.ndarray]) -> None:
    # The scores first: a report never names folds whose scores are not on disk.
    with atomic_writer(scores_path) as f:
        np.savez(f, **logits)  # type: ignore[arg-type]
    write_text_atomic(out, json.dumps(report, indent=2) + "\n")


def threshold_transfer(human_logits: dict[str, np.ndarray], candidate: str) -> dict[str, float]:
    """Per source fold: the FPR on its unseen human texts of the 1% threshold chosen on the unseen
    human texts of every *other* source fold (each scored by the model that never saw it)."""
    per_fold = {
        k.split("|")[0]: v
        for k, v in human_logits.items()
        if k.startswith("source=") and k.count("|") == 1 and k.split("|")[1] == candidate
    }
    out = {}
    for name, humans in per_fold.items():
        rest = [v for k, v in per_fold.items() if k != name]
        others = np.concatenate(rest) if rest else np.array([])
        if humans.size and others.size:
            t = float(np.quantile(others, 1 - TARGET_FPR, method="higher"))
            out[name] = float(np.mean(humans > t))
    return out


def summarize(report: dict[str, Any], human_logits: dict[str, np.ndarray]) -> dict[str, Any]:
    """Per candidate: means over free-form source folds, over all source folds, the newest-generators
    fold, and both kinds of threshold's FPR on unseen-source human texts."""
    summary: dict[str, Any] = {}
    order = {name: i for i, name in enumerate(CANDIDATES)}  # a stable order, whatever ran first
    for name in sorted(report["candidates"], key=lambda n: order.get(n, len(order))):
        rows = [f for f in report["folds"] if f["candidate"] == name]
        sources = [f for f in rows if f["fold"].startswith("source=") and f["auroc"] is not None]
        free = [f for f in sources if f["data_types"] == ["free_form"]]
        newest = [f for f in rows if f["fold"] == "newest-generators"]
        edits = [f for f in rows if f["fold"] == "edits"]
        transfer = threshold_transfer(human_logits, name)

        def mean(values: list[float]) -> float | None:
            return round(float(np.mean(values)), 4) if values else None

        summary[name] = {
            "free_form_sources": {
                "n_folds": len(free),
                "mean_auroc": mean([f["auroc"] for f in free]),
                "min_auroc": round(min(f["auroc"] for f in free), 4) if free else None,
                "mean_tpr_at_1pct_fpr": mean([f["tpr_at_1pct_fpr"] for f in free]),
                "mean_own_fpr": mean([f["own_fpr"] for f in free]),
                "max_own_fpr": round(max(f["own_fpr"] for f in free), 4) if free else None,
                "mean_transferred_fpr": mean([transfer[f["fold"]] for f in free if f["fold"] in transfer]),
                "max_transferred_fpr": round(
                    max(transfer[f["fold"]] for f in free if f["fold"] in transfer), 4
                )
                if any(f["fold"] in transfer for f in free)
                else None,
            },
            "all_sources": {
                "n_folds": len(sources),
                "mean_auroc": mean([f["auroc"] for f in sources]),
                "mean_tpr_at_1pct_fpr": mean([f["tpr_at_1pct_fpr"] for f in sources]),
                "mean_own_fpr": mean([f["own_fpr"] for f in sources if f["own_fpr"] is not None]),
            },
            "newest_generators_auroc": newest[0]["auroc"] if newest else None,
            "newest_generators_tpr_at_1pct_fpr": newest[0]["tpr_at_1pct_fpr"] if newest else None,
            "edits_auroc": edits[0]["auroc"] if edits else None,
            "edits_own_tpr": edits[0].get("own_tpr") if edits else None,
        }
    return summary


def format_summary(report: dict[str, Any]) -> str:
    width = max([9, *(len(n) for n in report["summary"])])
    header = (
        f"{'candidate':<{width}} {'LOSO AUROC':>10} {'min':>6} {'TPR@1%':>7} {'own FPR':>8} {'max':>6} "
        f"{'OOS-thr FPR':>11} {'max':>6} {'newest AUROC':>12} {'edits AUROC':>11} {'edits recall':>12}"
    )
    lines = [
        "free-form source folds (mean), the newest-generators fold, and the edits fold (recall at the "
        "candidate's own 1% threshold)",
        header,
        "-" * len(header),
    ]

    def f(x: float | None) -> str:
        return "-" if x is None else f"{x:.3f}"

    for name, s in report["summary"].items():
        ff = s["free_form_sources"]
        cells = [
            f"{name:<{width}}",
            f"{f(ff['mean_auroc']):>10}",
            f"{f(ff['min_auroc']):>6}",
            f"{f(ff['mean_tpr_at_1pct_fpr']):>7}",
            f"{f(ff['mean_own_fpr']):>8}",
            f"{f(ff['max_own_fpr']):>6}",
            f"{f(ff['mean_transferred_fpr']):>11}",
            f"{f(ff['max_transferred_fpr']):>6}",
            f"{f(s['newest_generators_auroc']):>12}",
            f"{f(s.get('edits_auroc')):>11}",
            f"{f(s.get('edits_own_tpr')):>12}",
        ]
        lines.append(" ".join(cells))
    return "\n".join(lines)


def format_folds(report: dict[str, Any], names: Sequence[str] | None = None) -> str:
    """A Markdown table: one row per fold, AUROC / TPR at 1% FPR / own-threshold FPR per candidate
    (``names``, default all in the summary's order)."""
    names = list(names or report.get("summary") or report["candidates"])
    rows: dict[str, dict[str, dict[str, Any]]] = {}
    for f in report["folds"]:
        rows.setdefault(f["fold"], {})[f["candidate"]] = f
    head = "| fold | human | llm | " + " | ".join(names) + " |"
    lines = [
        "AUROC / TPR at 1% FPR / FPR of the candidate's own 1% threshold on the fold's human texts",
        "",
        head,
        "|" + "---|" * (3 + len(names)),
    ]
    for fold, by_candidate in rows.items():
        any_row = next(iter(by_candidate.values()))
        cells = []
        for name in names:
            r = by_candidate.get(name)
            cells.append(
                "-" if r is None else f"{r['auroc']:.3f} / {r['tpr_at_1pct_fpr']:.3f} / {r['own_fpr']:.3f}"
            )
        lines.append(f"| {fold} | {any_row['n_human']} | {any_row['n_llm']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
