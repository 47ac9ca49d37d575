"""The model card is written from the manifest alone and says what the manifest holds."""

from __future__ import annotations

from humanlike.detector.bundle import (
    BundleManifest,
    Calibration,
    CorpusFingerprint,
    SplitSpec,
    Threshold,
)
from humanlike.detector.card import render_model_card


def metrics(n_human: int, n_llm: int, auroc: float | None) -> dict[str, object]:
    return {"n_human": n_human, "n_llm": n_llm, "auroc": auroc, "tpr_at_fpr": {"0.01": 0.2}, "ece": 0.05}


def manifest(**changes: object) -> BundleManifest:
    base = BundleManifest(
        kind="ngram-linear",
        max_length=100_000,
        calibration=Calibration(slope=1.0, intercept=0.0, fitted_on="calibration split"),
        thresholds=[
            Threshold(
                target_fpr=0.01,
                p_llm=0.9522,
                measured_fpr=0.01,
                n_human=300,
                fitted_on="out-of-source human texts",
                worst_source_fpr=0.111,
            )
        ],
        corpus=CorpusFingerprint(sha256="ab" * 32, n_records=1000, paths=["corpus"]),
        split=SplitSpec(
            seed=3,
            holdout_fraction=0.1,
            calibration_fraction=0.1,
            n_train=800,
            n_calibration=100,
            n_holdout=100,
        ),
        metrics={
            "holdout": {"all": metrics(50, 50, 0.91), "data_type": {"free_form": metrics(50, 50, 0.91)}},
            "out_of_source": {
                "fitted_on": "refits without each source",
                "all": metrics(80, 80, 0.8),
                "source": {
                    "newsy": metrics(40, 40, 0.95),
                    "judgements": metrics(40, 40, 0.52),
                    "tiny": metrics(2, 2, 0.1),
                },
            },
        },
        training={"train_sources": {"newsy": {"human": 400, "llm": 300}}, "config": {"C": 1.0}},
        created_at="2026-12-03T00:00:00+00:00",
        humanlike_version="0.1.0",
    )
    return base.model_copy(update=changes)


def test_the_card_carries_the_manifests_figures() -> None:
    card = render_model_card(manifest())
    front, body = card.split("\n---\n", 1)
    assert front.startswith("---\nlicense: apache-2.0")
    assert "holdout_auroc: 0.91" in front and "out_of_source_auroc: 0.8" in front
    assert f"corpus_sha256: {'ab' * 32}" in front
    assert "| newsy | 400 | 300 |" in body  # training texts per source
    assert "0.9522" in body and "11.1%" in body  # the threshold and its worst-source FPR
    assert "--seed 3" in body  # how to reproduce
    # a weak left-out source is a known failure; a slice too small to measure is not listed
    assert "left-out source `judgements`: AUROC 0.520" in body
    assert "`tiny`: AUROC" not in body and "`newsy`: AUROC" not in body


def test_a_bundle_without_labelled_texts_says_so() -> None:
    card = render_model_card(manifest(thresholds=[], metrics={}))
    assert "no threshold promises a false-positive rate" in card
    assert "Not measured in this bundle" in card
    assert "No hold-out" in card
