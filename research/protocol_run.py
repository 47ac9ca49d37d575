"""What the probes of the recorded generalization protocol share: a report, its logits, its folds' texts.

The probes run as ``python research/NAME.py``, so this module is imported as ``protocol_run`` (the
script's directory is first on ``sys.path``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


class ProtocolRun:
    """A generalization report with its logits and the folds' test texts rebuilt from the corpus: what
    every probe of the recorded protocol reads (``research/probe_*.py``).

    ``free`` names the free-form source folds; ``test[fold]`` the corpus indices of a fold's test texts,
    in the order of its stored logits.
    """

    def __init__(self, report_path: Path, corpus: str) -> None:
        from humanlike.training.data.readers import load_corpus
        from humanlike.training.evaluation.generalization import protocol_folds, read_logits
        from humanlike.training.evaluation.leave_out import sampled_test

        self.report = json.loads(report_path.read_text())
        self.logits = read_logits(report_path)
        self.records, _ = load_corpus([corpus])
        self.test = {
            f.name: sampled_test(self.records, f, self.report["max_test"], self.report["seed"]).test
            for f in protocol_folds(self.records)
        }
        self.free = sorted(
            {
                r["fold"]
                for r in self.report["folds"]
                if r["data_types"] == ["free_form"] and r["fold"].startswith("source=")
            }
        )

    def texts(self, fold: str) -> list[str]:
        from humanlike.training.data.corpus import texts_of

        return texts_of(self.records, self.test[fold])

    def labels(self, fold: str) -> Any:
        """1 for LLM, 0 for human, of the fold's test texts."""
        from humanlike.training.data.corpus import labels_of

        return labels_of(self.records, self.test[fold])

    def standardised(self, fold: str, members: tuple[str, ...]) -> Any:
        """``[texts, members]``: each member's test logits standardised by its held-apart human logits,
        as the protocol's stacks (and the shipped two-view bundle) do."""
        import numpy as np

        columns = []
        for m in members:
            test, held = self.logits[f"{fold}|{m}|test"], self.logits[f"{fold}|{m}|held"]
            columns.append((test - held.mean()) / held.std())
        return np.column_stack(columns)
