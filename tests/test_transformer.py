"""The transformer detector: ONNX parity with PyTorch, int8 accuracy, token windows, batching, bundle."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from humanlike.detector import BundleError, Detector
from humanlike.detector.bundle import read_bundle
from humanlike.detector.runtime import choose_providers, plan_batches
from humanlike.training.data.corpus import texts_of
from humanlike.training.data.schema import CorpusRecord
from humanlike.training.data.splits import make_splits

from .conftest import TINY_TRANSFORMER
from .test_layers import run_blocked

# A real fine-tune and two exports: these run in `make test`, not `make test-fast`.
pytestmark = pytest.mark.slow

EDGE_CASES = [
    "a",
    "Tabs\tand  double  spaces\n\nand blank lines",
    "İstanbul ǅemal ÀÉÎ straße ﬁne 😀 emoji and 中文字符",
    "NUL\x00inside",
]


def holdout_texts(records: list[CorpusRecord]) -> list[str]:
    splits = make_splits(records, seed=0, holdout_fraction=0.1, calibration_fraction=0.1)
    return texts_of(records, splits.holdout)


def long_text(records: list[CorpusRecord]) -> str:
    return " ".join(holdout_texts(records)[:12])


def test_fp32_onnx_matches_pytorch(
    transformer_checkpoint: Path, transformer_bundles: Path, small_corpus: list[CorpusRecord]
) -> None:
    # imported here, not at the top: `make test-fast` collects this module (and leaves its tests out)
    import torch

    from humanlike.training.models.transformer import (
        load_checkpoint,
        window_logits,
        window_tokenizer,
        windows_of,
    )

    texts = holdout_texts(small_corpus) + EDGE_CASES + [long_text(small_corpus)]
    model, _ = load_checkpoint(transformer_checkpoint)
    tokenizer = window_tokenizer(
        transformer_checkpoint / "tokenizer.json",
        TINY_TRANSFORMER.max_tokens,
        TINY_TRANSFORMER.window_overlap,
    )
    reference_windows = [w for e in tokenizer.encode_batch(texts) for w in windows_of(e)]
    reference = window_logits(model, reference_windows, torch.device("cpu"))

    windows, onnx_logits = Detector(transformer_bundles / "fp32", device="cpu").window_logits(texts)
    assert [w.ids for w in windows] == [w.ids for w in reference_windows]
    diff = float(np.abs(onnx_logits - reference).max())
    print(
        f"fp32 ONNX vs PyTorch on {len(windows)} windows of {len(texts)} texts: max abs logit diff {diff:.3g}"
    )
    assert diff <= 1e-4
    assert reference.std() > 0.05, "logits should vary across texts, or parity proves little"


def test_int8_keeps_holdout_auroc(transformer_bundles: Path) -> None:
    aurocs = {
        p: read_bundle(transformer_bundles / p)[1].metrics["holdout"]["all"]["auroc"]
        for p in ("fp32", "int8")
    }
    print(f"hold-out AUROC fp32 {aurocs['fp32']:.4f}, int8 {aurocs['int8']:.4f}")
    assert aurocs["fp32"] > 0.6, "the tiny model should have learned something, or the comparison is moot"
    assert abs(aurocs["fp32"] - aurocs["int8"]) <= 0.005


def test_long_text_is_read_in_overlapping_windows(
    transformer_bundles: Path, small_corpus: list[CorpusRecord]
) -> None:
    detector = Detector(transformer_bundles / "fp32", device="cpu")
    text = long_text(small_corpus)
    (scored,) = detector.score_texts([text], windows=True)
    assert scored.windows is not None and len(scored.windows) >= 3
    assert scored.windows[0].start == 0
    assert scored.windows[-1].end == len(text.rstrip())
    for before, after in zip(scored.windows, scored.windows[1:], strict=False):
        assert before.start < after.start < before.end < after.end  # consecutive windows overlap
    # the text's score lies within its windows' scores (a weighted mean of their logits)
    assert min(w.p_llm for w in scored.windows) <= scored.p_llm <= max(w.p_llm for w in scored.windows)
    assert detector.score_texts([text])[0].windows is None
    assert detector.score_texts([text])[0].p_llm == pytest.approx(scored.p_llm)
    short = detector.score_texts(["A short text."], windows=True)[0]
    assert short.windows is not None and len(short.windows) == 1


def test_batches_are_capped_by_tokens() -> None:
    sizes = [5, 120, 7, 64, 64, 3, 128, 9, 200, 1]
    batches = plan_batches(sizes, max_batch_tokens=256, max_batch_size=4)
    assert sorted(i for b in batches for i in b) == list(range(len(sizes)))
    for batch in batches:
        assert len(batch) <= 4
        assert len(batch) == 1 or len(batch) * max(sizes[i] for i in batch) <= 256
    assert [sizes[b[0]] for b in batches] == sorted(sizes[b[0]] for b in batches)  # shortest first
    assert any(len(b) == 1 and sizes[b[0]] == 200 for b in batches)  # wider than a shared batch: alone


def test_batch_cap_does_not_change_scores(
    transformer_bundles: Path, small_corpus: list[CorpusRecord]
) -> None:
    """fp32: a text's score does not depend on how it was batched.

    int8 (dynamic quantization) quantizes activations with one scale per batch, so a text's logit moves
    slightly with its batch neighbours; the bound here is what the README states for int8 bundles.
    """
    texts = [*holdout_texts(small_corpus)[:40], long_text(small_corpus)]
    for precision, bound in (("fp32", 1e-4), ("int8", 0.05)):
        detector = Detector(transformer_bundles / precision, device="cpu")
        wide = detector.llm_logits(texts)
        narrow = Detector(transformer_bundles / precision, device="cpu", max_batch_tokens=64).llm_logits(
            texts, batch_size=1
        )
        diff = float(np.abs(wide - narrow).max())
        print(f"{precision}: batched vs one window at a time, max abs logit diff {diff:.3g}")
        assert diff < bound


def test_manifest_and_info_describe_the_model(transformer_bundles: Path) -> None:
    for precision in ("fp32", "int8"):
        detector = Detector(transformer_bundles / precision, device="cpu")
        info = detector.info
        assert info.kind == "transformer" and info.precision == precision
        assert info.max_tokens == TINY_TRANSFORMER.max_tokens
        assert info.providers == ["CPUExecutionProvider"] and info.provider == "CPUExecutionProvider"
        manifest = detector.manifest
        assert [t.target_fpr for t in manifest.thresholds] == [0.01, 0.05]
        assert manifest.calibration.fitted_on.startswith("calibration split")
        assert manifest.training["history"] and manifest.training["best_step"] > 0


def test_gpu_providers_are_preferred_when_present() -> None:
    everything = ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]
    assert choose_providers("auto", everything) == everything
    assert choose_providers("auto", everything[1:]) == everything[1:]
    assert choose_providers("cpu", everything) == ["CPUExecutionProvider"]
    assert choose_providers("auto", ["CPUExecutionProvider"]) == ["CPUExecutionProvider"]
    with pytest.raises(RuntimeError, match="no CUDA execution provider"):
        choose_providers("cuda", ["CPUExecutionProvider"])


def test_transformer_bundle_without_its_tokenizer_is_refused(
    transformer_bundles: Path, tmp_path: Path
) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(transformer_bundles / "int8", broken)
    (broken / "tokenizer.json").unlink()
    with pytest.raises(BundleError, match=r"tokenizer\.json is missing"):
        Detector(broken)
    sums = (broken / "SHA256SUMS").read_text().splitlines()
    (broken / "SHA256SUMS").write_text("".join(f"{s}\n" for s in sums if not s.endswith("tokenizer.json")))
    with pytest.raises(BundleError, match=r"needs tokenizer\.json"):
        Detector(broken)


def test_export_refuses_a_corpus_it_was_not_trained_on(transformer_checkpoint: Path, tmp_path: Path) -> None:
    from humanlike.training.models.transformer_graph import export_bundles

    other = tmp_path / "other.jsonl"
    other.write_text(
        "".join(
            json.dumps(
                {
                    "id": f"x{i}",
                    "text": f"text {i}",
                    "label": "human" if i % 2 else "llm",
                    "data_type": "free_form",
                    "source": "s",
                    "generator": "human" if i % 2 else "g",
                }
            )
            + "\n"
            for i in range(20)
        )
    )
    with pytest.raises(ValueError, match="not the one"):
        export_bundles(transformer_checkpoint, [str(other)], tmp_path / "out", progress=False)


def test_cli_scores_windows_without_the_training_stack(
    transformer_bundles: Path, small_corpus: list[CorpusRecord]
) -> None:
    bundle = str(transformer_bundles / "int8")
    score = run_blocked("score", bundle, long_text(small_corpus), "A short one.", "--windows")
    assert score.returncode == 0, score.stderr
    lines = [json.loads(line) for line in score.stdout.splitlines()]
    assert [line["index"] for line in lines] == [0, 1]
    assert len(lines[0]["windows"]) >= 3 and len(lines[1]["windows"]) == 1
    assert set(lines[0]["windows"][0]) == {"start", "end", "p_llm"}
    info = run_blocked("info", bundle)
    assert info.returncode == 0, info.stderr
    model = json.loads(info.stdout)["model"]
    assert model["kind"] == "transformer" and model["precision"] == "int8"
    assert model["providers"] == ["CPUExecutionProvider"]
