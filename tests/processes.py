"""The process tree under a command, read from /proc: what a killed command must not leave behind."""

from __future__ import annotations

import time
from pathlib import Path


def _stat_fields(stat: Path) -> list[str] | None:
    """/proc/PID/stat after the command name (state, parent pid, ...); None once the process has gone."""
    try:
        return stat.read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def process_parents() -> dict[int, int]:
    """Every live process's parent pid."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        if (fields := _stat_fields(stat)) is not None:
            parents[int(stat.parent.name)] = int(fields[1])
    return parents


def descendants(pid: int) -> set[int]:
    """Every process under ``pid``: children, their children, and so on."""
    parents = process_parents()
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {p for p, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def still_alive(pids: set[int], within_s: float) -> set[int]:
    """Those of ``pids`` still running (zombies count as gone) after waiting up to ``within_s``."""
    deadline = time.monotonic() + within_s
    while True:
        alive = {pid for pid in pids if (f := _stat_fields(Path(f"/proc/{pid}/stat"))) and f[0] != "Z"}
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.2)
