"""A client of the humanlike service over gRPC, for training pipelines (as ``tritonclient`` is for Triton).

    from humanlike import Client

    with Client("127.0.0.1:50051") as client:
        scores = client.score(["Some text.", "Another text."])      # [TextScore], in order
        ranked = client.rank(texts)                                  # most human-like first
        for result in client.score_stream(batches_of_texts):         # one result per batch, in order
            ...

Overload is handled as the server asks: a RESOURCE_EXHAUSTED answer is retried after the server's
``retry-after`` (at most ``max_retries`` times, never past the call's deadline); so is UNAVAILABLE (a
scoring process that died under the call, a server restarting), after ``retry-after`` or 1 s.
``score_stream`` keeps at most ``max_in_flight`` messages sent and unanswered, so a fast producer
cannot queue a whole corpus in the client or the server; it yields answers in input order. Errors of
a call raise :class:`ClientError`; a stream message that cannot be scored is yielded with its
``error`` set, and the stream goes on.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import grpc

from humanlike.v1 import humanlike_pb2 as pb
from humanlike.v1 import humanlike_pb2_grpc

OVERLOADED = "RESOURCE_EXHAUSTED"
UNAVAILABLE = "UNAVAILABLE"
RETRYABLE = frozenset({OVERLOADED, UNAVAILABLE})
"""Codes a score is retried on: the queue was full, or the scoring process of its batch died and was
replaced (or the server is restarting). Scoring is idempotent, so a retry is always safe."""
T = TypeVar("T")


class ClientError(Exception):
    """A call the server refused or could not finish: ``code`` is the gRPC status name."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True)
class StreamResult:
    """The answer to one message of :meth:`Client.score_stream`."""

    index: int
    """The message's position in the input."""
    scores: list[pb.TextScore]
    error: pb.Error | None
    """Set, and ``scores`` empty, when the message could not be scored (after retries, for overload)."""


class Client:
    """A connection to a humanlike server.

    Args:
        target: ``host:port`` of the server's gRPC port.
        token: the server's bearer token, if it requires one.
        timeout: deadline of each call in seconds (a stream's whole life); None: no deadline.
        max_retries: retries of an overloaded or unavailable call or stream message.
        credentials: TLS channel credentials (``grpc.ssl_channel_credentials(...)``); None: plaintext.
    """

    def __init__(
        self,
        target: str,
        *,
        token: str | None = None,
        timeout: float | None = 60.0,
        max_retries: int = 5,
        credentials: grpc.ChannelCredentials | None = None,
    ) -> None:
        self.timeout = timeout
        self.max_retries = max_retries
        self._channel = (
            grpc.secure_channel(target, credentials) if credentials else grpc.insecure_channel(target)
        )
        self._stub = humanlike_pb2_grpc.DetectorServiceStub(self._channel)  # type: ignore[no-untyped-call]
        self._metadata = (("authorization", f"Bearer {token}"),) if token else ()

    def score(self, texts: Sequence[str], *, windows: bool = False) -> list[pb.TextScore]:
        """Scores of ``texts``, in order."""
        request = pb.ScoreRequest(texts=list(texts), windows=windows)
        response: pb.ScoreResponse = self._unary(self._stub.Score, request)
        return list(response.scores)

    def rank(self, texts: Sequence[str]) -> list[pb.RankedText]:
        """``texts`` most human-like first (``index`` is the position in ``texts``)."""
        response: pb.RankResponse = self._unary(self._stub.Rank, pb.RankRequest(texts=list(texts)))
        return list(response.ranked)

    def model(self) -> pb.ModelInfo:
        """The served model: kind, thresholds, limits, metrics."""
        info: pb.ModelInfo = self._unary(self._stub.GetModel, pb.GetModelRequest())
        return info

    def score_stream(
        self, messages: Iterable[Sequence[str]], *, windows: bool = False, max_in_flight: int = 8
    ) -> Iterator[StreamResult]:
        """One :class:`StreamResult` per message of texts, in input order, over one ScoreStream call.

        ``messages`` is read lazily: at most ``max_in_flight`` are sent and unanswered at any time.
        """
        slots = threading.Semaphore(max_in_flight)
        retries: queue.Queue[tuple[float, int]] = queue.Queue()
        outstanding: dict[int, list[str]] = {}
        attempts: dict[int, int] = {}
        lock = threading.Lock()
        source = enumerate(messages)
        exhausted = threading.Event()
        finished = threading.Event()

        def request(i: int) -> pb.ScoreStreamRequest:
            return pb.ScoreStreamRequest(id=str(i), texts=outstanding[i], windows=windows)

        def requests() -> Iterator[pb.ScoreStreamRequest]:
            # Runs in gRPC's sending thread. Retries go first; the stream stays open until every sent
            # message has its final answer, since a retry needs the stream.
            while not finished.is_set():
                try:
                    due, i = retries.get(timeout=0.02)
                except queue.Empty:
                    pass
                else:
                    time.sleep(max(0.0, due - time.monotonic()))
                    yield request(i)
                    continue
                if exhausted.is_set():
                    with lock:
                        if not outstanding and retries.empty():
                            return
                    continue
                if not slots.acquire(timeout=0.02):
                    continue
                item = next(source, None)
                if item is None:
                    slots.release()
                    exhausted.set()
                    continue
                i, texts = item
                with lock:
                    outstanding[i] = list(texts)
                yield request(i)

        call = self._stub.ScoreStream(requests(), metadata=self._metadata, timeout=self.timeout)
        ready: dict[int, StreamResult] = {}
        next_out = 0
        try:
            for response in call:
                i = int(response.id)
                error = response.error if response.HasField("error") else None
                if error is not None and error.code in RETRYABLE and attempts.get(i, 0) < self.max_retries:
                    attempts[i] = attempts.get(i, 0) + 1
                    retries.put((time.monotonic() + max(error.retry_after_s, 0.05), i))
                    continue
                with lock:
                    del outstanding[i]
                slots.release()
                ready[i] = StreamResult(i, list(response.scores), error)
                while next_out in ready:
                    yield ready.pop(next_out)
                    next_out += 1
        except grpc.RpcError as e:
            raise ClientError(e.code().name, e.details() or "") from None
        finally:
            finished.set()
            call.cancel()

    def _unary(self, method: Any, request: Any) -> Any:
        deadline = None if self.timeout is None else time.monotonic() + self.timeout
        for attempt in range(self.max_retries + 1):
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                return method(request, metadata=self._metadata, timeout=remaining)
            except grpc.RpcError as e:
                code = e.code()
                wait = _retry_after(e)
                retryable = code.name in RETRYABLE and attempt < self.max_retries
                if not retryable or (deadline is not None and time.monotonic() + wait >= deadline):
                    raise ClientError(code.name, e.details() or "") from None
                time.sleep(wait)
        raise AssertionError("unreachable")

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _retry_after(error: grpc.RpcError) -> float:
    """The server's ``retry-after`` trailing metadata in seconds (1 when it sent none)."""
    trailing = error.trailing_metadata() if hasattr(error, "trailing_metadata") else None
    for key, value in trailing or ():
        if key == "retry-after":
            try:
                return max(0.0, float(value))
            except ValueError:
                break
    return 1.0
