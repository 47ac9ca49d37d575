"""What the corpus's DATACARD.md states, read from its count tables, so that tests check the corpus against
its own documentation rather than against numbers that the next file in the directory changes."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

BATCH_HEADING = re.compile(r"^# ", re.MULTILINE)


@dataclass
class BatchCounts:
    """One file's stated counts: texts per label, and the LLM generators it names."""

    human: int = 0
    llm: int = 0
    generators: set[str] = field(default_factory=set)


def _rows(table: list[str]) -> list[list[str]]:
    return [[c.strip() for c in line.strip().strip("|").split("|")] for line in table]


def _tables(section: str) -> list[list[list[str]]]:
    tables: list[list[str]] = []
    current: list[str] = []
    for line in [*section.splitlines(), ""]:
        if line.startswith("|"):
            current.append(line)
        elif current:
            tables.append(current)
            current = []
    # drop each table's |---| separator row
    return [[r for r in _rows(t) if not all(set(c) <= {"-", ":"} for c in r)] for t in tables]


def batch_counts(datacard: Path) -> list[BatchCounts]:
    """Counts of each batch (file) the card describes, in the card's order."""
    batches = []
    for section in BATCH_HEADING.split(datacard.read_text(encoding="utf-8")):
        counts = BatchCounts()
        found = False
        for header, *rows in _tables(section):
            if header[:3] == ["data_type", "human", "llm"]:
                found = True
                counts.human += sum(int(r[1]) for r in rows)
                counts.llm += sum(int(r[2]) for r in rows)
            elif header[0] == "generator":
                # either "generator | human | llm" or repeated "generator | llm" column pairs
                pairs = (
                    [(0, 2)]
                    if header[:3] == ["generator", "human", "llm"]
                    else [(i, i + 1) for i in range(0, len(header), 2)]
                )
                for row in rows:
                    for name_col, llm_col in pairs:
                        if row[name_col] and row[llm_col] and int(row[llm_col]) > 0:
                            counts.generators.add(row[name_col])
        if found:
            batches.append(counts)
    return batches
