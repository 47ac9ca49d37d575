"""Dynamic micro-batching: the windows of concurrent requests share graph calls.

One :class:`MicroBatcher` owns one :class:`detector.Detector`. Requests put their windows in a FIFO
queue; a single worker task takes windows from the head of the queue into a batch until the batch would
pass the token cap (windows x longest window, as :func:`detector.runtime.plan_batches` counts it) or the
window cap, runs it on the inference thread, and hands each request its logits when all of its windows
are done. A partial batch waits at most ``max_wait_s`` for company (Triton's ``max_queue_delay``), so a
lone request pays that much latency and a busy server fills batches without waiting.

Fairness: the queue is first come, first served, and a request's windows are taken in order, so a big
request occupies a few batches and then yields; a client that reads its answer slowly holds no batch.
A cancelled request (client gone, deadline passed) is skipped when the worker reaches it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

import numpy as np

from detector.inputs import Window
from detector.runtime import Detector
from serving.metrics import ServerMetrics


@dataclass(eq=False)
class _Job:
    """One request's windows, sorted by size so that each batch gets alike neighbours."""

    texts: Sequence[str]
    windows: list[Window]
    order: list[int]
    """``windows[order[k]]`` is the k-th window to run."""
    logits: np.ndarray
    future: asyncio.Future[np.ndarray]
    cursor: int = 0
    done: int = 0
    tokens: int = field(default=0)

    @property
    def remaining(self) -> int:
        return len(self.windows) - self.cursor


class MicroBatcher:
    """Runs windows of many requests through one detector in token-capped batches.

    Args:
        detector: the loaded model.
        max_batch_tokens: cap on a batch's padded size (windows x longest window).
        max_batch_size: most windows in one graph call.
        max_wait_s: how long a partial batch waits for more windows.
        metrics: where batch sizes and timings go.
    """

    def __init__(
        self,
        detector: Detector,
        *,
        max_batch_tokens: int,
        max_batch_size: int,
        max_wait_s: float,
        metrics: ServerMetrics,
    ) -> None:
        self.detector = detector
        self.max_batch_tokens = max_batch_tokens
        self.max_batch_size = max_batch_size
        self.max_wait_s = max_wait_s
        self._metrics = metrics
        self._queue: deque[_Job] = deque()
        self._queued_windows = 0
        self._queued_tokens = 0
        self._wakeup = asyncio.Event()
        self._closing = False
        # One inference thread: graph calls run one at a time, each using all of ONNX Runtime's threads.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="humanlike-infer")
        self._task: asyncio.Task[None] | None = None
        self.throughput = 0.0
        """Windows per second of recent graph calls (an exponential moving average)."""

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="humanlike-batcher")

    async def run(self, texts: Sequence[str], windows: list[Window]) -> np.ndarray:
        """The raw logit of each window of ``texts``, aligned with ``windows``.

        Cancelling the awaiting task (client gone, deadline) drops the windows not yet run.
        """
        if self._closing:
            raise RuntimeError("batcher is closed")
        loop = asyncio.get_running_loop()
        order = sorted(range(len(windows)), key=lambda i: windows[i].size)
        job = _Job(texts, windows, order, np.empty(len(windows)), loop.create_future())
        job.tokens = sum(max(1, w.size) for w in windows)
        if not windows:
            return job.logits
        self._queue.append(job)
        self._queued_windows += len(windows)
        self._queued_tokens += job.tokens
        self._wakeup.set()
        return await job.future

    async def close(self) -> None:
        """Finishes the queued work, then stops the worker (used for drain and after a reload)."""
        self._closing = True
        self._wakeup.set()
        if self._task is not None:
            await self._task
        self._executor.shutdown(wait=True)

    def _full(self) -> bool:
        return self._queued_windows >= self.max_batch_size or self._queued_tokens >= self.max_batch_tokens

    def _forget(self, job: _Job) -> None:
        """Drops what is left of a job from the queue counts."""
        left = job.order[job.cursor :]
        self._queued_windows -= len(left)
        self._queued_tokens -= sum(max(1, job.windows[i].size) for i in left)
        job.cursor = len(job.windows)

    def _take_batch(self) -> list[tuple[_Job, int, int]]:
        """Windows from the head of the queue, as (job, first, last) ranges of each job's order."""
        parts: list[tuple[_Job, int, int]] = []
        n = longest = 0
        while self._queue:
            job = self._queue[0]
            if job.future.done():  # cancelled while queued
                self._metrics.texts_dropped.inc(len(job.texts))
                self._forget(job)
                self._queue.popleft()
                continue
            first = job.cursor
            while job.cursor < len(job.windows):
                size = max(1, job.windows[job.order[job.cursor]].size)
                width = max(longest, size)
                if n and ((n + 1) * width > self.max_batch_tokens or n >= self.max_batch_size):
                    break
                n, longest = n + 1, width
                job.cursor += 1
                self._queued_windows -= 1
                self._queued_tokens -= size
            if job.cursor > first:
                parts.append((job, first, job.cursor))
            if job.cursor < len(job.windows):
                break  # the batch is full
            self._queue.popleft()
        return parts

    def _infer(self, parts: list[tuple[_Job, int, int]]) -> np.ndarray:
        """Runs on the inference thread: one graph call over the windows of several jobs."""
        texts: list[str] = []
        windows: list[Window] = []
        for job, first, last in parts:
            base = len(texts)
            texts.extend(job.texts)
            windows.extend(
                replace(job.windows[i], text_index=job.windows[i].text_index + base)
                for i in job.order[first:last]
            )
        return self.detector.run_windows(texts, windows)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if not self._queue:
                if self._closing:
                    return
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            if self.max_wait_s > 0 and not self._closing:
                deadline = loop.time() + self.max_wait_s
                while not self._full() and (remaining := deadline - loop.time()) > 0:
                    self._wakeup.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wakeup.wait(), remaining)
            parts = self._take_batch()
            if not parts:
                continue
            n_windows = sum(last - first for _, first, last in parts)
            started = time.perf_counter()
            try:
                logits = await loop.run_in_executor(self._executor, self._infer, parts)
            except Exception as e:  # a graph failure fails the requests in this batch, not the server
                for job, _, _ in parts:
                    if not job.future.done():
                        job.future.set_exception(e)
                    self._forget(job)
                    with contextlib.suppress(ValueError):
                        self._queue.remove(job)
                continue
            elapsed = time.perf_counter() - started
            self._metrics.batch_seconds.observe(elapsed)
            self._metrics.batch_windows.observe(n_windows)
            self._metrics.batch_requests.observe(len(parts))
            rate = n_windows / max(elapsed, 1e-6)
            self.throughput = rate if self.throughput == 0 else 0.8 * self.throughput + 0.2 * rate
            offset = 0
            for job, first, last in parts:
                job.logits[job.order[first:last]] = logits[offset : offset + last - first]
                offset += last - first
                job.done += last - first
                if job.done == len(job.windows) and not job.future.done():
                    job.future.set_result(job.logits)
