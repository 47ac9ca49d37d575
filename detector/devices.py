"""The one device type every layer takes: where a model runs.

- ``auto``: CUDA when this machine has it (and the installed runtime supports it), else CPU;
- ``cpu``: CPU only;
- ``cuda``: CUDA, or an error saying why it is not there; never a silent fall back to CPU.

ONNX Runtime reads it in :func:`humanlike.detector.runtime.choose_providers`, PyTorch (training only) in
:func:`humanlike.training.torch_device.torch_device`. This module imports nothing heavy, so that the
command line and the server's configuration can name the choices without loading a runtime.
"""

from __future__ import annotations

from typing import Literal, get_args

Device = Literal["auto", "cpu", "cuda"]
DEVICES: tuple[Device, ...] = get_args(Device)
