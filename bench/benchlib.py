"""What every bench script shares: the machine's description and how a result is written.

The scripts run as ``python bench/NAME.py``, so this module is imported as ``benchlib`` (the script's
directory is first on ``sys.path``).
"""

from __future__ import annotations

import json
import os
import platform
import re
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
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


def int8_instructions() -> str:
    """The widest x86 int8 dot-product instructions the CPU reports. ONNX Runtime's int8 GEMMs run on
    VNNI where there is one; AVX2 alone adds products in saturating int16 pairs, and gains less."""
    try:
        flags = set()
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                break
    except OSError:
        return "unknown"
    for flag in ("amx_int8", "avx512_vnni", "avx_vnni", "avx2"):
        if flag in flags:
            return flag
    return "none of amx_int8, avx512_vnni, avx_vnni, avx2"


def machine(**extra: Any) -> dict[str, Any]:
    """The CPU, its int8 instructions, the cores this process may use, the Python version, and what
    the caller adds."""
    return {
        "cpu": cpu_model(),
        "int8_instructions": int8_instructions(),
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


def logits_round_robin(
    detectors: dict[str, Any], texts: list[str], repeats: int
) -> tuple[dict[str, Any], dict[str, float]]:
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


@dataclass(frozen=True)
class KernelTimes:
    """One pass of a detector's windows through a profiled ONNX Runtime session (see
    :func:`profile_kernels`)."""

    wall_s: float  # the pass, tokenizing and padding included
    graph_s: float  # inside ``session.run``
    nodes: list[tuple[str, str, float]]  # (node name, operator, seconds), as the profiler names them


def profile_kernels(detector: Any, texts: list[str], threads: int | None) -> KernelTimes:
    """Scores ``texts`` once as the runtime batches them, with ONNX Runtime's profiler on (a separate
    session with the detector's options), and returns each node's kernel time."""
    import onnxruntime as ort

    from humanlike.detector.bundle import MODEL_FILE
    from humanlike.detector.runtime import plan_batches

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or detector.info.intra_op_threads
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.enable_profiling = True
    with tempfile.TemporaryDirectory() as tmp:
        options.profile_file_prefix = str(Path(tmp) / "profile")
        session = ort.InferenceSession(
            str(detector.path / MODEL_FILE), sess_options=options, providers=["CPUExecutionProvider"]
        )
        started = time.perf_counter()
        windows = detector.windows(texts)
        for batch in plan_batches([w.size for w in windows], detector.max_batch_tokens, 64):
            session.run(["llm_logit"], detector._inputs.feed(texts, [windows[i] for i in batch]))
        wall = time.perf_counter() - started
        events = json.loads(Path(session.end_profiling()).read_text())
    run_us = sum(e["dur"] for e in events if e.get("cat") == "Session" and e.get("name") == "model_run")
    nodes = [
        (e["name"].removesuffix("_kernel_time"), e["args"].get("op_name", ""), e["dur"] / 1e6)
        for e in events
        if e.get("cat") == "Node" and e.get("name", "").endswith("_kernel_time")
    ]
    return KernelTimes(wall_s=wall, graph_s=run_us / 1e6, nodes=nodes)


def process_role(cmdline: str, parent_role: str | None) -> str:
    """What a process of the command's tree is, for the per-process peaks."""
    if "-m humanlike" in cmdline or "bin/humanlike" in cmdline:
        return "command"
    if "resource_tracker" in cmdline:
        return "resource_tracker"
    if parent_role == "forkserver":
        return "worker"
    if "forkserver" in cmdline:
        return "forkserver"
    return "wrapper" if parent_role is None else "other"


def tree_pss_kib(root: int) -> tuple[int, dict[str, int], dict[str, int]]:
    """Memory of ``root`` and all its descendants (the command, its forkserver, its workers): the sum
    of their proportional set sizes, so pages they share (the forkserver's imports, inherited by the
    workers) count once, where a sum of RSS would count them in every process; the largest PSS of
    a process of each role (command, forkserver, worker, ...); and the summed PSS of each role."""
    children: dict[int, list[int]] = defaultdict(list)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children[parent].append(int(stat.parent.name))
    total = 0
    by_role: dict[str, int] = {}
    role_sums: dict[str, int] = {}
    todo: list[tuple[int, str | None]] = [(root, None)]
    while todo:
        pid, parent_role = todo.pop()
        try:
            found = re.search(r"^Pss:\s+(\d+)", Path(f"/proc/{pid}/smaps_rollup").read_text(), re.M)
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        role = process_role(cmdline, parent_role)
        todo.extend((child, role) for child in children.get(pid, []))
        pss = int(found.group(1)) if found else 0
        total += pss
        by_role[role] = max(by_role.get(role, 0), pss)
        role_sums[role] = role_sums.get(role, 0) + pss
    return total, by_role, role_sums


class TreePssSampler:
    """Samples :func:`tree_pss_kib` of ``root`` every ``every_s`` seconds on a thread, while the
    ``with`` block runs. After it: ``peak`` (the tree's largest summed PSS, KiB), ``at_peak`` (each
    role's summed PSS at that moment: what the peak is made of) and ``peak_by_role`` (the largest PSS
    of one process of each role)."""

    def __init__(self, root: int, every_s: float = 0.5) -> None:
        import threading

        self.root, self.every_s = root, every_s
        self.peak = 0
        self.at_peak: dict[str, int] = {}
        self.peak_by_role: dict[str, int] = {}
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._done.wait(self.every_s):
            total, by_role, role_sums = tree_pss_kib(self.root)
            if total > self.peak:
                self.peak, self.at_peak = total, role_sums
            for role, kib in by_role.items():
                self.peak_by_role[role] = max(self.peak_by_role.get(role, 0), kib)

    def __enter__(self) -> TreePssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()
