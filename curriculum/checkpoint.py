"""The scoring phase's checkpoint: a work directory of scored chunk files and ``state.json``.

``state.json`` records how many chunks are done and where the next one starts (byte offset and input
line). A chunk's files are renamed into place when complete and count only once ``state.json`` records
them, so a job killed at any point (``kill -9`` included) resumes after the last recorded chunk, and a
chunk written but not yet recorded is written again with the same bytes. The fingerprint of the job
(input, bundle, scoring options) guards against resuming another job's checkpoint.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from humanlike.detector.atomic import check_output_directory, mark_output_directory, write_bytes_atomic
from humanlike.detector.bundle import CHECKSUM_FILE

if TYPE_CHECKING:
    from humanlike.curriculum.options import CurriculumOptions

STATE_VERSION = 1


class JobMismatchError(RuntimeError):
    """The work directory holds a checkpoint of a different job (other input, bundle or options)."""


def job_fingerprint(input_path: Path, bundle_id: str, options: CurriculumOptions) -> str:
    """What the checkpoint depends on: the input, the bundle, how rows are scored and chunked.

    The ordering options (strategy, filters, stages) are not part of it: the order is recomputed from
    the scored chunks on every run, so one kept work directory serves any number of strategies.
    """
    stat = input_path.stat()
    payload = {
        "input": str(input_path.resolve()),
        "input_bytes": stat.st_size,
        "input_mtime_ns": stat.st_mtime_ns,
        "bundle": bundle_id,
        "scoring": dataclasses.asdict(options.scoring),
        "chunk_lines": options.chunk_lines,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def bundle_id(root: Path) -> str:
    """The identity of the bundle in ``root``: the digest of its checksum list (which covers every
    file in it)."""
    return hashlib.sha256((root / CHECKSUM_FILE).read_bytes()).hexdigest()


class WorkDir:
    """The checkpoint: chunk files and ``state.json``."""

    def __init__(self, root: Path, fingerprint: str) -> None:
        self.root = root
        self.fingerprint = fingerprint
        self.state_path = root / "state.json"

    def load(self) -> dict[str, Any]:
        fresh = {
            "version": STATE_VERSION,
            "fingerprint": self.fingerprint,
            "chunks": 0,
            "next": 0,
            "next_line": 1,
            "complete": False,
        }
        if not self.state_path.exists():
            # A fresh checkpoint goes only where nothing else is: the directory is deleted when the
            # job completes.
            check_output_directory(self.root, "curriculum-work", "--work-dir")
            self.root.mkdir(parents=True, exist_ok=True)
            mark_output_directory(self.root, "curriculum-work")
            return fresh
        state: dict[str, Any] = json.loads(self.state_path.read_text())
        if state.get("fingerprint") != self.fingerprint:
            raise JobMismatchError(
                f"{self.root} holds the checkpoint of another job (different input, bundle or scoring "
                "options); "
                "delete it to start over, or run the original command to resume it"
            )
        return state

    def save(self, state: dict[str, Any]) -> None:
        write_bytes_atomic(self.state_path, json.dumps(state).encode())

    def rows(self, i: int) -> Path:
        return self.root / f"chunk-{i:06d}.rows"

    def rejects(self, i: int) -> Path:
        return self.root / f"chunk-{i:06d}.rejects"
