"""How much of a corpus an LLM wrote: a corpus-level share with a 95% interval (quantification).

Counting flagged texts answers the wrong question: on a source the detector never saw, human texts
score higher or lower than on its training sources, and the count moves with them. A share is a
property of the population, so it is estimated as one: the corpus's raw logits are matched against
reference logit distributions of human and of LLM texts, with a quantification method from mlquantify
(:data:`METHODS`). The bundle carries those references (``share_reference`` in its manifest): calibration
texts each scored by a refit that never saw their source, kept per source as quantiles, so that they
look like what a new source will look like.

``reference_human``: logits of texts known to be human from the corpus's own place (an archive from
before 2022, say). They replace the bundle's human reference, which removes the largest error there
is, the shift of human scores from one source to the next; the LLM reference stays the bundle's.

The interval is a bootstrap over everything the estimate depends on: the corpus's texts, the reference
sources (redrawn with replacement: a new corpus is one more source, and sources differ more than texts
do), the reference texts within each source, and the reference human texts when given.

Needs numpy, scikit-learn and mlquantify (the ``estimate`` extra); no torch, no training code. (QuaPy,
the other quantification library, imports torch unconditionally, so it is not used.)
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from humanlike.detector.bundle import ShareReference, SourceQuantiles

if TYPE_CHECKING:
    from humanlike.detector.runtime import Detector

Method = Literal["cc", "pcc", "acc", "pacc", "emq", "hdy", "dys", "smm", "bbe"]
METHODS: tuple[Method, ...] = ("cc", "pcc", "acc", "pacc", "emq", "hdy", "dys", "smm", "bbe")
"""mlquantify's aggregative quantifiers over the bundle's logit, Platt-scaled on the reference: classify
and count (``cc``, the naive count of p > 0.5) and its probabilistic form (``pcc``), the adjusted
counts (``acc``, ``pacc``), EM prior adjustment (``emq``, Saerens et al. 2002), and distribution
matching (``hdy``: Hellinger distance on histograms, ``dys``, ``smm``: the mean); and ``bbe``, a
mixture-proportion estimate that reads the human side only (:func:`best_bin_human_share`)."""
DEFAULT_METHOD: Method = "hdy"
"""The method used without ``reference_human`` unless told (chosen by ``humanlike estimate --validate``,
docs/estimate.md)."""
DEFAULT_METHOD_WITH_REFERENCE: Method = "dys"
"""The method used with ``reference_human`` unless told (chosen the same way: the validation ranks the
methods differently once the human side is the corpus's own)."""


def default_method(reference_human_given: bool) -> Method:
    """The method an estimate uses unless told, by whether a human reference of the corpus's own place
    is given."""
    return DEFAULT_METHOD_WITH_REFERENCE if reference_human_given else DEFAULT_METHOD


DEFAULT_DATA_TYPES = ("free_form",)
"""The reference texts a share is estimated against unless told: prose. Judgement data (preferences,
task labels) puts the same text under both labels, so its LLM texts read as human ones and would
teach the estimate that LLM text often looks human."""
N_QUANTILES = 101
CLASSES = np.array([0, 1])
PER_SOURCE = 300
"""Reference texts drawn per source and label: every source weighs the same, whatever its size."""


@dataclass(frozen=True)
class ShareEstimate:
    share: float
    ci: tuple[float, float]
    n: int
    method: str

    def as_dict(self) -> dict[str, Any]:
        return {"share": self.share, "ci": list(self.ci), "n": self.n, "method": self.method}


def quantile_reference(
    logits: np.ndarray, labels: np.ndarray, sources: np.ndarray, data_types: np.ndarray, fitted_on: str = ""
) -> ShareReference:
    """The quantiles of ``logits`` (labels 0 human, 1 LLM) per source and data type: what a bundle
    stores."""
    logits, labels = np.asarray(logits, float), np.asarray(labels)
    groups = np.char.add(np.char.add(np.asarray(sources, str), "/"), np.asarray(data_types, str))
    levels = np.linspace(0.0, 1.0, N_QUANTILES)
    sides: list[dict[str, SourceQuantiles]] = [{}, {}]
    for label, side in enumerate(sides):
        for group in sorted(set(groups[labels == label].tolist())):
            x = logits[(labels == label) & (groups == group)]
            side[group] = SourceQuantiles(
                data_type=group.rsplit("/", 1)[1],
                n=len(x),
                quantiles=[round(float(v), 4) for v in np.quantile(x, levels)],
            )
    return ShareReference(human=sides[0], llm=sides[1], fitted_on=fitted_on)


def of_data_types(reference: ShareReference, data_types: Sequence[str] | None) -> ShareReference:
    """The part of ``reference`` whose texts are of ``data_types`` (None: all of it)."""
    if data_types is None:
        return reference

    def keep(side: Mapping[str, SourceQuantiles]) -> dict[str, SourceQuantiles]:
        return {k: v for k, v in side.items() if v.data_type in data_types}

    return reference.model_copy(update={"human": keep(reference.human), "llm": keep(reference.llm)})


def _draw(
    side: Mapping[str, SourceQuantiles], rng: np.random.Generator | None, per_source: int
) -> np.ndarray:
    """``per_source`` logits (at most a source's own count) from each source's quantile function:
    evenly spaced without ``rng``; with it, sources redrawn with replacement and levels at random."""
    names = sorted(side)
    if rng is not None:
        names = [names[i] for i in rng.integers(0, len(names), len(names))]
    out = []
    for name in names:
        source = side[name]
        m = min(source.n, per_source)
        u = rng.random(m) if rng is not None else (np.arange(m) + 0.5) / m
        out.append(np.interp(u, np.linspace(0.0, 1.0, len(source.quantiles)), source.quantiles))
    return np.concatenate(out)


BBE_DELTA = 0.1
"""The confidence level of the bound :func:`best_bin_human_share` minimises (Garg et al.'s delta)."""


def best_bin_human_share(human: np.ndarray, target: np.ndarray, delta: float = BBE_DELTA) -> float:
    """The human share of ``target`` read off the human reference alone (Best Bin Estimation, Garg et
    al. 2021, "Mixture Proportion Estimation and PU Learning: A Modern Approach").

    Below any threshold t of the logit, a corpus that is a share a human of the reference's kind holds
    at least a times the reference's mass there: P_U(x <= t) >= a P_H(x <= t), with equality where no
    LLM text scores as low. So a <= P_U(x <= t) / P_H(x <= t) for every t, and the estimate is that
    ratio at the t whose upper confidence bound (Hoeffding, both samples) is smallest: far enough into
    the human-looking tail that few LLM texts are there, not so far that the ratio is noise. It needs
    no LLM reference, so it does not depend on the corpus's generators looking like the bundle's; LLM
    text that scores as human is read as human, so the LLM share it implies errs low, never high.
    """
    h, u = np.sort(np.asarray(human, float)), np.sort(np.asarray(target, float))
    q_h = np.arange(1, len(h) + 1) / len(h)  # P_H(x <= h[i]), at every reference value as threshold
    q_u = np.searchsorted(u, h, side="right") / len(u)
    slack_h = np.sqrt(np.log(4 / delta) / (2 * len(h)))
    slack_u = np.sqrt(np.log(4 / delta) / (2 * len(u)))
    usable = q_h > slack_h
    if not usable.any():
        return 1.0
    bound = np.where(usable, (q_u + slack_u) / np.where(usable, q_h - slack_h, 1.0), np.inf)
    best = int(np.argmin(bound))
    return float(min(1.0, q_u[best] / q_h[best]))


def _quantify(
    method: Method, human: np.ndarray, llm: np.ndarray, targets: Sequence[np.ndarray]
) -> list[float]:
    """The LLM share of each of ``targets`` by ``method``, fitted on the reference ``human`` and ``llm``."""
    if method == "bbe":
        return [1.0 - best_bin_human_share(human, t) if len(t) else float("nan") for t in targets]
    from mlquantify import counting, likelihood, matching
    from sklearn.linear_model import LogisticRegression

    x = np.concatenate([human, llm])[:, None]
    y = np.concatenate([np.zeros(len(human), int), np.ones(len(llm), int)])
    platt = LogisticRegression().fit(x, y)  # a 1-D monotone map: in-sample posteriors are honest here
    train = platt.predict_proba(x)
    shares = []  # every aggregate is told both classes, or a corpus read as one class returns one share
    for t in targets:
        if not len(t):
            shares.append(float("nan"))
            continue
        test = platt.predict_proba(t[:, None])
        if method == "cc":
            prevalence = counting.CC().aggregate(test, classes=CLASSES)
        elif method == "pcc":
            prevalence = counting.PCC().aggregate(test, classes=CLASSES)
        else:
            quantifier = {
                "acc": counting.ACC,
                "pacc": counting.GPACC,
                "emq": likelihood.EMQ,
                "hdy": matching.HDy,
                "dys": matching.DyS,
                "smm": matching.SMM,
            }[method]()
            prevalence = quantifier.aggregate(test, train, y, classes=CLASSES)
        shares.append(float(np.clip(np.asarray(prevalence)[1], 0.0, 1.0)))
    return shares


def estimate_shares(
    targets: Mapping[str, np.ndarray],
    reference: ShareReference,
    *,
    reference_human: np.ndarray | None = None,
    method: Method | None = None,
    data_types: Sequence[str] | None = DEFAULT_DATA_TYPES,
    n_bootstrap: int = 200,
    seed: int = 0,
    per_source: int = PER_SOURCE,
) -> dict[str, ShareEstimate]:
    """The LLM share of each named array of raw logits, with a 95% bootstrap interval, against the
    part of ``reference`` of ``data_types``, by ``method`` (:func:`default_method` when None).

    All targets share each bootstrap replicate's reference, so one call for many slices costs one fit
    per replicate.
    """
    method = method or default_method(reference_human is not None)
    reference = of_data_types(reference, data_types)
    if not reference.human and reference_human is None:
        raise ValueError("the reference has no human texts: give reference_human")
    if not reference.llm:
        raise ValueError(f"the reference has no LLM texts of data types {', '.join(data_types or ())}")
    if reference_human is not None and not len(reference_human):
        raise ValueError("reference_human is empty")
    names = list(targets)
    arrays = [np.asarray(targets[n], dtype=np.float64) for n in names]

    def human_side(rng: np.random.Generator | None) -> np.ndarray:
        if reference_human is None:
            return _draw(reference.human, rng, per_source)
        if rng is None:
            return np.asarray(reference_human, dtype=np.float64)
        return np.asarray(reference_human, dtype=np.float64)[
            rng.integers(0, len(reference_human), len(reference_human))
        ]

    point = _quantify(method, human_side(None), _draw(reference.llm, None, per_source), arrays)
    shift_human, shift_llm = (
        _source_shifts(method, reference, per_source, human_given=reference_human is not None)
        if n_bootstrap
        else (np.zeros(1), np.zeros(1))
    )
    rng = np.random.default_rng(seed)
    draws = np.full((n_bootstrap, len(arrays)), np.nan)
    for b in range(n_bootstrap):
        resampled = [a[rng.integers(0, len(a), len(a))] if len(a) else a for a in arrays]
        estimate = np.array(
            _quantify(method, human_side(rng), _draw(reference.llm, rng, per_source), resampled)
        )
        # a new corpus is one more source: its texts sit as far from the reference as one of the
        # reference's own sources, left out, sat from the rest
        # centred: the shifts widen the interval around the point; their mean, over a dozen sources,
        # is too unsure a bias to correct the point by
        share = np.array(point)
        bias = (1 - share) * rng.choice(shift_human - shift_human.mean()) - share * rng.choice(
            shift_llm - shift_llm.mean()
        )
        draws[b] = np.clip(estimate - bias, 0.0, 1.0)
    out = {}
    for j, name in enumerate(names):
        if not len(arrays[j]):
            continue
        lo, hi = np.quantile(draws[:, j], [0.025, 0.975]) if n_bootstrap else (point[j], point[j])
        out[name] = ShareEstimate(
            share=round(point[j], 4),
            ci=(round(float(lo), 4), round(float(hi), 4)),
            n=len(arrays[j]),
            method=method,
        )
    return out


def _source_shifts(
    method: Method, reference: ShareReference, per_source: int, *, human_given: bool
) -> tuple[np.ndarray, np.ndarray]:
    """How far each reference source, left out, moves an estimate when its texts stand in for one
    side: a half-and-half mixture of its texts and the other side's (from the rest) is estimated
    against the rest, and twice the estimate's distance from one half is that source's signed shift
    per unit of its side. A half share keeps the estimate clear of 0 and 1, so shifts of both signs
    show. With ``human_given`` the human side is the corpus's own, so only LLM shifts count."""
    shifts: list[np.ndarray] = []
    for label, side in ((0, reference.human), (1, reference.llm)):
        if (label == 0 and human_given) or len(side) < 2:
            shifts.append(np.zeros(1))
            continue
        found = []
        for name in sorted(side):
            rest = {k: v for k, v in side.items() if k != name}
            human = _draw(rest if label == 0 else reference.human, None, per_source)
            llm = _draw(rest if label == 1 else reference.llm, None, per_source)
            own = _draw({name: side[name]}, None, per_source)
            pooled = llm if label == 0 else human
            other = pooled[np.linspace(0, len(pooled) - 1, len(own)).astype(int)]  # every source, evenly
            (share,) = _quantify(method, human, llm, [np.concatenate([own, other])])
            found.append(2 * (share - 0.5) if label == 0 else 2 * (0.5 - share))
        shifts.append(np.array(found))
    return shifts[0], shifts[1]


def estimate_share(
    logits: np.ndarray,
    reference: ShareReference,
    *,
    reference_human: np.ndarray | None = None,
    method: Method | None = None,
    data_types: Sequence[str] | None = DEFAULT_DATA_TYPES,
    n_bootstrap: int = 200,
    seed: int = 0,
) -> ShareEstimate:
    """The LLM share of one corpus's raw logits (see :func:`estimate_shares`)."""
    return estimate_shares(
        {"all": logits},
        reference,
        reference_human=reference_human,
        method=method,
        data_types=data_types,
        n_bootstrap=n_bootstrap,
        seed=seed,
    )["all"]


MISSING = "(missing)"


@dataclass
class CorpusLogits:
    """Raw logits of a corpus's scorable lines, overall and per value of each ``by`` field, and what
    became of every line (``n_lines == n_scored + len(errors)``)."""

    all: np.ndarray
    by: dict[str, dict[str, np.ndarray]]
    n_lines: int
    errors: list[tuple[str, int, str]]
    """(file, line number from 1, reason) of each line that could not be scored"""


def score_corpus(
    detector: Detector,
    paths: Sequence[str | Path],
    *,
    by: Sequence[str] = (),
    text_field: str = "text",
    batch_size: int = 64,
) -> CorpusLogits:
    """Reads JSONL files line by line and scores them in batches; only a float32 per line and slice
    is kept (4 bytes a line for each ``by`` field), so a corpus far larger than memory works."""
    from humanlike.detector.ranking import UnscorableLine, parse_record

    chunks: list[np.ndarray] = []
    slices: dict[str, dict[str, list[np.ndarray]]] = {f: {} for f in by}
    errors: list[tuple[str, int, str]] = []
    texts: list[str] = []
    keys: list[list[str]] = []
    n_lines = 0

    def flush() -> None:
        if not texts:
            return
        logits = detector.llm_logits(texts, batch_size=batch_size).astype(np.float32)
        chunks.append(logits)
        for j, field in enumerate(by):
            values = np.array([k[j] for k in keys])
            for value in set(values.tolist()):
                slices[field].setdefault(value, []).append(logits[values == value])
        texts.clear()
        keys.clear()

    for path in paths:
        with open(path, "rb") as f:
            for number, raw in enumerate(f, 1):
                n_lines += 1
                try:
                    text, obj = parse_record(raw, text_field, detector.check_text)
                except UnscorableLine as e:
                    errors.append((str(path), number, str(e)))
                    continue
                texts.append(text)
                keys.append([_slice_value(obj.get(field)) for field in by])
                if len(texts) >= 1024:
                    flush()
    flush()
    empty = np.zeros(0, dtype=np.float32)
    return CorpusLogits(
        all=np.concatenate(chunks) if chunks else empty,
        by={
            f: {v: np.concatenate(parts) for v, parts in sorted(values.items())}
            for f, values in slices.items()
        },
        n_lines=n_lines,
        errors=errors,
    )


def _slice_value(value: object) -> str:
    if value is None:
        return MISSING
    return value if isinstance(value, str) else json.dumps(value)


def corpus_report(
    scored: CorpusLogits,
    reference: ShareReference,
    *,
    reference_human: np.ndarray | None = None,
    method: Method | None = None,
    data_types: Sequence[str] | None = DEFAULT_DATA_TYPES,
    n_bootstrap: int = 200,
    seed: int = 0,
) -> dict[str, Any]:
    """``{"share", "ci", "n", "method", "by": {FIELD: {VALUE: {"share", "ci", "n"}}}, ...}`` for a
    scored corpus (every slice estimated against the same bootstrap replicates)."""
    method = method or default_method(reference_human is not None)
    targets = {"\0all": scored.all}
    for field, values in scored.by.items():
        targets.update({f"{field}\0{value}": logits for value, logits in values.items()})
    estimates = estimate_shares(
        targets,
        reference,
        reference_human=reference_human,
        method=method,
        data_types=data_types,
        n_bootstrap=n_bootstrap,
        seed=seed,
    )
    overall = estimates.get("\0all")
    report: dict[str, Any] = {
        **(overall.as_dict() if overall else {"share": None, "ci": None, "n": 0, "method": method}),
        "by": {field: {} for field in scored.by},
        "reference": {
            "data_types": list(data_types) if data_types is not None else "all",
            "human": "given (reference_human)" if reference_human is not None else reference.fitted_on,
            "n_reference_human": None if reference_human is None else len(reference_human),
            "llm": reference.fitted_on,
        },
        "n_bootstrap": n_bootstrap,
        "lines": {"n": scored.n_lines, "scored": len(scored.all), "unscorable": len(scored.errors)},
    }
    for key, estimate in estimates.items():
        field, value = key.split("\0", 1)
        if field:
            d = estimate.as_dict()
            del d["method"]
            report["by"][field][value] = d
    return report


def estimate_texts(
    detector: Detector,
    texts: Sequence[str],
    *,
    reference_human: Sequence[str] | None = None,
    method: Method | None = None,
    data_types: Sequence[str] | None = DEFAULT_DATA_TYPES,
    n_bootstrap: int = 200,
    seed: int = 0,
) -> ShareEstimate:
    """The LLM share of ``texts`` against ``detector``'s bundle reference (the Python API of
    ``humanlike estimate``)::

        from humanlike import Detector
        from humanlike.estimate import estimate_texts

        print(estimate_texts(Detector("artifacts/baseline"), texts).as_dict())
    """
    reference = detector.manifest.share_reference
    if reference is None:
        raise ValueError("this bundle carries no share reference (built before format 6): retrain it")
    human = None if reference_human is None else detector.llm_logits(list(reference_human))
    return estimate_share(
        detector.llm_logits(list(texts)),
        reference,
        reference_human=human,
        method=method,
        data_types=data_types,
        n_bootstrap=n_bootstrap,
        seed=seed,
    )
