"""humanlike: tell human-written text from LLM-generated text, and rank text by how human it reads.

    from humanlike import Detector        # the runtime: a bundle, scored with ONNX Runtime
    from humanlike import Client          # the service over gRPC (needs the ``serve`` extra)

Both are imported on first use, so that ``import humanlike`` stays cheap and the base install (no gRPC)
can use the runtime.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from humanlike.detector import Detector, TextScore
    from humanlike.serving.client import Client, ClientError, StreamResult

__all__ = ["Client", "ClientError", "Detector", "StreamResult", "TextScore"]

_WHERE = {
    "Detector": "humanlike.detector",
    "TextScore": "humanlike.detector",
    "Client": "humanlike.serving.client",
    "ClientError": "humanlike.serving.client",
    "StreamResult": "humanlike.serving.client",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        import importlib

        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'humanlike' has no attribute {name!r}")
