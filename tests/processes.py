"""The process tree under a command, read from /proc: what a killed command must not leave behind."""

from __future__ import annotations

import time
from pathlib import Path


def process_parents() -> dict[int, int]:
    """Every live process's parent pid."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process has gone
            continue
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
        alive = set()
        for pid in pids:
            try:
                state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            if state != "Z":
                alive.add(pid)
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.2)
