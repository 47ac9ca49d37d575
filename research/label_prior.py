"""How much of the preferences / task-labels signal is the judgement's label value alone?

    .venv/bin/python research/label_prior.py [--corpus PATH]

Those records hold the same text with a human's or an LLM's judgement attached (the last line, e.g.
"Label: 2"). This scores each record by P(llm | its last line), estimated on the same records (in
sample, so an upper bound for that feature), and prints the AUROC per data type beside the counts.
"""

from __future__ import annotations

import argparse
from collections import Counter

from sklearn.metrics import roc_auc_score

from humanlike.training.data.corpus import resolve_corpus_paths
from humanlike.training.data.readers import load_corpus


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--corpus", nargs="+")
    args = parser.parse_args()
    records, _ = load_corpus(resolve_corpus_paths(args.corpus))
    for data_type in ("task_labels", "preferences"):
        rs = [r for r in records if r.data_type == data_type]
        last = [r.text.strip().splitlines()[-1] for r in rs]
        total = Counter(last)
        llm = Counter(line for line, r in zip(last, rs, strict=True) if r.label == "llm")
        prior = [llm[line] / total[line] for line in last]
        auroc = roc_auc_score([r.label == "llm" for r in rs], prior)
        print(f"{data_type}: AUROC of P(llm | last line), in sample = {auroc:.3f}")
        for line, n in total.most_common(6):
            print(f"    {line!r:<24} human {n - llm[line]:>5}  llm {llm[line]:>5}")


if __name__ == "__main__":
    main()
