"""The scoring core: the served model, admission (limits, bounded queue), deadlines, reload and drain.

Both front ends (:mod:`humanlike.serving.grpc_server`, :mod:`humanlike.serving.http_app`) call
:meth:`ScoringCore.score`,
:meth:`ScoringCore.rank` and :meth:`ScoringCore.model_info`, and map
:class:`humanlike.serving.errors.ServingError`
to their protocol. Scores come from the runtime's own functions (``Detector.windows``, ``run_windows``,
``score_windows``), so a text scores the same over HTTP, gRPC and ``humanlike score``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import math
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from humanlike.detector.bundle import MANIFEST_FILE, BundleError
from humanlike.detector.runtime import Detector, TextScore, usable_cores
from humanlike.serving.backend import (
    InferenceBackend,
    ProcessBackend,
    ThreadBackend,
    default_scoring_processes,
)
from humanlike.serving.batcher import MicroBatcher
from humanlike.serving.config import ServeConfig
from humanlike.serving.errors import (
    DeadlineExceeded,
    InvalidRequest,
    NotFound,
    Overloaded,
    ReloadRefused,
    ShuttingDown,
)
from humanlike.serving.metrics import ServerMetrics
from humanlike.serving.repository import VersionNotFound, resolve_bundle, without_paths

log = logging.getLogger("humanlike.serving")


@dataclass(frozen=True)
class ThresholdInfo:
    target_fpr: float
    p_llm: float
    measured_fpr: float


@dataclass(frozen=True)
class ModelDescription:
    """What ``GetModel`` and ``GET /v1/model`` return (field for field the proto's ``ModelInfo``)."""

    model_id: str
    kind: str
    precision: str
    format_version: int
    labels: list[str]
    max_length: int
    max_tokens: int
    thresholds: list[ThresholdInfo]
    provider: str
    corpus_sha256: str
    metrics: dict[str, Any]
    loaded_at: str
    max_texts_per_request: int
    max_request_bytes: int


@dataclass(frozen=True)
class ScoreResult:
    scores: list[TextScore]
    model_id: str


@dataclass(frozen=True)
class RankedText:
    index: int
    rank: int
    human_likeness: float
    p_llm: float


@dataclass(frozen=True)
class RankResult:
    ranked: list[RankedText]
    model_id: str


@dataclass(eq=False)
class ServedModel:
    """A loaded, warmed detector with its own batcher; replaced whole on reload.

    A request holds the model it started on (:meth:`in_use`) from admission to its scores, across
    its awaits (tokenizing, batching). :meth:`retire` waits for those requests before it stops the
    batcher, so a reload or a drain never closes a batcher under a request that has yet to reach it.
    """

    detector: Detector
    batcher: MicroBatcher
    model_id: str
    loaded_at: str
    bundle: str
    """The bundle directory (the server's log names it; clients never see it)."""
    _users: int = 0
    _idle: asyncio.Event = field(default_factory=asyncio.Event)

    @contextlib.contextmanager
    def in_use(self) -> Iterator[ServedModel]:
        self._users += 1
        self._idle.clear()
        try:
            yield self
        finally:
            self._users -= 1
            if self._users == 0:
                self._idle.set()

    async def retire(self) -> None:
        """Waits until no request holds this model, then finishes the batcher's queue and stops it."""
        if self._users:
            await self._idle.wait()
        await self.batcher.close()


WARM_UP_TEXTS = (
    "A warm-up text, so that the first request does not pay for lazy initialisation.",
    "Longer warm-up text. " * 200,
)


class ScoringCore:
    """Owns the served model and everything between a parsed request and its scores."""

    def __init__(self, config: ServeConfig, metrics: ServerMetrics) -> None:
        self.config = config
        self.metrics = metrics
        self._model: ServedModel | None = None
        self._queued_texts = 0
        self._draining = False
        self._reload_lock = asyncio.Lock()
        # Tokenizing runs off the event loop (the tokenizers library releases the GIL while it works).
        self._prep = ThreadPoolExecutor(max_workers=2, thread_name_prefix="humanlike-prep")

    # -- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        """Loads and warms the configured bundle (a repository's highest version); ready after this."""
        self._model = await self._load(resolve_bundle(self.config.bundle))
        self.metrics.ready.set(1)

    @property
    def ready(self) -> bool:
        return self._model is not None and not self._draining

    @property
    def model(self) -> ServedModel:
        if self._model is None:
            raise ShuttingDown("no model is loaded yet")
        return self._model

    def begin_drain(self) -> None:
        """Refuses new work from now on; admitted work goes on."""
        self._draining = True
        self.metrics.ready.set(0)

    async def close(self) -> None:
        """Finishes admitted work and stops the batcher (after :meth:`begin_drain`)."""
        self.begin_drain()
        if self._model is not None:
            await self._model.retire()
        self._prep.shutdown(wait=True)

    async def _load(self, bundle: Path) -> ServedModel:
        loop = asyncio.get_running_loop()

        def load_and_warm() -> Detector:
            detector = Detector(
                bundle,
                device=self.config.device,
                threads=self.config.threads,
                max_batch_tokens=self.config.max_batch_tokens,
            )
            limit = detector.manifest.max_length
            detector.score_texts([t[:limit] for t in WARM_UP_TEXTS])
            return detector

        detector = await loop.run_in_executor(None, load_and_warm)
        model_id = hashlib.sha256((detector.path / MANIFEST_FILE).read_bytes()).hexdigest()
        backend = await loop.run_in_executor(None, self._backend_for, detector)
        batcher = MicroBatcher(
            backend,
            max_batch_tokens=detector.max_batch_tokens,
            max_batch_size=self.config.max_batch_size,
            max_wait_s=self.config.max_wait_ms / 1000,
            metrics=self.metrics,
        )
        batcher.start()
        loaded_at = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        log.info(
            "loaded %s (%s, model_id %s, %s)",
            bundle,
            detector.manifest.kind,
            model_id[:12],
            f"{backend.slots} scoring processes" if isinstance(backend, ProcessBackend) else "in process",
        )
        return ServedModel(detector, batcher, model_id, loaded_at, str(bundle))

    def _backend_for(self, detector: Detector) -> InferenceBackend:
        """The configured backend for a loaded detector, started and warm. Blocks (run off the loop).

        Raises:
            BundleError: a scoring process could not load the bundle.
        """
        processes = self.config.scoring_processes
        if processes == "auto":
            processes = default_scoring_processes(detector)
        if processes == 0:
            return ThreadBackend(detector)
        backend = ProcessBackend(
            detector.path,
            processes,
            device=self.config.device,
            threads=self.config.threads or max(1, usable_cores() // processes),
            max_batch_tokens=detector.max_batch_tokens,
            on_restart=self.metrics.scoring_restarts.inc,
        )
        limit = detector.manifest.max_length
        try:
            backend.warm([t[:limit] for t in WARM_UP_TEXTS])
        except BrokenProcessPool as e:
            backend.close()
            raise BundleError(f"bundle {detector.path}: a scoring process could not load it") from e
        return backend

    async def reload(self, version: str | None = None) -> ModelDescription:
        """Re-reads the configured bundle, or loads ``version`` of the configured model repository
        (default: its highest), and swaps it in when warm.

        What can be loaded is fixed by the server's configuration; a caller names at most a version.
        Requests keep going to the old model until the new one is loaded and warm; requests already
        admitted finish on the model they started on. A bundle that fails to load is refused and the
        old model keeps serving. Error messages name no server path (the log has them).

        Raises:
            NotFound: ``version`` is not in the repository, or the server serves a single bundle.
            ReloadRefused: the bundle is missing, corrupt or cannot be run.
        """
        async with self._reload_lock:
            old = self.model
            try:
                new = await self._load(resolve_bundle(self.config.bundle, version))
            except VersionNotFound as e:
                self.metrics.reloads.labels("refused").inc()
                raise NotFound(str(e)) from e
            except (BundleError, OSError, ValueError, RuntimeError) as e:
                self.metrics.reloads.labels("refused").inc()
                log.error("reload refused; still serving %s: %s", old.bundle, e)
                raise ReloadRefused(
                    f"reload refused, still serving the previous model: {without_paths(str(e))}"
                ) from e
            self._model = new
            self.metrics.reloads.labels("loaded").inc()
            await old.retire()  # the requests that started on it finish on it
            return self.model_info()

    # -- requests --------------------------------------------------------------------------------

    def model_info(self) -> ModelDescription:
        model = self.model
        manifest, info = model.detector.manifest, model.detector.info
        return ModelDescription(
            model_id=model.model_id,
            kind=manifest.kind,
            precision=manifest.precision,
            format_version=manifest.format_version,
            labels=list(manifest.labels),
            max_length=manifest.max_length,
            max_tokens=info.max_tokens or 0,
            thresholds=[ThresholdInfo(t.target_fpr, t.p_llm, t.measured_fpr) for t in manifest.thresholds],
            provider=info.provider,
            corpus_sha256=manifest.corpus.sha256,
            metrics=dict(manifest.metrics),
            loaded_at=model.loaded_at,
            max_texts_per_request=self.config.max_texts_per_request,
            max_request_bytes=self.config.max_request_bytes,
        )

    def check_texts(self, texts: Sequence[object], model: ServedModel) -> None:
        """Raises InvalidRequest for the first text the model cannot score, or a bad count."""
        if not texts:
            raise InvalidRequest("texts is empty: send at least one text")
        if len(texts) > self.config.max_texts_per_request:
            raise InvalidRequest(
                f"{len(texts)} texts in one request; this server takes at most "
                f"{self.config.max_texts_per_request}"
            )
        for i, text in enumerate(texts):
            reason = model.detector.check_text(text)
            if reason is not None:
                raise InvalidRequest(f"text {i}: {reason}", index=i)

    @contextlib.contextmanager
    def _admit(self, n_texts: int, model: ServedModel) -> Iterator[None]:
        """Counts texts against the bounded queue for the life of a request."""
        if self._draining:
            raise ShuttingDown("the server is shutting down")
        if self._queued_texts + n_texts > self.config.max_queue_texts:
            rate = model.batcher.throughput  # windows/s; close enough to texts/s for a back-off hint
            retry_after = max(1.0, math.ceil(self._queued_texts / rate)) if rate > 0 else 1.0
            raise Overloaded(
                f"server queue is full ({self._queued_texts} texts waiting, limit "
                f"{self.config.max_queue_texts}); retry after {retry_after:g} s",
                retry_after=retry_after,
            )
        self._queued_texts += n_texts
        self.metrics.queue_texts.set(self._queued_texts)
        try:
            yield
        finally:
            self._queued_texts -= n_texts
            self.metrics.queue_texts.set(self._queued_texts)

    async def score(
        self, texts: Sequence[str], *, windows: bool = False, timeout_s: float | None = None
    ) -> ScoreResult:
        """Scores texts through the micro-batcher, in request order.

        Args:
            texts: the request's texts.
            windows: also return per-window scores.
            timeout_s: the client's deadline in seconds from now; the server's ``request_timeout_s``
                applies when it is shorter or absent.

        Raises:
            InvalidRequest, Overloaded, ShuttingDown, DeadlineExceeded.
        """
        timeout = (
            min(timeout_s, self.config.request_timeout_s) if timeout_s else self.config.request_timeout_s
        )
        with self.model.in_use() as model:  # held until the scores are out: see ServedModel.retire
            self.check_texts(texts, model)
            if timeout <= 0:
                raise DeadlineExceeded("the deadline passed before the request was scored")
            with self._admit(len(texts), model):
                try:
                    async with asyncio.timeout(timeout):
                        loop = asyncio.get_running_loop()
                        spans = await loop.run_in_executor(self._prep, model.detector.windows, texts)
                        logits = await model.batcher.run(texts, spans)
                except TimeoutError:
                    raise DeadlineExceeded(f"not scored within the deadline of {timeout:g} s") from None
                scores = model.detector.score_windows(spans, logits, len(texts), windows=windows)
        self.metrics.texts_scored.inc(len(texts))
        return ScoreResult(scores, model.model_id)

    async def rank(self, texts: Sequence[str], *, timeout_s: float | None = None) -> RankResult:
        """Scores texts and orders them most human-like first; ties keep request order."""
        result = await self.score(texts, timeout_s=timeout_s)
        order = sorted(range(len(texts)), key=lambda i: -result.scores[i].human_likeness)
        ranked = [
            RankedText(i, rank, result.scores[i].human_likeness, result.scores[i].p_llm)
            for rank, i in enumerate(order, 1)
        ]
        return RankResult(ranked, result.model_id)
