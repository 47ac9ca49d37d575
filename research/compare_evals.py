"""Side-by-side Markdown table of evaluation reports on the same texts.

    .venv/bin/python research/compare_evals.py NAME=REPORT NAME=REPORT ... [--by data_type]

A REPORT is a `humanlike eval --json` file or a bundle directory (its manifest's hold-out metrics,
computed at training or export on the bundle's own grouped hold-out).

Refuses reports that were not scored on the same split of the same corpus (their ``scope`` differs),
since a side-by-side table of different texts would mislead.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def load_report(path: Path) -> dict[str, Any]:
    if path.is_dir():
        manifest = json.loads((path / "bundle.json").read_text())
        report: dict[str, Any] = dict(manifest["metrics"]["holdout"])
        report["scope"] = {"split": "holdout", "n_scored": manifest["split"]["n_holdout"]}
        report["scope"]["same_corpus_as_training"] = True
        return report
    return json.loads(path.read_text())  # type: ignore[no-any-return]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("reports", nargs="+", metavar="NAME=REPORT.json")
    parser.add_argument("--by", default="data_type", choices=["data_type", "source", "generator"])
    args = parser.parse_args()
    reports: dict[str, dict[str, Any]] = {}
    for item in args.reports:
        name, _, path = item.partition("=")
        reports[name] = load_report(Path(path))
    scopes = {
        name: (r["scope"]["split"], r["scope"]["n_scored"], r["scope"]["same_corpus_as_training"])
        for name, r in reports.items()
    }
    if len(set(scopes.values())) != 1:
        print(f"reports were scored on different texts: {scopes}", file=sys.stderr)
        return 1

    def cell(m: dict[str, Any], key: str) -> str:
        value = m["auroc"] if key == "auroc" else m["tpr_at_fpr"][key]
        return "-" if value is None else f"{value:.3f}"

    names = list(reports)
    header = ["", "human", "llm"]
    for metric in ("AUROC", "TPR@1%FPR", "TPR@5%FPR"):
        header += [f"{metric} {n}" for n in names]
    print("| " + " | ".join([args.by, *header[1:]]) + " |")
    print("|" + "---|" * len(header))
    first = reports[names[0]]
    rows = [*sorted(first[args.by]), "all"]
    for row in rows:
        metrics = [r["all"] if row == "all" else r[args.by][row] for r in reports.values()]
        cells = [row, str(metrics[0]["n_human"]), str(metrics[0]["n_llm"])]
        for key in ("auroc", "0.01", "0.05"):
            cells += [cell(m, key) for m in metrics]
        print("| " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
