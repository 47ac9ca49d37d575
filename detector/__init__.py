"""humanlike runtime: load a verified model bundle and score texts with ONNX Runtime.

It never imports torch, scikit-learn or the training code; a bundle is all it needs.
"""

from humanlike.detector.bundle import BundleError, BundleManifest, read_bundle
from humanlike.detector.runtime import Detector, InvalidTextError, ModelInfo, TextScore, check_text

__all__ = [
    "BundleError",
    "BundleManifest",
    "Detector",
    "InvalidTextError",
    "ModelInfo",
    "TextScore",
    "check_text",
    "read_bundle",
]
