"""A curriculum's manifest (``OUT.manifest.json``): what was done, with what, and what came out.

It describes the job, not the run: no timings, no work directory, so that a resumed job writes it
byte for byte as an uninterrupted one would.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from humanlike.curriculum.options import CurriculumOptions, Strategy
from humanlike.curriculum.ordering import Ordering
from humanlike.curriculum.quality import QUALITY_FORMULA
from humanlike.detector.bundle import BundleManifest
from humanlike.textstats import MTLD_THRESHOLD

MANIFEST_SCHEMA = "humanlike-curriculum"
MANIFEST_VERSION = 1

ORDER_DESCRIPTIONS: dict[Strategy, str] = {
    "human-likeness": "human_likeness descending, then input line",
    "quality": "quality.score descending, then input line",
    "mixed-generators": "round-robin over generators (byte order within a round); within a generator, "
    "human_likeness descending, then input line",
    "combined": "round-robin over generators (byte order within a round); within a generator, "
    "sqrt(human_likeness * quality.score) descending, then input line",
}


def curriculum_manifest(
    options: CurriculumOptions,
    *,
    engine: str,
    input_path: Path,
    bundle_root: Path,
    bundle_manifest: BundleManifest,
    bundle_checksums: str,
    n_lines: int,
    ordering: Ordering,
) -> dict[str, Any]:
    """The manifest of a finished job, from its options, its input and bundle, and its ordering."""
    dedup = options.scoring.dedup
    return {
        "schema": MANIFEST_SCHEMA,
        "schema_version": MANIFEST_VERSION,
        "strategy": options.strategy,
        "order": ORDER_DESCRIPTIONS[options.strategy],
        "engine": engine,
        "input": {"path": str(input_path), "bytes": input_path.stat().st_size},
        "bundle": {
            "path": str(bundle_root),
            "kind": bundle_manifest.kind,
            "checksums_sha256": bundle_checksums,
        },
        "options": options.as_dict(),
        "metrics": {
            "human_likeness": "1 - the bundle's calibrated P(llm)",
            "quality": QUALITY_FORMULA,
            "mtld_threshold": MTLD_THRESHOLD,
            "oov_lexicon": f"wordfreq {options.scoring.lexicon_lang}",
            "dedup": {
                "mode": dedup.mode,
                "threshold": dedup.threshold,
                "num_perm": dedup.num_perm,
                "bands_rows": list(dedup.bands) if dedup.mode == "near" else None,
            },
        },
        "counts": {"lines": n_lines, "output": ordering.n_output, **ordering.reject_counts},
        "stages": ordering.stage_summary(),
        "corpus": {
            "by_generator": ordering.corpus_by_group.summary(),
            "by_label": ordering.corpus_by_label.summary(),
        },
        "output_by_generator": ordering.output_by_group.summary(),
    }
