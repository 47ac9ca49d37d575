"""Where the batcher's graph calls run: on the server's inference thread, or in scoring processes.

The micro-batcher (:mod:`humanlike.serving.batcher`) forms batches; a backend runs them. Two kinds:

- :class:`ThreadBackend`: one inference thread in the server's own process, one batch at a time, each
  using all of ONNX Runtime's threads. Right for transformer and LM bundles, whose graph does the work
  (ONNX Runtime releases the GIL) and spreads over the cores by itself.
- :class:`ProcessBackend`: N scoring processes, each with its own :class:`Detector` on one graph
  thread, N batches at a time. Right for n-gram bundles on CPU, whose featurizer is Python: on a thread
  it holds the GIL that the event loop needs to parse requests and write answers, so the server
  process tops out near one core whatever the machine has. In processes the featurizers run beside the
  front ends on every core (bench/RESULTS.md, "Serving").

:func:`default_scoring_processes` picks between them for ``--scoring-processes auto``.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import signal
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Protocol

import numpy as np

from humanlike.detector.devices import Device
from humanlike.detector.inputs import Window
from humanlike.detector.processes import exit_with_parent
from humanlike.detector.runtime import Detector, scoring_processes
from humanlike.serving.errors import ScoringProcessDied

log = logging.getLogger("humanlike.serving")


class InferenceBackend(Protocol):
    """Runs one batch's graph call; :attr:`slots` batches may run at once."""

    slots: int

    async def run_windows(self, texts: Sequence[str], windows: Sequence[Window]) -> np.ndarray:
        """The raw ``llm_logit`` of each window, as :meth:`Detector.run_windows`."""
        ...

    def close(self) -> None:
        """Stops the backend once its running batches are done."""
        ...


def default_scoring_processes(detector: Detector) -> int:
    """Scoring processes for ``auto``, by the rule the curriculum follows too
    (:func:`~humanlike.detector.runtime.scoring_processes`); 0 where that rule says one process: the
    server's own inference thread (:class:`ThreadBackend`).
    """
    processes = scoring_processes(detector.manifest, detector.info.provider)
    return processes if processes > 1 else 0


class ThreadBackend:
    """One inference thread in this process: graph calls run one at a time."""

    slots = 1

    def __init__(self, detector: Detector) -> None:
        self.detector = detector
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="humanlike-infer")

    async def run_windows(self, texts: Sequence[str], windows: Sequence[Window]) -> np.ndarray:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self.detector.run_windows, texts, windows)

    def close(self) -> None:
        self._executor.shutdown(wait=True)


# -- the scoring processes' side ------------------------------------------------------------------

_worker_detector: Detector | None = None


def _load_worker(bundle: str, device: Device, threads: int, max_batch_tokens: int) -> None:
    """Runs once in each scoring process: loads (and so verifies) the bundle."""
    global _worker_detector
    # Ctrl-C reaches the whole process group; the server drains and then stops its scoring processes,
    # which must not die under the batches it is finishing.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    exit_with_parent()  # the server killed (SIGKILL included): this process goes too
    _worker_detector = Detector(bundle, device=device, threads=threads, max_batch_tokens=max_batch_tokens)


def _worker_run_windows(texts: Sequence[str], windows: Sequence[Window]) -> np.ndarray:
    assert _worker_detector is not None, "the scoring process has no detector"
    return _worker_detector.run_windows(texts, windows)


def _worker_warm(texts: Sequence[str]) -> int:
    assert _worker_detector is not None, "the scoring process has no detector"
    _worker_detector.score_texts(texts)
    return os.getpid()


class ProcessBackend:
    """``processes`` scoring processes, each with its own Detector of ``bundle``: that many batches run
    at once.

    The processes start from a ``forkserver`` (never fork a process that holds gRPC's and ONNX
    Runtime's threads) and load the bundle themselves, verifying its checksums. A process that dies
    (killed, out of memory) fails the batch it held with an error and the pool starts afresh; one that
    dies while idle costs nothing (the next batch goes to the new pool). Either way the server goes on.

    Args:
        bundle: the bundle directory the server has loaded (same bytes, verified again in each process).
        processes: how many.
        device: as :class:`Detector`'s.
        threads: ONNX Runtime threads in each process.
        max_batch_tokens: as :class:`Detector`'s.
        on_restart: called each time the pool starts again after a process died.
    """

    def __init__(
        self,
        bundle: Path,
        processes: int,
        *,
        device: Device,
        threads: int,
        max_batch_tokens: int,
        on_restart: Callable[[], None] | None = None,
    ) -> None:
        if processes < 1:
            raise ValueError(f"processes must be at least 1, got {processes}")
        self.slots = processes
        self._initargs = (str(bundle), device, threads, max_batch_tokens)
        self._executor = self._new_pool()
        self._on_restart = on_restart

    def _new_pool(self) -> ProcessPoolExecutor:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["humanlike.serving.backend"])
        return ProcessPoolExecutor(
            max_workers=self.slots, mp_context=context, initializer=_load_worker, initargs=self._initargs
        )

    def warm(self, texts: Sequence[str]) -> list[int]:
        """Starts every process and scores ``texts`` in each; their pids. Blocks (call off the loop).

        Raises:
            BrokenProcessPool: a process could not load the bundle.
        """
        # Submitted together, the tasks start one process each: an idle process would take a second.
        futures = [self._executor.submit(_worker_warm, list(texts)) for _ in range(self.slots)]
        return [f.result() for f in futures]

    async def run_windows(self, texts: Sequence[str], windows: Sequence[Window]) -> np.ndarray:
        loop = asyncio.get_running_loop()
        executor = self._executor
        try:
            future = loop.run_in_executor(executor, _worker_run_windows, texts, windows)
        except BrokenProcessPool:  # a process died while idle: nothing of this batch is lost
            self._replace(executor)
            executor = self._executor
            future = loop.run_in_executor(executor, _worker_run_windows, texts, windows)
        try:
            return await future
        except BrokenProcessPool:
            self._replace(executor)
            raise ScoringProcessDied(
                "the scoring process running this request's batch died and has been replaced; retry",
                retry_after=1.0,
            ) from None

    def _replace(self, broken: ProcessPoolExecutor) -> None:
        if self._executor is not broken:  # another batch has replaced it already
            return
        if self._on_restart is not None:
            self._on_restart()
        log.error("a scoring process died; starting the scoring processes again")
        broken.shutdown(wait=False, cancel_futures=True)
        self._executor = self._new_pool()

    def close(self) -> None:
        self._executor.shutdown(wait=True)
