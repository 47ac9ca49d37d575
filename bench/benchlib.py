"""What every bench script shares: the machine's description and how a result is written.

The scripts run as ``python bench/NAME.py``, so this module is imported as ``benchlib`` (the script's
directory is first on ``sys.path``).
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine(**extra: Any) -> dict[str, Any]:
    """The CPU, the cores this process may use, the Python version, and what the caller adds."""
    return {
        "cpu": cpu_model(),
        "cores": len(os.sched_getaffinity(0)),
        "python": platform.python_version(),
        **extra,
    }


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def command() -> str:
    return " ".join([Path(sys.executable).name, *sys.argv])


def write_result(out_dir: Path, name: str, result: dict[str, Any]) -> Path:
    """Writes ``result`` to ``out_dir/<name>-<date>.json``, prints it, and says where it went."""
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / f"{name}-{result['date'][:10]}.json"
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))
    print(f"written to {out}", file=sys.stderr)
    return out


def logits_round_robin(detectors: dict[str, Any], texts: list[str], repeats: int) -> tuple[dict, dict]:
    """Each detector's ``llm_logits`` of ``texts``, taken in turn ``repeats`` times (so that a noisy
    machine slows them alike), and each one's best time in seconds."""
    logits: dict[str, Any] = {}
    best = {name: float("inf") for name in detectors}
    for _ in range(repeats):
        for name, detector in detectors.items():
            started = time.perf_counter()
            logits[name] = detector.llm_logits(texts)
            best[name] = min(best[name], time.perf_counter() - started)
    return logits, best
