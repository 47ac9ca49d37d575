"""One self-contained HTML page from an evaluation report (JSON in, HTML out; plots inlined as PNG).

Everything drawn comes from the report's JSON, so a page can be redrawn from a saved report
(``humanlike eval --from-json``) and two runs compare by their JSON. Plots use matplotlib's
object-oriented API (``Figure``), which needs no display and keeps no global state.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

HUMAN_COLOUR = "#1f77b4"
LLM_COLOUR = "#d62728"
CSS = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1180px; color: #222; }
h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #ccc; padding-bottom: .2em; margin-top: 2em; }
table { border-collapse: collapse; margin: .6em 0 1.2em; font-variant-numeric: tabular-nums; }
th, td { padding: 2px 10px; border-bottom: 1px solid #eee; text-align: right; }
td { white-space: nowrap; }
th:first-child, td:first-child { text-align: left; }
th { background: #f4f4f4; } .note { color: #555; max-width: 60em; } img { max-width: 100%; }
.bad { color: #b00; } .good { color: #070; } code { background: #f4f4f4; padding: 0 3px; }
"""


def _png(fig: Figure) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return f'<img alt="" src="data:image/png;base64,{base64.b64encode(buf.getvalue()).decode("ascii")}">'


def _num(x: float | None, digits: int = 3) -> str:
    return "&ndash;" if x is None else f"{x:.{digits}f}"


def _table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _slice_rows(section: dict[str, Any]) -> list[list[str]]:
    rows = []
    for name, m in section.items():
        ci = m.get("ci")
        thr = m["at_thresholds"].get("0.01") or {}
        rows.append(
            [
                html.escape(name),
                str(m["n_human"]),
                str(m["n_llm"]),
                _num(m["auroc"]),
                f"{ci['auroc'][0]:.3f}&ndash;{ci['auroc'][1]:.3f}" if ci else "&ndash;",
                _num(m["tpr_at_fpr"]["0.01"]),
                f"{ci['tpr_at_fpr']['0.01'][0]:.3f}&ndash;{ci['tpr_at_fpr']['0.01'][1]:.3f}"
                if ci
                else "&ndash;",
                _num(m["tpr_at_fpr"]["0.05"]),
                _num(thr.get("fpr")),
                _num(thr.get("tpr")),
                _num(thr.get("f1")),
                _num(m["f1"]),
                _num(m["ece"]),
            ]
        )
    return rows


SLICE_HEADER = (
    "slice", "human", "LLM", "AUROC", "95% CI", "TPR@1%", "95% CI", "TPR@5%",
    "FPR at 1% thr.", "TPR at 1% thr.", "F1 at 1% thr.", "F1 at 0.5", "ECE",
)  # fmt: skip


def roc_figure(curves: dict[str, Any], title: str = "ROC per data type") -> Figure:
    fig = Figure(figsize=(11, 4.2))
    lin, log = fig.subplots(1, 2)
    for name, c in curves.items():
        style = {"lw": 2.6, "color": "black"} if name == "all" else {"lw": 1.4}
        lin.plot(c["fpr"], c["tpr"], label=name, **style)
        log.plot(c["fpr"], c["tpr"], **style)
    for ax in (lin, log):
        ax.plot([1e-4, 1], [1e-4, 1], ls=":", color="grey")
        ax.set_xlabel("false-positive rate (human texts flagged)")
        ax.set_ylabel("true-positive rate (LLM texts caught)")
        ax.grid(alpha=0.3)
    log.set_xscale("log")
    log.set_xlim(1e-3, 1)
    log.axvline(0.01, color="grey", lw=0.8)
    log.set_title("low-FPR region (log scale); line at 1% FPR")
    lin.set_title(title)
    lin.legend(fontsize=8, loc="lower right")
    return fig


def histogram_figure(hist: dict[str, Any]) -> Figure:
    edges = np.asarray(hist["edges"])
    names = [k for k in hist if k != "edges"]
    cols = 4
    rows = (len(names) + cols - 1) // cols
    fig = Figure(figsize=(11, 2.4 * rows))
    axes = np.atleast_1d(fig.subplots(rows, cols)).ravel()
    for ax, name in zip(axes, names, strict=False):
        for label, colour in (("human", HUMAN_COLOUR), ("llm", LLM_COLOUR)):
            counts = np.asarray(hist[name][label], dtype=float)
            share = counts / counts.sum() if counts.sum() else counts
            ax.stairs(
                share, edges, color=colour, fill=True, alpha=0.45, label=f"{label} ({int(counts.sum())})"
            )
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("p_llm", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=7)
    for ax in axes[len(names) :]:
        ax.set_visible(False)
    fig.tight_layout()
    return fig


def reliability_figure(curve: list[dict[str, Any]]) -> Figure:
    fig = Figure(figsize=(4.6, 4.2))
    ax = fig.subplots()
    ax.plot([0, 1], [0, 1], ls=":", color="grey", label="perfect calibration")
    x = [b["mean_p"] for b in curve]
    y = [b["frac_llm"] for b in curve]
    n = np.array([b["n"] for b in curve], dtype=float)
    ax.plot(x, y, color="black", lw=1)
    ax.scatter(x, y, s=20 + 300 * n / n.max(), color=LLM_COLOUR, zorder=3, label="bins (area ~ texts)")
    ax.set_xlabel("mean p_llm in bin")
    ax.set_ylabel("share of LLM texts in bin")
    ax.set_title("reliability")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return fig


def forest_figure(section: dict[str, Any], title: str) -> Figure:
    """AUROC per slice with its bootstrap interval (slices with one class are left out)."""
    items = [(k, m) for k, m in section.items() if m["auroc"] is not None]
    fig = Figure(figsize=(6.5, 0.32 * len(items) + 1.0))
    ax = fig.subplots()
    for i, (_, m) in enumerate(items):
        ci = m.get("ci")
        if ci:
            ax.plot(ci["auroc"], [i, i], color="grey", lw=2)
        ax.plot(m["auroc"], i, "o", color="black")
    ax.set_yticks(range(len(items)), [k for k, _ in items], fontsize=8)
    ax.invert_yaxis()
    ax.axvline(0.5, ls=":", color="grey")
    ax.set_xlim(min(0.4, *(m["auroc"] for _, m in items)) if items else 0.4, 1.01)
    ax.set_xlabel("AUROC (95% bootstrap interval)")
    ax.set_title(title)
    ax.grid(alpha=0.3, axis="x")
    return fig


def robustness_figure(robustness: dict[str, Any]) -> Figure:
    perts = robustness["perturbations"]
    names = ["(clean)", *perts]
    auroc = [robustness["clean"]["auroc"], *(p["auroc"] for p in perts.values())]
    tpr = [robustness["clean"]["tpr_at_fpr"]["0.01"], *(p["tpr_at_fpr"]["0.01"] for p in perts.values())]
    fig = Figure(figsize=(11, 3.8))
    left, right = fig.subplots(1, 2)
    ypos = np.arange(len(names))
    for ax, values, title in ((left, auroc, "AUROC"), (right, tpr, "TPR at 1% FPR")):
        # red: worse than clean by more than 0.01, green: better by more than 0.01, grey: about the same
        colours = ["black"] + [
            LLM_COLOUR if v < values[0] - 0.01 else "#2ca02c" if v > values[0] + 0.01 else "#999999"
            for v in values[1:]
        ]
        ax.barh(ypos, values, color=colours, alpha=0.8)
        ax.axvline(values[0], color="black", lw=0.8, ls=":")
        ax.set_yticks(ypos, names, fontsize=8)
        ax.invert_yaxis()
        ax.set_xlim(0, 1)
        ax.set_title(f"{title} after each perturbation")
        for y, v in zip(ypos, values, strict=True):
            ax.text(v + 0.01, y, f"{v:.3f}", va="center", fontsize=7)
    fig.tight_layout()
    return fig


def generalization_rows(
    crossval: dict[str, Any], report: dict[str, Any] | None
) -> tuple[list[str], list[list[str]]]:
    """The leave-one-out table, with this bundle's in-distribution AUROC for the same value beside it."""
    models = crossval.get("models", ["ngram"])
    header = ["held out", "train", "human", "LLM"]
    if report is not None:
        header.append("in-dist. AUROC (this bundle)")
    for name in models:
        header += [f"{name} AUROC", f"{name} TPR@1%"]
    rows = []
    for f in crossval["folds"]:
        row = [
            html.escape(f"{f['key']}={f['held_out']}"),
            str(f["n_train"]),
            str(f["n_human"]),
            str(f["n_llm"]),
        ]
        if report is not None:
            own = report.get(f["key"], {}).get(f["held_out"])
            row.append(_num(own["auroc"]) if own else "&ndash;")
        for name in models:
            m = f if len(models) == 1 else f[name]
            row += [_num(m["auroc"]), _num(m["tpr_at_fpr"]["0.01"])]
        rows.append(row)
    return header, rows


def generalization_figure(crossval: dict[str, Any]) -> Figure:
    models = crossval.get("models", ["ngram"])
    folds = crossval["folds"]
    cols = [(m, k) for m in models for k in ("AUROC", "TPR@1%")]
    grid = np.full((len(folds), len(cols)), np.nan)
    for i, f in enumerate(folds):
        for j, (m, k) in enumerate(cols):
            r = f if len(models) == 1 else f[m]
            v = r["auroc"] if k == "AUROC" else r["tpr_at_fpr"]["0.01"]
            grid[i, j] = np.nan if v is None else v
    fig = Figure(figsize=(2.0 + 1.3 * len(cols), 0.3 * len(folds) + 1.4))
    ax = fig.subplots()
    im = ax.imshow(grid, cmap="RdYlGn", vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(range(len(cols)), [f"{m}\n{k}" for m, k in cols], fontsize=8)
    ax.set_yticks(range(len(folds)), [f"{f['key']}={f['held_out']}" for f in folds], fontsize=8)
    for i in range(len(folds)):
        for j in range(len(cols)):
            if not np.isnan(grid[i, j]):
                ax.text(j, i, f"{grid[i, j]:.2f}", ha="center", va="center", fontsize=7)
    ax.set_title("trained without the held-out value, tested on it")
    fig.colorbar(im, ax=ax, fraction=0.04)
    return fig


def _robustness_section(rob: dict[str, Any]) -> str:
    dts = list(rob["clean"]["auroc_by_data_type"])
    rows, by_type = [], []
    for name, r in [("(clean)", rob["clean"]), *rob["perturbations"].items()]:
        thr = r["at_thresholds"].get("0.01") or {}
        rows.append(
            [
                html.escape(name),
                r.get("applies_to", ""),
                _num(r["auroc"]),
                "" if name == "(clean)" else f"{-r['auroc_drop']:+.3f}",
                _num(r["tpr_at_fpr"]["0.01"]),
                _num(thr.get("tpr")),
                _num(r["mean_p_llm"]["llm"]),
                html.escape(r.get("description", "")),
            ]
        )
        by_type.append([html.escape(name), *(_num(r["auroc_by_data_type"].get(d)) for d in dts)])
    examples = "".join(
        f"<p><b>{html.escape(n)}</b>: <code>{html.escape(r['example']['after'][:220])}</code></p>"
        for n, r in rob["perturbations"].items()
        if r.get("example")
    )
    header = [
        "perturbation",
        "applies to",
        "AUROC",
        "change",
        "TPR@1%",
        "flagged at 1% thr.",
        "mean p_llm (LLM)",
    ]
    return (
        f"<p class=note>{rob['n_human']} human and {rob['n_llm']} LLM texts of the evaluation set, the "
        f"same for every perturbation (seed {rob['seed']}). Edits apply to LLM texts only, except "
        "truncation, which cuts both classes. <i>flagged at 1% thr.</i> is the share of LLM texts over "
        "the bundle's stored 1%-FPR threshold: what a user of the bundle would catch.</p>"
        + _png(robustness_figure(rob))
        + _table([*header, "edit"], rows)
        + "<h3>AUROC per data type after each perturbation</h3>"
        + _table(["perturbation", *dts], by_type)
        + "<details><summary>an example of each edit</summary>"
        + examples
        + "</details>"
    )


def _profile_section(profile: dict[str, Any]) -> str:
    cols = ("n", "median_words", "mean_ttr", "mean_mtld", "mean_distinct_2", "mean_repeated_bigram_rate")
    header = ["", "texts", "median words", "TTR", "MTLD", "distinct-2", "repeated bigrams"]

    def row(name: str, a: dict[str, Any]) -> list[str]:
        return [
            html.escape(name),
            str(a["n"]),
            f"{a['median_words']:.0f}",
            *(_num(a[c], 2) for c in cols[2:]),
        ]

    by_type = [
        row(f"{dt} / {label}", a) for dt, sides in profile["data_type"].items() for label, a in sides.items()
    ]
    by_gen = [row(g, a) for g, a in profile["generator"].items()]
    judge_rows = [
        [
            html.escape(dt),
            str(j["n_paired_items"]),
            "&ndash;" if j["disagreement_rate"] is None else f"{j['disagreement_rate']:.1%}",
            _num(j["cohen_kappa"], 2),
            html.escape(str(j["distribution"]["human"])),
            html.escape(str(j["distribution"]["llm"])),
        ]
        for dt, j in profile["judgements"].items()
    ]
    return (
        "<p class=note>Surface statistics of the whole corpus read (not only the evaluation set). "
        "MTLD: mean length of word runs that keep the type-token ratio above 0.72 (length-robust "
        "lexical diversity); distinct-2 and repeated bigrams per text.</p>"
        + _table(header, by_type)
        + "<h3>per generator</h3>"
        + _table(header, by_gen)
        + "<h3>judgements: the same item judged by a person and by an LLM</h3>"
        + _table(["data type", "items", "LLM differs", "Cohen's κ", "human labels", "LLM labels"], judge_rows)
    )


def render_html(report: dict[str, Any]) -> str:
    """The evaluation report of one bundle as one HTML page."""
    b = report["bundle"]
    scope = report["scope"]
    parts = [
        f"<h1>humanlike evaluation: <code>{html.escape(b['path'])}</code></h1>",
        f"<p class=note>{html.escape(b['kind'])} bundle ({html.escape(b['precision'])}), created "
        f"{html.escape(b['created_at'])}. Scored {scope['n_scored']} texts ({html.escape(scope['split'])}"
        f"{', the bundle&rsquo;s own grouped hold-out' if scope['split'] == 'holdout' else ''}); "
        f"{scope['n_skipped_invalid']} refused. Intervals: {scope['n_bootstrap']} grouped bootstrap "
        "replicates (pairs resampled together). Thresholds are the bundle's stored ones.</p>",
        "<h2>Overall</h2>",
        _table(SLICE_HEADER, _slice_rows({"all": report["all"]})),
    ]
    gen = report.get("generalization")
    if gen:
        header, rows = generalization_rows(gen, report)
        parts += [
            "<h2>Generalization: unseen generators and sources</h2>",
            "<p class=note>In distribution almost any detector looks near-perfect. Each row refits the "
            "model without one generator or source and tests on it (from <code>humanlike crossval</code>; "
            f"{gen.get('n_records', '?')} records, seed {gen.get('seed', '?')}). The in-distribution "
            "column is this bundle on its own hold-out, for the same generator or source.</p>",
            _png(generalization_figure(gen)),
            _table(header, rows),
        ]
    parts += [
        "<h2>ROC curves</h2>",
        _png(roc_figure(report["curves"]["roc"])),
        "<h2>Scores, human vs LLM</h2>",
        _png(histogram_figure(report["curves"]["histogram"])),
        "<h2>Calibration</h2>",
        _png(reliability_figure(report["reliability"])),
    ]
    for key in ("data_type", "source", "generator", "domain", "length"):
        if report.get(key):
            parts += [
                f"<h2>By {key.replace('_', ' ')}</h2>",
                _png(forest_figure(report[key], f"AUROC by {key}")),
                _table(SLICE_HEADER, _slice_rows(report[key])),
            ]
    if report.get("robustness"):
        parts += ["<h2>Robustness</h2>", _robustness_section(report["robustness"])]
    if report.get("profile"):
        parts += ["<h2>The corpus, human vs LLM</h2>", _profile_section(report["profile"])]
    share = report.get("share")
    if share and share.get("all"):
        rows = [
            [
                html.escape(name),
                str(r["n"]),
                f"{r['true_share']:.1%}",
                f"{r['share']:.1%}",
                f"{r['ci'][0]:.1%} .. {r['ci'][1]:.1%}",
            ]
            for name, r in [("all", share["all"]), *share["source"].items()]
        ]
        parts += [
            "<h2>Share of LLM text: estimated vs true</h2>",
            f"<p class=note><code>humanlike estimate</code> ({html.escape(share['method'])}, "
            f"{html.escape(', '.join(share['data_types']))} texts) on these texts, beside their labels. "
            f"{html.escape(share['note'])}.</p>",
            _table(["slice", "texts", "true share", "estimated", "95% interval"], rows),
        ]
    return _page(f"humanlike eval: {b['path']}", parts)


def render_compare_html(compare: dict[str, Any]) -> str:
    """Two bundles on the same texts: overlaid ROC curves, paired AUROC differences, robustness."""
    a, b = compare["names"]
    ra, rb = compare["reports"][a], compare["reports"][b]
    parts = [
        f"<h1>humanlike: <code>{html.escape(a)}</code> (A) vs <code>{html.escape(b)}</code> (B)</h1>",
        f"<p class=note>Both scored on the same {compare['n_texts']} texts "
        f"({html.escape(ra['scope']['split'])}) and the same perturbed texts. Δ = AUROC(A) - AUROC(B), "
        "with a paired grouped bootstrap interval: both models on each replicate's same resample.</p>",
    ]
    fig = Figure(figsize=(5.5, 4.4))
    ax = fig.subplots()
    for name, r, colour in ((a, ra, LLM_COLOUR), (b, rb, HUMAN_COLOUR)):
        c = r["curves"]["roc"]["all"]
        ax.plot(c["fpr"], c["tpr"], color=colour, label=f"{name} (AUROC {r['all']['auroc']:.3f})")
    ax.set_xscale("log")
    ax.set_xlim(1e-3, 1)
    ax.axvline(0.01, color="grey", lw=0.8)
    ax.set_xlabel("false-positive rate (log)")
    ax.set_ylabel("true-positive rate")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    parts += ["<h2>ROC, all texts</h2>", _png(fig)]
    for key in ("all", "data_type", "source", "generator", "length"):
        section = {"all": compare["auroc_delta"]["all"]} if key == "all" else compare["auroc_delta"][key]
        rows = []
        for name, d in section.items():
            if d is None:
                continue
            ci = d.get("ci")
            if ci is None:
                verdict = ""
            elif ci[0] > 0:
                verdict = "<span class=good>A better</span>"
            elif ci[1] < 0:
                verdict = "<span class=bad>B better</span>"
            else:
                verdict = "no clear difference"
            rows.append(
                [
                    html.escape(name),
                    _num(d["a"]),
                    _num(d["b"]),
                    f"{d['delta']:+.3f}",
                    f"{ci[0]:+.3f} … {ci[1]:+.3f}" if ci else "&ndash;",
                    verdict,
                ]
            )
        title = "Overall AUROC" if key == "all" else f"AUROC by {key.replace('_', ' ')}"
        parts += [f"<h2>{title}</h2>", _table(["slice", "A", "B", "Δ", "95% CI of Δ", ""], rows)]
    if ra.get("robustness") and rb.get("robustness"):
        rows = []
        for name in ["(clean)", *ra["robustness"]["perturbations"]]:
            x = ra["robustness"]["clean"] if name == "(clean)" else ra["robustness"]["perturbations"][name]
            y = rb["robustness"]["clean"] if name == "(clean)" else rb["robustness"]["perturbations"][name]
            rows.append(
                [
                    html.escape(name),
                    _num(x["auroc"]),
                    _num(y["auroc"]),
                    _num(x["tpr_at_fpr"]["0.01"]),
                    _num(y["tpr_at_fpr"]["0.01"]),
                ]
            )
        parts += [
            "<h2>Robustness</h2>",
            _table(["perturbation", "A AUROC", "B AUROC", "A TPR@1%", "B TPR@1%"], rows),
        ]
    return _page(f"humanlike compare: {a} vs {b}", parts)


def _page(title: str, parts: Sequence[str]) -> str:
    return (
        f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{html.escape(title)}</title>"
        f"<style>{CSS}</style></head><body>{''.join(parts)}</body></html>\n"
    )
