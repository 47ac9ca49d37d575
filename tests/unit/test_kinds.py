"""Detector kinds as estimators: the registry, cloning, and the n-gram kind fitted on a few texts."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from sklearn.base import clone

from humanlike.detector.bundle import FEATURES_FILE, MODEL_FILE
from humanlike.training.config import NgramBaselineConfig
from humanlike.training.data.schema import CorpusRecord
from humanlike.training.evaluation.generalization import CANDIDATES
from humanlike.training.kinds import KINDS, DetectorKind, kind_class, make_kind
from humanlike.training.models.ngram import NgramDetector

TINY = NgramBaselineConfig(max_word_features=500, max_char_features=500, distorted_view_words=None)
HUMAN = "we walked home in the rain and laughed about nothing at all"
LLM = "certainly! here is a comprehensive overview of the key considerations"


def records(n: int) -> list[CorpusRecord]:
    return [
        CorpusRecord(
            id=str(i),
            text=f"{HUMAN if i % 2 else LLM} {i}",
            label="human" if i % 2 else "llm",
            data_type="free_form",
            source=f"s{i % 3}",
            group=f"g{i // 2}",
        )
        for i in range(n)
    ]


def test_the_registry_names_each_kind_by_its_own_name() -> None:
    assert kind_class("ngram") is NgramDetector and NgramDetector.name == "ngram"
    assert set(KINDS) >= {"ngram", "hybrid", "zero-shot", "transformer", "encoder-lr", "surprisal"}
    with pytest.raises(KeyError, match="no detector kind 'nope'"):
        kind_class("nope")
    # every protocol candidate that fits a model names a registered kind
    assert {c.kind for c in CANDIDATES.values() if not c.stack} <= set(KINDS)


def test_a_clone_keeps_the_parameters_and_drops_the_fit() -> None:
    model = make_kind("ngram", config=TINY, seed=3).fit(records(40))
    assert isinstance(model, DetectorKind) and hasattr(model, "model_")
    copy = clone(model)
    assert copy.get_params() == {"config": TINY, "seed": 3} and not hasattr(copy, "model_")


@pytest.mark.parametrize("views", [None, 20])
def test_the_ngram_kind_fits_scores_and_drafts_its_bundle(views: int | None) -> None:
    config = dataclasses.replace(TINY, distorted_view_words=views)
    model = NgramDetector(config).fit(records(60))
    human, llm = model.decision_function([HUMAN, LLM])
    assert llm > human
    draft = model.draft_bundle()
    assert draft.kind == "ngram-linear" and {MODEL_FILE, FEATURES_FILE} <= set(draft.files)
    assert draft.training["config"] == config.as_dict()
    assert ("views" in draft.training) == bool(views)
    assert np.isfinite(model.decision_function(["", "one"])).all()


def test_a_recipe_records_the_configuration_without_options_left_off() -> None:
    recipe = NgramDetector(TINY).recipe()["ngram"]
    assert recipe["C"] == TINY.C and "pair_contrast" not in recipe  # None: recorded before it existed
