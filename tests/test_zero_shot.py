"""The LM-based bundles: zero-shot (packaged SmolLM2, no training) and hybrid (LM statistics + encoder).

Real model, real export, real ONNX Runtime: the bundles are built here from the packaged LM the way
`humanlike zero-shot-bundle` and `humanlike train --model hybrid` build them, on a few texts.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import onnxruntime as ort
import pytest

from humanlike.detector import Detector
from humanlike.detector.bundle import MODEL_FILE, TOKENIZER_FILE, BundleError, read_bundle
from humanlike.detector.inputs import TokenWindows
from humanlike.training.build import train_bundle
from humanlike.training.config import HybridConfig, SamplingConfig, SplitConfig, ZeroShotConfig
from humanlike.training.data.schema import CorpusRecord
from humanlike.training.pretrained import default_lm_gguf
from tests.test_cli import humanlike

# torch, transformers and the LM's modules are imported where they are used: `make test-fast` leaves
# this module's tests out but still collects (imports) it, and importing them would cost seconds there.
if TYPE_CHECKING:
    import torch

    from humanlike.training.models.hybrid import WindowFeaturizer

# The packaged LM reads a few texts a second on 2 cores: these run in `make test`, not `make test-fast`.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def lm() -> tuple[torch.nn.Module, object]:
    from humanlike.training.models.lm import load_lm

    return load_lm()


@pytest.fixture(scope="module")
def uncalibrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Built as a user on a fresh machine builds it: the command, the packaged model, no corpus."""
    out = tmp_path_factory.mktemp("zero-shot") / "bundle"
    result = humanlike("zero-shot-bundle", "--out", str(out), "--no-calibration", "--no-progress")
    assert result.returncode == 0, result.stderr
    assert b"uncalibrated" in result.stdout
    return out


SHORT_TEXT_CHARS = 240
"""The LM's cost grows with the tokens it reads: the bundles here are built and calibrated on the
session's sample with every text cut to about one short window (the claims are about the graphs, the
quantization and the build path, not about accuracy on long texts; the parity tests read long texts)."""


@pytest.fixture(scope="module")
def short_corpus_file(small_corpus: list[CorpusRecord], tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("corpus") / "short.jsonl"
    short = [r.model_copy(update={"text": r.text[:SHORT_TEXT_CHARS]}) for r in small_corpus]
    path.write_text("".join(r.model_dump_json() + "\n" for r in short), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def calibrated(short_corpus_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default build: int8, smoothed on the calibration texts, then calibrated on them."""
    from humanlike.training.models.zero_shot import build_zero_shot_bundle

    out = tmp_path_factory.mktemp("zero-shot") / "calibrated"
    build_zero_shot_bundle(
        out,
        corpus_paths=[str(short_corpus_file)],
        config=ZeroShotConfig(calibration_size=80, smoothing_texts=16),
        progress=False,
    )
    return out


@pytest.fixture(scope="module")
def featurizer() -> WindowFeaturizer:
    """The hybrid's LM and encoder, loaded once for the module."""
    from humanlike.training.models.hybrid import WindowFeaturizer

    return WindowFeaturizer()


@pytest.fixture(scope="module")
def real_texts(small_corpus: list[CorpusRecord]) -> list[str]:
    humans = [r.text for r in small_corpus if r.label == "human"][:3]
    llms = [r.text for r in small_corpus if r.label == "llm"][:3]
    return humans + llms


def _lm_feed(bundle: Path, texts: list[str]) -> dict[str, np.ndarray]:
    _, manifest = read_bundle(bundle)
    assert manifest.windows is not None
    inputs = TokenWindows(bundle / TOKENIZER_FILE, manifest.windows.max_tokens, manifest.windows.overlap)
    return inputs.feed(texts, inputs.windows(texts))


def test_onnx_logits_match_pytorch_on_real_texts(
    uncalibrated: Path, lm: tuple, real_texts: list[str]
) -> None:
    import torch

    model, _ = lm
    feed = _lm_feed(uncalibrated, real_texts)
    session = ort.InferenceSession(str(uncalibrated / MODEL_FILE), providers=["CPUExecutionProvider"])
    (onnx_logits,) = session.run(["lm_logits"], feed)
    with torch.inference_mode():
        torch_logits = model(
            input_ids=torch.from_numpy(feed["input_ids"]),
            attention_mask=torch.from_numpy(feed["attention_mask"]),
            use_cache=False,
        ).logits.numpy()
    real = feed["attention_mask"].astype(bool)  # padded positions are never read
    diff = float(np.abs(onnx_logits - torch_logits)[real].max())
    print(f"ONNX vs PyTorch LM logits, {int(real.sum())} tokens: max |diff| {diff:.2e}")
    assert onnx_logits.shape == torch_logits.shape
    assert diff < 1e-3


def _fast_detectgpt(logits: np.ndarray, ids: np.ndarray, n: int) -> float:
    """The criterion written out in NumPy, from the LM's logits of one window of n tokens."""
    z = logits[: n - 1].astype(np.float64)
    log_p = z - z.max(-1, keepdims=True)
    log_p -= np.log(np.exp(log_p).sum(-1, keepdims=True))
    p = np.exp(log_p)
    ll = log_p[np.arange(n - 1), ids[1:n]]
    mean = (p * log_p).sum(-1)
    var = (p * log_p**2).sum(-1) - mean**2
    return float((ll.sum() - mean.sum()) / np.sqrt(var.sum()))


def test_the_runtime_computes_fast_detectgpt_from_the_logits(
    uncalibrated: Path, lm: tuple, real_texts: list[str]
) -> None:
    import torch

    model, _ = lm
    texts = [t[:300] for t in real_texts]  # one window each
    feed = _lm_feed(uncalibrated, texts)
    assert len(feed["input_ids"]) == len(texts)
    with torch.inference_mode():
        logits = model(input_ids=torch.from_numpy(feed["input_ids"]), use_cache=False).logits.numpy()
    lengths = feed["attention_mask"].sum(1)
    expected = [_fast_detectgpt(logits[i], feed["input_ids"][i], int(lengths[i])) for i in range(len(texts))]
    detector = Detector(uncalibrated, device="cpu")
    assert detector.llm_logits(texts) == pytest.approx(expected, abs=2e-3)


def test_a_bundle_built_without_a_corpus_scores_and_says_it_is_uncalibrated(
    uncalibrated: Path, real_texts: list[str]
) -> None:
    _, manifest = read_bundle(uncalibrated)
    assert manifest.kind == "zero-shot" and manifest.thresholds == []
    assert manifest.corpus.n_records == 0
    assert manifest.calibration.fitted_on.startswith("none")
    scores = Detector(uncalibrated, device="cpu").score_texts(real_texts)
    assert all(0.0 < s.p_llm < 1.0 and s.flagged == {} for s in scores)
    assert manifest.training["criterion"] == "fast_detectgpt"


def test_a_calibrated_bundle_has_thresholds_at_1_and_5_percent_fpr(
    calibrated: Path, real_texts: list[str]
) -> None:
    _, manifest = read_bundle(calibrated)
    assert [t.target_fpr for t in manifest.thresholds] == [0.01, 0.05]
    for t in manifest.thresholds:
        assert t.measured_fpr <= t.target_fpr and t.n_human > 10
    assert manifest.calibration.slope != 1.0  # fitted, not the default
    metrics = manifest.metrics["calibration_sample"]
    assert metrics["n_human"] == manifest.thresholds[0].n_human and metrics["n_llm"] > 10
    scores = Detector(calibrated, device="cpu").score_texts(real_texts)
    assert all(set(s.flagged) == {"0.01", "0.05"} for s in scores)


def test_smoothing_moves_outliers_into_the_weights_and_leaves_the_fp32_model_as_it_was(
    lm: tuple, real_texts: list[str]
) -> None:
    """SmoothQuant is exact in fp32: every division of an activation is a multiplication of a weight."""
    import torch

    from humanlike.training.models.lm import smooth_for_int8

    model, tokenizer = lm
    smoothed = copy.deepcopy(model)  # the same weights, without a second load
    windows = [tokenizer.encode(t).ids[:128] for t in real_texts]
    peaks: list[torch.Tensor] = []
    hook = smoothed.model.layers[3].self_attn.q_proj.register_forward_pre_hook(
        lambda _, inputs: peaks.append(inputs[0].abs().flatten(0, -2).amax(0))
    )
    with torch.inference_mode():
        smoothed(input_ids=torch.tensor([windows[0]]), use_cache=False)
    before = peaks.pop()
    hook.remove()
    smooth_for_int8(smoothed, windows[1:], alpha=0.75)
    hook = smoothed.model.layers[3].self_attn.q_proj.register_forward_pre_hook(
        lambda _, inputs: peaks.append(inputs[0].abs().flatten(0, -2).amax(0))
    )
    with torch.inference_mode():
        ids = torch.tensor([windows[0]])
        expected = model(input_ids=ids, use_cache=False).logits
        got = smoothed(input_ids=ids, use_cache=False).logits
    hook.remove()
    after = peaks.pop()
    # the largest channel was many times the typical one; smoothed, far less so
    assert float(after.max() / after.median()) < 0.5 * float(before.max() / before.median())
    assert float((got - expected).abs().max()) < 1e-3 * float(expected.abs().max())
    assert smoothed.lm_head.weight.data_ptr() != smoothed.model.embed_tokens.weight.data_ptr()


def test_the_default_bundle_is_int8_and_keeps_the_fp32_criterion(
    calibrated: Path, uncalibrated: Path, small_corpus: list[CorpusRecord]
) -> None:
    _, manifest = read_bundle(calibrated)
    assert manifest.precision == "int8"
    assert manifest.training["export"]["smoothing"]["texts"] == 16
    import onnx

    ops = {n.op_type for n in onnx.load(str(calibrated / MODEL_FILE), load_external_data=False).graph.node}
    assert ops & {"MatMulInteger", "DynamicQuantizeLinear"}, ops
    texts = [r.text for r in small_corpus[:24]]
    fp32 = Detector(uncalibrated, device="cpu").llm_logits(texts)
    int8 = Detector(calibrated, device="cpu").llm_logits(texts)
    correlation = float(np.corrcoef(fp32, int8)[0, 1])
    print(f"int8 vs fp32 criterion on {len(texts)} texts: correlation {correlation:.3f}")
    assert correlation > 0.8


def test_a_corrupt_zero_shot_graph_is_refused(uncalibrated: Path, tmp_path: Path) -> None:
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(uncalibrated, broken)
    with (broken / MODEL_FILE).open("r+b") as f:
        f.seek(1000)
        f.write(b"\x00" * 16)
    with pytest.raises(BundleError, match=r"model\.onnx does not match its checksum"):
        Detector(broken, device="cpu")


@pytest.fixture(scope="module")
def hybrid(
    short_corpus_file: Path, featurizer: WindowFeaturizer, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    from humanlike.training.models.hybrid import HybridDetector

    out = tmp_path_factory.mktemp("hybrid") / "bundle"
    train_bundle(
        HybridDetector(HybridConfig(precision="fp32"), featurizer, progress=False),
        [str(short_corpus_file)],
        out,
        splits=SplitConfig(sample_size=160),
        sampling=SamplingConfig(threshold_source_folds=0),  # as `humanlike train --model hybrid`
        progress=False,
        chunk=32,
    )
    return out


def test_the_hybrid_bundle_scores_in_one_call_as_its_pytorch_model(
    hybrid: Path, featurizer: WindowFeaturizer, real_texts: list[str]
) -> None:
    from humanlike.training.models.lm import FEATURES

    _, manifest = read_bundle(hybrid)
    assert manifest.kind == "hybrid" and manifest.windows is not None
    assert manifest.windows.encoder_max_tokens is not None
    assert manifest.metrics["holdout"]["all"]["n_human"] > 0
    detector = Detector(hybrid, device="cpu")
    session = detector._session  # one graph, both models: the LM's and the encoder's inputs
    assert {i.name for i in session.get_inputs()} == {
        "input_ids",
        "attention_mask",
        "encoder_input_ids",
        "encoder_attention_mask",
    }
    # The same features in PyTorch, through the runtime's own window encoder, then the graph's head.
    table = featurizer.table(real_texts, progress=False)
    assert [o.name for o in session.get_outputs()] == ["llm_logit", "features"]
    onnx_features = np.concatenate(
        [
            session.run(["features"], detector._inputs.feed(real_texts, [w]))[0]
            for w in detector.windows(real_texts)
        ]
    )
    assert np.abs(onnx_features - table.features).max() < 1e-3
    training = json.loads((hybrid / "bundle.json").read_text())["training"]
    assert training["features"][: len(FEATURES)] == list(FEATURES)
    scores = detector.score_texts(real_texts)
    assert all(set(s.flagged) == {"0.01", "0.05"} for s in scores)


def test_the_int8_hybrid_quantizes_the_lm_and_keeps_the_encoder_exact(
    short_corpus_file: Path, featurizer: WindowFeaturizer, small_corpus: list[CorpusRecord], tmp_path: Path
) -> None:
    """The hybrid's default precision: the LM's MatMuls int8 after smoothing, the encoder and head fp32."""
    import onnx

    from humanlike.training.models.hybrid import HybridDetector
    from humanlike.training.models.lm import FEATURES

    out = tmp_path / "int8"
    train_bundle(
        HybridDetector(HybridConfig(smoothing_texts=16), featurizer, progress=False),
        [str(short_corpus_file)],
        out,
        splits=SplitConfig(sample_size=160),
        sampling=SamplingConfig(threshold_source_folds=0),
        progress=False,
        chunk=32,
    )
    _, manifest = read_bundle(out)
    assert manifest.precision == "int8" and manifest.training["smoothing"]["texts"] == 16
    graph = onnx.load(str(out / MODEL_FILE))
    assert any(n.op_type == "MatMulInteger" for n in graph.graph.node)
    detector = Detector(out, device="cpu")
    session = detector._session
    texts = [r.text for r in small_corpus[-24:]]
    table = featurizer.table(texts, progress=False)  # fp32 PyTorch, the smoothed LM: same features
    int8 = np.concatenate(
        [session.run(["features"], detector._inputs.feed(texts, [w]))[0] for w in detector.windows(texts)]
    )
    lm, embedding = slice(0, len(FEATURES)), slice(len(FEATURES), None)
    assert np.abs(int8[:, embedding] - table.features[:, embedding]).max() < 1e-3  # encoder untouched
    assert not np.allclose(int8[:, lm], table.features[:, lm], atol=1e-3)  # the LM's are int8's own
    for column in range(len(FEATURES)):
        assert np.corrcoef(int8[:, column], table.features[:, column])[0, 1] > 0.8, FEATURES[column]


def test_crossval_puts_the_lm_models_side_by_side(short_corpus_file: Path, tmp_path: Path) -> None:
    report_path = tmp_path / "cv.json"
    result = humanlike(
        "crossval",
        "--corpus",
        str(short_corpus_file),
        "--sample",
        "120",
        "--by",
        "generator",
        "--only",
        "gpt-3(per paper)",
        "--model",
        "ngram",
        "zero-shot",
        "encoder",
        "hybrid",
        "--json",
        str(report_path),
        "--no-progress",
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(report_path.read_text())
    (fold,) = report["folds"]
    assert report["lm_features_s"] > 0
    for name in ("ngram", "zero-shot", "encoder", "hybrid"):
        assert fold[name]["n_human"] == fold["n_human"] and fold[name]["n_llm"] == fold["n_llm"]
        assert 0.0 <= fold[name]["auroc"] <= 1.0
    assert fold["encoder"]["auroc"] != fold["hybrid"]["auroc"]  # the LM statistics changed the model


def test_the_converted_lm_in_the_cache_is_the_gguf_model_exactly(
    lm: tuple, real_texts: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """load_lm reads the fp32 conversion kept in the cache: the same weights and tokenizer as the GGUF
    dequantized afresh; where the cache cannot be written, it converts at every load."""
    import torch
    from transformers import AutoTokenizer

    from humanlike.training.models.lm import CACHE_ENV, converted_lm, load_gguf

    model, tokenizer = lm
    hf_tokenizer, fresh = load_gguf(default_lm_gguf())
    assert converted_lm(default_lm_gguf()) is not None  # the fixture's load made or found it
    assert (
        hf_tokenizer.backend_tokenizer.to_str()
        == AutoTokenizer.from_pretrained(str(converted_lm(default_lm_gguf()))).backend_tokenizer.to_str()
    )
    ids = torch.tensor([tokenizer.encode(real_texts[0]).ids[:64]])
    with torch.inference_mode():
        assert torch.equal(
            model(input_ids=ids, use_cache=False).logits, fresh(input_ids=ids, use_cache=False).logits
        )
    blocked = tmp_path / "a-file"
    blocked.write_text("not a directory")
    monkeypatch.setenv(CACHE_ENV, str(blocked / "cache"))
    assert converted_lm(default_lm_gguf()) is None
    assert blocked.read_text() == "not a directory"
