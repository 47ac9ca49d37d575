"""What a curriculum job does: its strategy, filters, caps, stages and scoring options.

Strategies (each breaks ties by input line, so the order is total and reproducible):

- ``human-likeness``: most human-like first (the detector's calibrated ``human_likeness``);
- ``quality``: highest :func:`humanlike.curriculum.quality.quality_score` first;
- ``mixed-generators``: each generator's rows most human-like first, dealt round-robin across
  generators (generator names in byte order within a round), so that every prefix holds as many
  generators as it can, in as equal shares as it can;
- ``combined``: round-robin across generators like ``mixed-generators``, each generator's rows by
  the geometric mean of human-likeness and quality.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Literal

from humanlike.curriculum.extsort import DEFAULT_RUN_BYTES
from humanlike.curriculum.scoring import ScoringOptions

Strategy = Literal["human-likeness", "quality", "mixed-generators", "combined"]
STRATEGIES: tuple[Strategy, ...] = ("human-likeness", "quality", "mixed-generators", "combined")
ROUND_ROBIN: tuple[Strategy, ...] = ("mixed-generators", "combined")


@dataclass(frozen=True)
class CurriculumOptions:
    """What a curriculum job does; every field is part of its fingerprint.

    Args:
        strategy: the order (see :mod:`humanlike.curriculum.options`).
        scoring: fields to read, lexicon, batch size, dedup mode.
        chunk_lines: rows per scoring chunk, the checkpoint granularity.
        stages: equal-size stages the output is cut into (stage 0 first).
        top_fraction: keep only this leading share of the ordered rows (after filters and caps).
        min_human_likeness: drop rows below this human-likeness.
        min_quality: drop rows below this quality score.
        max_per_generator: keep at most this many rows of each generator (the best by the
            strategy's within-generator order).
        run_bytes: memory for each external sort's runs.
    """

    strategy: Strategy = field(default="human-likeness", metadata={"help": "the order"})
    scoring: ScoringOptions = field(default_factory=ScoringOptions)
    chunk_lines: int = field(default=10_000, metadata={"help": "rows per checkpointed chunk"})
    stages: int = field(default=4, metadata={"help": "equal stages the order is cut into"})
    top_fraction: float | None = field(
        default=None, metadata={"help": "keep this leading share of the order"}
    )
    min_human_likeness: float | None = field(
        default=None, metadata={"help": "drop rows below this human-likeness"}
    )
    min_quality: float | None = field(default=None, metadata={"help": "drop rows below this quality score"})
    max_per_generator: int | None = field(
        default=None, metadata={"help": "keep at most N rows of each generator"}
    )
    run_bytes: int = DEFAULT_RUN_BYTES

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {', '.join(STRATEGIES)}, not {self.strategy!r}")
        if self.chunk_lines < 1 or self.stages < 1:
            raise ValueError("chunk_lines and stages must be at least 1")
        if self.top_fraction is not None and not 0.0 < self.top_fraction <= 1.0:
            raise ValueError(f"top_fraction must be in (0, 1], not {self.top_fraction}")
        if self.max_per_generator is not None and self.max_per_generator < 1:
            raise ValueError("max_per_generator must be at least 1")

    def within_generator_score(self, h: float, q: float) -> float:
        """Larger first: the order inside one generator (and the whole order for sort strategies)."""
        if self.strategy == "quality":
            return q
        if self.strategy == "combined":
            return math.sqrt(max(h, 0.0) * max(q, 0.0))
        return h

    def as_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out.pop("run_bytes")  # memory, not meaning: a resumed job may use another
        return out
