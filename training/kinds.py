"""Detector kinds as estimators in scikit-learn's manner, and the registry that names them.

A kind is one small class:

- its parameters in ``__init__`` (a configuration dataclass, a seed), stored as given and read only
  by ``fit``, so that :func:`sklearn.base.clone` makes an unfitted copy (the out-of-source refits do);
- ``fit(records)`` on labelled corpus records: the text and the label, and the group, pair or source
  where the kind reads them (a grouped split of its own, mirror pairs, source weights);
- ``decision_function(texts)``: LLM log-odds per text, the scale the bundle's calibration reads;
- ``draft_bundle()``: the fitted model as a bundle draft (graph and files) for the one build path,
  :func:`humanlike.training.build.train_bundle`; a kind made only for the protocol has none.

Everything that fits a detector goes through this interface: ``humanlike train`` and its refits,
``humanlike zero-shot-bundle``, the generalization protocol's candidates and cross-validation's models.
A new kind is one class (a subclass of :class:`DetectorKind`) and one line in :data:`KINDS`.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Self

import numpy as np
from sklearn.base import BaseEstimator

if TYPE_CHECKING:
    from humanlike.training.build import DraftBundle
    from humanlike.training.data.schema import CorpusRecord


class DetectorKind(BaseEstimator):  # type: ignore[misc]  # scikit-learn ships no type stubs
    """The interface every detector kind implements (see the module's docstring)."""

    name: ClassVar[str]
    """The kind's key in :data:`KINDS`."""
    recipe_key: ClassVar[str]
    """Under which key the generalization protocol records the kind's configuration."""

    def fit(
        self, records: Sequence[CorpusRecord], *, validation: Sequence[CorpusRecord] | None = None
    ) -> Self:
        """Fits on ``records``; ``validation``, for a kind that stops early, is read instead of a part
        of ``records`` set apart by the kind itself."""
        raise NotImplementedError

    def decision_function(self, texts: Sequence[str]) -> np.ndarray:
        raise NotImplementedError

    def draft_bundle(self) -> DraftBundle:
        raise NotImplementedError(f"the {self.name} kind makes no bundle: it is a candidate of the protocol")

    def recipe(self) -> dict[str, Any]:
        """The parameters as JSON, as the generalization protocol records a candidate's model."""
        return {self.recipe_key: self.get_params()["config"].as_dict()}


KINDS: dict[str, str] = {
    "ngram": "humanlike.training.models.ngram:NgramDetector",
    "hybrid": "humanlike.training.models.hybrid:HybridDetector",
    "zero-shot": "humanlike.training.models.zero_shot:ZeroShotDetector",
    "transformer": "humanlike.training.models.transformer:TransformerDetector",
    "encoder-lr": "humanlike.training.models.encoder:FrozenEncoderClassifier",
    "surprisal": "humanlike.training.models.surprisal:SurprisalClassifier",
}
"""Kind name -> ``module:class``, imported when asked for: the n-gram's users never import torch."""


def kind_class(name: str) -> type[DetectorKind]:
    """The class of the kind named ``name``."""
    if name not in KINDS:
        raise KeyError(f"no detector kind {name!r}; the kinds are {', '.join(KINDS)}")
    module, cls = KINDS[name].split(":")
    found: type[DetectorKind] = getattr(importlib.import_module(module), cls)
    return found


def make_kind(name: str, **params: Any) -> DetectorKind:
    """An unfitted estimator of the kind ``name`` with ``params``."""
    return kind_class(name)(**params)
