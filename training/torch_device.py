"""Where PyTorch runs: :data:`humanlike.detector.devices.Device` as a ``torch.device``, by its rule."""

from __future__ import annotations

import torch

from humanlike.detector.devices import Device


def torch_device(device: Device = "auto") -> torch.device:
    """``auto``: CUDA when torch sees one, else CPU; ``cuda`` when torch sees none is an error."""
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' was requested but this torch build sees no CUDA device")
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)
