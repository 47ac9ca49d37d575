"""The one record schema every corpus is read into (the fields of ``../shared/corpus/DATACARD.md``)."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

Label = Literal["human", "llm"]
DataType = Literal[
    "free_form", "translation", "instructions", "simulated_dialogues", "preferences", "task_labels"
]
LABELS: tuple[Label, ...] = ("human", "llm")
DATA_TYPES: tuple[DataType, ...] = (
    "free_form",
    "translation",
    "instructions",
    "simulated_dialogues",
    "preferences",
    "task_labels",
)


class CorpusRecord(BaseModel):
    """One text with its provenance.

    ``generator`` defaults to ``"human"`` for human texts and ``"unknown"`` for LLM texts; a human text
    may not name another generator.
    """

    model_config = ConfigDict(frozen=True, extra="ignore", str_strip_whitespace=False)

    id: str = Field(min_length=1)
    text: str = Field(min_length=1)
    label: Label
    data_type: DataType
    source: str = Field(min_length=1)
    generator: str = ""
    generator_raw: str | None = None
    domain: str | None = None
    pair_id: str | None = None
    variant: str | None = None

    @model_validator(mode="after")
    def _generator_matches_label(self) -> Self:
        if not self.generator:
            object.__setattr__(self, "generator", "human" if self.label == "human" else "unknown")
        elif self.label == "human" and self.generator != "human":
            raise ValueError(f"a human text cannot have generator {self.generator!r}")
        elif self.label == "llm" and self.generator == "human":
            raise ValueError("an LLM text cannot have generator 'human'")
        if not self.text.strip():
            raise ValueError("text is blank")
        return self

    @property
    def group(self) -> str:
        """Texts that share a group must stay on one side of any split (``pair_id``, else ``id``)."""
        return self.pair_id if self.pair_id is not None else self.id
