"""The model card: ``README.md`` in every bundle, written from its manifest for a person to read.

The manner of model hubs: YAML front matter (license, tags, the headline metrics), then what the model
is for and not for, what it was trained on, how it does in distribution and on sources it never saw,
what its thresholds promise, where it fails, and how to rebuild it. Every figure comes from the
manifest; the card says nothing the manifest does not hold, so it cannot drift from the model.
"""

from __future__ import annotations

import json
from typing import Any

from humanlike.detector.bundle import BundleManifest

MODEL_CARD_FILE = "README.md"
LICENSE = "apache-2.0"
WEAK_AUROC = 0.7
"""A slice below this AUROC is listed among the known failures..."""
MIN_SLICE = 5
"""... when it has at least this many texts of each label (fewer: its AUROC says little)."""

_KIND_WORDS = {
    "ngram-linear": "word and character n-gram TF-IDF features and a logistic regression",
    "transformer": "a fine-tuned MiniLM encoder reading token windows",
    "zero-shot": "the packaged SmolLM2-135M's token statistics, no training",
    "hybrid": "SmolLM2-135M token statistics and MiniLM embeddings, with a trained head",
}

_ALWAYS_WEAK = (
    "**Judgement data** (preferences, votes, task labels): short choices and verdicts carry almost no "
    "style; expect chance-level AUROC and more false positives on human judges.",
    "**Translation**: a translation's style is the source text's and the translator's; both human "
    "and machine translations read alike to this model.",
    "**Short texts** (under about 200 characters): few features, noisy scores; see the length "
    "breakdown below.",
    "**Human text edited by an LLM** (polished, paraphrased, humanized): the label is a matter of "
    "degree and most such texts pass as human.",
    "**Non-native writers and students**: watch the false-positive rate on them before acting on a "
    "flag; a flag is evidence for review, never a verdict on a person.",
)


def _f(x: Any, digits: int = 3) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def _pct(x: Any) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def _table(rows: list[list[str]], head: list[str]) -> list[str]:
    return [
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
        *("| " + " | ".join(r) + " |" for r in rows),
    ]


def _slices(section: dict[str, Any], key: str) -> list[list[str]]:
    """One row per slice with texts, in the manifest's order (lengths shortest first)."""
    rows = []
    for name, m in section.get(key, {}).items():
        if isinstance(m, dict) and m.get("n_human", 0) + m.get("n_llm", 0):
            tpr = (m.get("tpr_at_fpr") or {}).get("0.01")
            rows.append([name, str(m["n_human"]), str(m["n_llm"]), _f(m.get("auroc")), _f(tpr)])
    return rows


def _front_matter(manifest: BundleManifest) -> list[str]:
    holdout = manifest.metrics.get("holdout", {}).get("all", {})
    oos = manifest.metrics.get("out_of_source", {}).get("all", {})
    metrics = [
        ("holdout_auroc", holdout.get("auroc")),
        ("out_of_source_auroc", oos.get("auroc")),
        *((f"threshold_{t.target_fpr:g}_p_llm", t.p_llm) for t in manifest.thresholds),
    ]
    lines = [
        "---",
        f"license: {LICENSE}",
        "library_name: humanlike",
        "pipeline_tag: text-classification",
        "tags:",
        "  - ai-text-detection",
        f"  - {manifest.kind}",
        f"  - {manifest.precision}",
        "metrics:",
        *(f"  {name}: {round(float(v), 4)}" for name, v in metrics if v is not None),
        f"corpus_sha256: {manifest.corpus.sha256 or 'none'}",
        f"format_version: {manifest.format_version}",
        f"humanlike_version: {json.dumps(manifest.humanlike_version)}",
        "---",
    ]
    return lines


def render_model_card(manifest: BundleManifest) -> str:
    """The card of the bundle ``manifest`` describes, as Markdown with YAML front matter."""
    m = manifest
    holdout = m.metrics.get("holdout") or m.metrics.get("calibration_sample") or {}
    holdout_all = holdout.get("all", holdout)
    oos = m.metrics.get("out_of_source") or {}
    out: list[str] = [*_front_matter(m), ""]
    out += [
        f"# humanlike detector: {m.kind} ({m.precision})",
        "",
        f"Scores how likely a text is to be LLM-written, from {_KIND_WORDS.get(m.kind, m.kind)}. "
        f"Built {m.created_at} by humanlike {m.humanlike_version}; reads texts up to {m.max_length:,} "
        f"characters; labels {m.labels[0]!r} and {m.labels[1]!r}.",
        "",
        "## Intended use",
        "",
        "- Ranking and filtering data for training sets: order LLM-generated data by how human it "
        "reads (curricula), find LLM text in a corpus, audit a dataset.",
        "- Estimating the share of LLM text in a corpus (`humanlike estimate`), which is far more "
        "accurate than counting flagged texts.",
        "",
        "## Out of scope",
        "",
        "- Decisions about people (grading, hiring, misconduct): a score is not proof of authorship, "
        "and false positives fall first on non-native writers, students and short texts.",
        "- Text types and languages the corpus below does not hold.",
        "",
        "## Training data",
        "",
        f"{m.corpus.n_records:,} texts, corpus fingerprint `{m.corpus.sha256[:16] or 'none'}` "
        f"({', '.join(m.corpus.paths) or 'no corpus'}). Split seed {m.split.seed}: {m.split.n_train:,} "
        f"training, {m.split.n_calibration:,} calibration, {m.split.n_holdout:,} hold-out texts, "
        "grouped so that a text and its pairs stay on one side.",
        "",
    ]
    sources = m.training.get("train_sources") or {}
    if sources:
        rows = [[s, str(c.get("human", 0)), str(c.get("llm", 0))] for s, c in sorted(sources.items())]
        out += ["Training texts per source:", "", *_table(rows, ["source", "human", "llm"]), ""]

    out += ["## How it does", "", "### In distribution (grouped hold-out of the training sources)", ""]
    if holdout_all:
        tpr = (holdout_all.get("tpr_at_fpr") or {}).get("0.01")
        out += [
            f"AUROC {_f(holdout_all.get('auroc'))}, TPR at 1% FPR {_f(tpr)}, ECE "
            f"{_f(holdout_all.get('ece'))} on {holdout_all.get('n_human', 0):,} human and "
            f"{holdout_all.get('n_llm', 0):,} LLM texts. In distribution any detector looks strong; "
            "the next section is the one to trust.",
            "",
        ]
        rows = _slices(holdout, "data_type")
        if rows:
            out += [*_table(rows, ["data type", "human", "llm", "AUROC", "TPR@1%"]), ""]
        rows = _slices(holdout, "length")
        if rows:
            out += ["By length:", "", *_table(rows, ["length", "human", "llm", "AUROC", "TPR@1%"]), ""]
    else:
        out += ["No hold-out: this bundle was not evaluated on labelled texts.", ""]

    out += ["### On sources it never saw", ""]
    if oos:
        a = oos.get("all", {})
        out += [
            f"Scored: {oos.get('fitted_on', '')}. Overall AUROC {_f(a.get('auroc'))}, TPR at 1% FPR "
            f"{_f((a.get('tpr_at_fpr') or {}).get('0.01'))}.",
            "",
            *_table(_slices(oos, "source"), ["left-out source", "human", "llm", "AUROC", "TPR@1%"]),
            "",
            "For every source left out in turn across the whole corpus, run `humanlike generalization`.",
            "",
        ]
    else:
        out += [
            "Not measured in this bundle (built without source-fold refits). Run `humanlike "
            "generalization` for leave-one-source-out figures before relying on it outside its sources.",
            "",
        ]

    out += ["## Thresholds", ""]
    if m.thresholds:
        rows = [
            [
                f"{t.target_fpr:g}",
                _f(t.p_llm, 4),
                _pct(t.measured_fpr),
                _pct(t.worst_source_fpr),
                str(t.n_human),
            ]
            for t in m.thresholds
        ]
        out += [
            f"A text is flagged when its calibrated `p_llm` is above the threshold. Chosen on "
            f"{m.thresholds[0].fitted_on or 'held-out human texts'}; the false-positive rates below are "
            "on those human texts (overall, and on the worst single source). On a new source expect "
            "the worst-source figure rather than the overall one.",
            "",
            *_table(rows, ["target FPR", "p_llm above", "FPR", "worst source FPR", "human texts"]),
            "",
        ]
    else:
        out += ["None: no labelled texts were given, so no threshold promises a false-positive rate.", ""]

    out += ["## Known failures", ""]
    weak: list[str] = []
    for section, key, label in ((oos, "source", "left-out source"), (holdout, "data_type", "data type")):
        for name, s in sorted(section.get(key, {}).items()):
            if (
                isinstance(s, dict)
                and s.get("auroc") is not None
                and s["auroc"] < WEAK_AUROC
                and min(s["n_human"], s["n_llm"]) >= MIN_SLICE
            ):
                weak.append(f"- {label} `{name}`: AUROC {_f(s['auroc'])}")
    if weak:
        out += [
            f"Measured below AUROC {WEAK_AUROC} in this bundle "
            f"(slices of at least {MIN_SLICE} texts a label):",
            "",
            *weak,
            "",
        ]
    out += ["Known for detectors of this kind:", "", *(f"- {line}" for line in _ALWAYS_WEAK), ""]

    config = m.training.get("config")
    out += [
        "## How to reproduce",
        "",
        "With the same corpus (same fingerprint) and humanlike version:",
        "",
        "```",
        _command(m),
        "```",
        "",
    ]
    if config:
        out += ["Configuration:", "", "```json", json.dumps(config, indent=2, default=str), "```", ""]
    out += [
        "Everything above is read from `bundle.json`; `SHA256SUMS` covers both files, and the runtime "
        "refuses a bundle whose files do not match it.",
        "",
    ]
    return "\n".join(out)


def _command(m: BundleManifest) -> str:
    model = {"ngram-linear": "ngram", "hybrid": "hybrid", "transformer": "transformer"}.get(m.kind)
    if model is None:
        return "humanlike zero-shot-bundle --corpus CORPUS --out BUNDLE"
    command = f"humanlike train --model {model} --corpus CORPUS --out BUNDLE --seed {m.split.seed}"
    if model == "transformer":
        command += " && humanlike export BUNDLE --corpus CORPUS --out EXPORTED"
    return command
