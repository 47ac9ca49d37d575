"""Layering: the runtime path (detector + the scoring commands) never imports the training stack."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

TRAINING_STACK = ("torch", "sklearn", "scipy", "transformers", "humanlike.training")
FORBIDDEN = (*TRAINING_STACK, "humanlike.serving")


def blocked_cli(forbidden: tuple[str, ...]) -> str:
    """Python source that runs the ``humanlike`` CLI with ``forbidden`` top-level packages unimportable."""
    return f"""
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if any(name == f or name.startswith(f + ".") for f in {forbidden!r}):
            raise ImportError(f"runtime path imported {{name}}")
sys.meta_path.insert(0, Block())
from humanlike.cli import main
sys.exit(main(sys.argv[1:]))
"""


BLOCKER = blocked_cli(FORBIDDEN)


def run_blocked(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-c", BLOCKER, *args], capture_output=True, timeout=300)


def test_score_rank_info_run_without_the_training_stack(bundle: Path, tmp_path: Path) -> None:
    score = run_blocked("score", str(bundle), "A text to score without scikit-learn.")
    assert score.returncode == 0, score.stderr
    assert 0.0 <= json.loads(score.stdout)["p_llm"] <= 1.0

    source = tmp_path / "in.jsonl"
    source.write_text('{"text": "one line"}\n{"text": "another line"}\n')
    rank = run_blocked(
        "rank", str(bundle), str(source), "--out", str(tmp_path / "out.jsonl"), "--no-progress"
    )
    assert rank.returncode == 0, rank.stderr
    assert run_blocked("info", str(bundle)).returncode == 0


def test_the_blocker_does_block(bundle: Path) -> None:
    """Guards the test above: a command that needs training fails under the same blocker."""
    result = run_blocked("corpus", "stats", str(bundle))
    assert result.returncode != 0
    assert b"runtime path imported humanlike.training" in result.stderr


def test_evaluation_finds_the_packaged_encoder_without_torch() -> None:
    """``humanlike eval`` reads the encoder's vocabulary for its word-swap perturbation; finding and reading
    it must not pull torch in (it did when the directory lookup lived beside the fine-tuning code)."""
    code = (
        "import sys\n"
        "import humanlike.training.evaluation.evaluate\n"
        "from humanlike.training.evaluation.robustness import packaged_neighbours\n"
        "assert packaged_neighbours()('house'), 'no neighbours found'\n"
        "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == b"[]"
