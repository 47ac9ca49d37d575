"""Bundles: verified on load; a corrupt, truncated, foreign or too-new bundle is refused, and says why."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from humanlike.cli import main
from humanlike.detector import BundleError, Detector, InvalidTextError
from humanlike.detector.atomic import OUTPUT_MARKER
from humanlike.detector.bundle import CHECKSUM_FILE, FORMAT_VERSION, MANIFEST_FILE, MODEL_FILE, read_bundle
from humanlike.detector.card import MODEL_CARD_FILE


@pytest.fixture()
def copy(bundle: Path, tmp_path: Path) -> Path:
    out = tmp_path / "bundle"
    shutil.copytree(bundle, out)
    return out


def resign(bundle: Path, name: str) -> None:
    """Rewrite one checksum, as someone who edits a bundle by hand would."""
    sums = bundle / CHECKSUM_FILE
    digest = hashlib.sha256((bundle / name).read_bytes()).hexdigest()
    lines = [
        f"{digest}  {name}" if line.endswith(f"  {name}") else line for line in sums.read_text().splitlines()
    ]
    sums.write_text("\n".join(lines) + "\n")


def test_bundle_is_a_directory_of_data(bundle: Path) -> None:
    names = sorted(p.name for p in bundle.iterdir())
    assert names == sorted(
        [CHECKSUM_FILE, MANIFEST_FILE, MODEL_FILE, "features.json", MODEL_CARD_FILE, OUTPUT_MARKER]
    )
    for p in bundle.iterdir():
        assert not p.read_bytes().startswith(b"\x80"), f"{p.name} looks like a pickle"
    manifest = json.loads((bundle / MANIFEST_FILE).read_text())
    assert manifest["format_version"] == FORMAT_VERSION
    assert manifest["labels"] == ["human", "llm"]
    assert [t["target_fpr"] for t in manifest["thresholds"]] == [0.01, 0.05]
    assert len(manifest["corpus"]["sha256"]) == 64
    assert manifest["metrics"]["holdout"]["all"]["auroc"] > 0.5


def test_bundle_is_readable_by_other_users(bundle: Path) -> None:
    assert bundle.stat().st_mode & 0o755 == 0o755
    for p in bundle.iterdir():
        assert p.stat().st_mode & 0o444 == 0o444, p.name


def test_valid_bundle_loads(bundle: Path) -> None:
    _, manifest = read_bundle(bundle)
    assert manifest.kind == "ngram-linear"


def test_flipped_byte_in_model_is_refused(copy: Path) -> None:
    data = bytearray((copy / MODEL_FILE).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (copy / MODEL_FILE).write_bytes(bytes(data))
    with pytest.raises(BundleError, match=r"corrupt: model\.onnx does not match its checksum"):
        Detector(copy)


def test_truncated_model_is_refused(copy: Path) -> None:
    data = (copy / MODEL_FILE).read_bytes()
    (copy / MODEL_FILE).write_bytes(data[: len(data) // 3])
    with pytest.raises(BundleError, match="truncated or modified"):
        Detector(copy)


def test_truncated_model_with_forged_checksum_fails_in_onnxruntime(copy: Path) -> None:
    data = (copy / MODEL_FILE).read_bytes()
    (copy / MODEL_FILE).write_bytes(data[: len(data) // 3])
    resign(copy, MODEL_FILE)
    with pytest.raises(BundleError, match="could not be loaded by ONNX Runtime"):
        Detector(copy)


def test_missing_file_is_refused(copy: Path) -> None:
    (copy / "features.json").unlink()
    with pytest.raises(BundleError, match=r"features\.json is missing"):
        Detector(copy)


def test_foreign_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / "model.onnx").write_bytes(b"not a model")
    with pytest.raises(BundleError, match="not a humanlike bundle"):
        Detector(tmp_path)
    with pytest.raises(BundleError, match="does not exist"):
        Detector(tmp_path / "absent")


def test_newer_format_version_is_refused(copy: Path) -> None:
    manifest = json.loads((copy / MANIFEST_FILE).read_text())
    manifest["format_version"] = FORMAT_VERSION + 1
    (copy / MANIFEST_FILE).write_text(json.dumps(manifest))
    resign(copy, MANIFEST_FILE)
    with pytest.raises(BundleError, match=f"format version {FORMAT_VERSION + 1}"):
        Detector(copy)


def test_invalid_manifest_is_refused(copy: Path) -> None:
    manifest = json.loads((copy / MANIFEST_FILE).read_text())
    del manifest["calibration"]
    (copy / MANIFEST_FILE).write_text(json.dumps(manifest))
    resign(copy, MANIFEST_FILE)
    with pytest.raises(BundleError, match=r"invalid bundle\.json"):
        Detector(copy)


def test_score_texts_rejects_bad_text_with_its_position(bundle: Path) -> None:
    detector = Detector(bundle, device="cpu")
    with pytest.raises(InvalidTextError, match="text 1: empty text"):
        detector.score_texts(["A real sentence.", "   "])
    with pytest.raises(InvalidTextError, match="more than this model's limit"):
        detector.score_texts(["x" * (detector.manifest.max_length + 1)])
    with pytest.raises(TypeError):
        detector.score_texts("one string")  # type: ignore[arg-type]


def test_scores_are_probabilities_in_input_order(bundle: Path) -> None:
    detector = Detector(bundle, device="cpu")
    texts = ["short one", "A much longer text " * 40, "medium length text here, about this long."]
    scores = detector.score_texts(texts)
    alone = [detector.score_texts([t])[0] for t in texts]
    for s, a in zip(scores, alone, strict=True):
        assert 0.0 <= s.p_llm <= 1.0
        assert s.human_likeness == pytest.approx(1.0 - s.p_llm)
        assert s.p_llm == pytest.approx(a.p_llm, abs=1e-6)  # batching and length-sorting change nothing
        assert set(s.flagged) == {"0.01", "0.05"}
    assert detector.info.provider == "CPUExecutionProvider"


def test_runtime_threads_wait_without_spinning_unless_asked(bundle: Path) -> None:
    """A spinning ONNX Runtime thread holds a core the featurizer and a curriculum's metrics need."""
    key = "session.intra_op.allow_spinning"
    default = Detector(bundle, device="cpu")._session.get_session_options()
    spinning = Detector(bundle, device="cpu", spin_wait=True)._session.get_session_options()
    assert default.get_session_config_entry(key) == "0"
    assert spinning.get_session_config_entry(key) == "1"


def test_the_model_card_is_checksummed_and_shown_by_info(
    copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = json.loads((copy / MANIFEST_FILE).read_text())
    assert f"  {MODEL_CARD_FILE}" in (copy / CHECKSUM_FILE).read_text()
    assert main(["info", str(copy), "--card"]) == 0
    card = capsys.readouterr().out
    assert card.startswith("---\nlicense: apache-2.0\n")
    assert f"corpus_sha256: {manifest['corpus']['sha256']}" in card
    for heading in (
        "## Intended use",
        "## Out of scope",
        "## Training data",
        "## Thresholds",
        "## Known failures",
    ):
        assert heading in card
    assert f"{manifest['thresholds'][0]['p_llm']:.4f}" in card
    assert main(["info", str(copy)]) == 0
    assert json.loads(capsys.readouterr().out)["model_card"] == str(copy / MODEL_CARD_FILE)

    (copy / MODEL_CARD_FILE).write_text(card.replace("apache-2.0", "proprietary"))
    with pytest.raises(BundleError, match=r"README\.md does not match its checksum"):
        Detector(copy)
