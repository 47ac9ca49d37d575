"""Pool workers end with their owner, whatever the start method (training's refits use spawn)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.processes import descendants, still_alive

OWNER = """
import multiprocessing, os, sys, time
from concurrent.futures import ProcessPoolExecutor
from humanlike.detector.processes import exit_with_parent

if __name__ == "__main__":
    context = multiprocessing.get_context(sys.argv[1])
    with ProcessPoolExecutor(2, mp_context=context, initializer=exit_with_parent) as pool:
        futures = [pool.submit(time.sleep, 120) for _ in range(2)]  # both busy, as a refit is
        time.sleep(1.0)
        print("busy", flush=True)
        futures[0].result()
"""


@pytest.mark.parametrize("method", ["spawn", "forkserver"])
def test_busy_workers_end_when_their_owner_is_killed(method: str, tmp_path: Path) -> None:
    script = tmp_path / "owner.py"
    script.write_text(OWNER)
    owner = subprocess.Popen([sys.executable, str(script), method], stdout=subprocess.PIPE, text=True)
    assert owner.stdout is not None and owner.stdout.readline().strip() == "busy"
    tree = descendants(owner.pid)
    assert len(tree) >= 2  # the two workers (and the start method's helper processes)
    os.kill(owner.pid, signal.SIGKILL)
    owner.wait()
    assert not still_alive(tree, within_s=20)
