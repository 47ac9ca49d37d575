"""Dynamic micro-batching: the windows of concurrent requests share graph calls.

One :class:`MicroBatcher` feeds one :class:`humanlike.serving.backend.InferenceBackend`. Requests put
their windows in a FIFO queue; a single worker task forms a batch whenever the backend has a free slot
(one for the inference thread, one per scoring process), hands it over, and gives each request its
logits when all of its windows are done. While every slot is busy the queue fills, so the next batch
forms from what arrived meanwhile. A partial batch waits at most ``max_wait_s`` for company
(Triton's ``max_queue_delay``), so a lone request pays that much latency and a busy server fills
batches without waiting.

Forming a batch: the graph pads every window of a batch to the longest, so a 20-token window batched
with 128-token ones costs 128. The worker therefore looks at the oldest ``lookahead`` queued windows,
groups them by size with :func:`humanlike.detector.runtime.plan_batches` (the token cap, windows x
longest, and
the window cap), and runs the group that holds the oldest window. The oldest window is always in the
next batch, so no request starves; the others wait at most until their size group's turn comes.

A client that reads its answer slowly holds no batch. A cancelled request (client gone, deadline
passed) is skipped when the worker reaches its windows.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from humanlike.detector.inputs import Window
from humanlike.detector.runtime import plan_batches
from humanlike.serving.backend import InferenceBackend
from humanlike.serving.metrics import ServerMetrics


@dataclass(eq=False)
class _Job:
    """One request's windows and the logits filled in as its windows are run."""

    texts: Sequence[str]
    windows: list[Window]
    logits: np.ndarray
    future: asyncio.Future[np.ndarray]
    left: int = 0
    """Windows not yet run."""
    dropped: bool = False


class MicroBatcher:
    """Runs windows of many requests through one backend in token-capped batches.

    Args:
        backend: where the graph calls run (the model's inference thread or scoring processes).
        max_batch_tokens: cap on a batch's padded size (windows x longest window).
        max_batch_size: most windows in one graph call.
        max_wait_s: how long a partial batch waits for more windows.
        metrics: where batch sizes and timings go.
    """

    def __init__(
        self,
        backend: InferenceBackend,
        *,
        max_batch_tokens: int,
        max_batch_size: int,
        max_wait_s: float,
        metrics: ServerMetrics,
    ) -> None:
        self.backend = backend
        self.max_batch_tokens = max_batch_tokens
        self.max_batch_size = max_batch_size
        self.max_wait_s = max_wait_s
        self._metrics = metrics
        self._queue: deque[tuple[_Job, int]] = deque()
        """(job, window index) in arrival order."""
        self.lookahead = 4 * max_batch_size
        self._queued_windows = 0
        self._queued_tokens = 0
        self._wakeup = asyncio.Event()
        self._closing = False
        self._slots = asyncio.Semaphore(backend.slots)
        self._running: set[asyncio.Task[None]] = set()
        self._task: asyncio.Task[None] | None = None
        self.throughput = 0.0
        """Windows per second over all slots, from recent graph calls (an exponential moving average)."""

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="humanlike-batcher")

    async def run(self, texts: Sequence[str], windows: list[Window]) -> np.ndarray:
        """The raw logit of each window of ``texts``, aligned with ``windows``.

        Cancelling the awaiting task (client gone, deadline) drops the windows not yet run.
        """
        if self._closing:
            raise RuntimeError("batcher is closed")
        job = _Job(texts, windows, np.empty(len(windows)), asyncio.get_running_loop().create_future())
        if not windows:
            return job.logits
        job.left = len(windows)
        self._queue.extend((job, i) for i in range(len(windows)))
        self._queued_windows += len(windows)
        self._queued_tokens += sum(max(1, w.size) for w in windows)
        self._wakeup.set()
        return await job.future

    async def close(self) -> None:
        """Finishes the queued work, then stops the worker (used for drain and after a reload)."""
        self._closing = True
        self._wakeup.set()
        if self._task is not None:
            await self._task
        await asyncio.get_running_loop().run_in_executor(None, self.backend.close)

    def _full(self) -> bool:
        return self._queued_windows >= self.max_batch_size or self._queued_tokens >= self.max_batch_tokens

    def _take_batch(self) -> list[tuple[_Job, int]]:
        """The next batch: the size group, among the oldest queued windows, that holds the oldest one."""
        candidates: list[tuple[_Job, int]] = []
        while self._queue and len(candidates) < self.lookahead:
            job, i = self._queue.popleft()
            self._queued_windows -= 1
            self._queued_tokens -= max(1, job.windows[i].size)
            if job.future.done():  # cancelled while queued
                if not job.dropped:
                    job.dropped = True
                    self._metrics.texts_dropped.inc(len(job.texts))
                continue
            candidates.append((job, i))
        if not candidates:
            return []
        sizes = [job.windows[i].size for job, i in candidates]
        groups = plan_batches(sizes, self.max_batch_tokens, self.max_batch_size)
        chosen = next(g for g in groups if 0 in g)
        taken = set(chosen)
        rest = [c for k, c in enumerate(candidates) if k not in taken]
        self._queue.extendleft(reversed(rest))  # back at the head, in arrival order
        self._queued_windows += len(rest)
        self._queued_tokens += sum(max(1, job.windows[i].size) for job, i in rest)
        return [candidates[k] for k in chosen]

    @staticmethod
    def _batch_inputs(batch: list[tuple[_Job, int]]) -> tuple[list[str], list[Window]]:
        """The texts a batch reads (only those: a scoring process is sent them) and its windows,
        renumbered to index that list."""
        texts: list[str] = []
        index: dict[tuple[int, int], int] = {}
        windows: list[Window] = []
        for job, i in batch:
            w = job.windows[i]
            key = (id(job), w.text_index)
            if key not in index:
                index[key] = len(texts)
                texts.append(job.texts[w.text_index])
            windows.append(replace(w, text_index=index[key]))
        return texts, windows

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if not self._queue:
                if self._closing:
                    break
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            await self._slots.acquire()  # the queue goes on filling while every slot is busy
            if self.max_wait_s > 0 and not self._closing:
                deadline = loop.time() + self.max_wait_s
                while not self._full() and (remaining := deadline - loop.time()) > 0:
                    self._wakeup.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wakeup.wait(), remaining)
            batch = self._take_batch()
            if not batch:
                self._slots.release()
                continue
            task = loop.create_task(self._run_batch(batch))
            self._running.add(task)
            task.add_done_callback(self._running.discard)
        if self._running:
            await asyncio.gather(*self._running)

    async def _run_batch(self, batch: list[tuple[_Job, int]]) -> None:
        jobs = {id(job): job for job, _ in batch}
        started = time.perf_counter()
        try:
            logits = await self.backend.run_windows(*self._batch_inputs(batch))
        except Exception as e:  # a graph failure fails the requests in this batch, not the server
            for job in jobs.values():
                if not job.future.done():
                    job.future.set_exception(e)
            return
        finally:
            self._slots.release()
        elapsed = time.perf_counter() - started
        self._metrics.batch_seconds.observe(elapsed)
        self._metrics.batch_windows.observe(len(batch))
        self._metrics.batch_requests.observe(len(jobs))
        rate = len(batch) / max(elapsed, 1e-6) * self.backend.slots  # slots run side by side
        self.throughput = rate if self.throughput == 0 else 0.8 * self.throughput + 0.2 * rate
        for (job, i), logit in zip(batch, logits, strict=True):
            job.logits[i] = logit
            job.left -= 1
            if job.left == 0 and not job.future.done():
                job.future.set_result(job.logits)
