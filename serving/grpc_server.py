"""The gRPC front end: ``humanlike.v1.DetectorService``, ``grpc.health.v1`` and server reflection.

A thin router over :class:`humanlike.serving.core.ScoringCore`: it decodes messages, checks the bearer token,
turns core results into ``humanlike.v1`` messages and :class:`humanlike.serving.errors.ServingError` into
status
codes. Method handlers are registered by hand (not with the generated ``add_..._to_server``) so that a
message that is not valid protobuf or UTF-8 is answered with INVALID_ARGUMENT instead of INTERNAL.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import grpc
from google.protobuf import json_format, struct_pb2
from google.protobuf.message import DecodeError, Message
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from humanlike.detector.runtime import TextScore
from humanlike.serving.auth import token_matches
from humanlike.serving.config import ServeConfig
from humanlike.serving.core import ModelDescription, ScoringCore
from humanlike.serving.errors import InvalidRequest, RequestTooLarge, ServingError
from humanlike.serving.metrics import ServerMetrics
from humanlike.v1 import humanlike_pb2 as pb

log = logging.getLogger("humanlike.serving.grpc")

SERVICE = pb.DESCRIPTOR.services_by_name["DetectorService"].full_name  # "humanlike.v1.DetectorService"
HEALTH_PREFIX = "/grpc.health.v1.Health/"
# gRPC's own transport limit; messages between max_request_bytes and this get INVALID_ARGUMENT from us,
# larger ones RESOURCE_EXHAUSTED from gRPC before any of our code runs.
TRANSPORT_LIMIT_FACTOR = 4

M = TypeVar("M", bound=Message)


@dataclass(frozen=True)
class Undecodable:
    """Stands in for a request message that could not be decoded; the handler answers with its error."""

    error: ServingError


def decoder(message_type: type[M], max_bytes: int) -> Callable[[bytes], M | Undecodable]:
    def decode(data: bytes) -> M | Undecodable:
        if len(data) > max_bytes:
            return Undecodable(
                RequestTooLarge(f"request message has {len(data)} bytes; this server takes {max_bytes}")
            )
        try:
            message: M = message_type.FromString(data)
            return message
        except DecodeError as e:  # includes strings that are not UTF-8
            return Undecodable(InvalidRequest(f"request is not a valid {message_type.__name__}: {e}"))

    return decode


def text_score_message(score: TextScore) -> pb.TextScore:
    return pb.TextScore(
        p_llm=score.p_llm,
        human_likeness=score.human_likeness,
        flagged=score.flagged,
        windows=[pb.WindowScore(start=w.start, end=w.end, p_llm=w.p_llm) for w in score.windows or ()],
    )


def model_info_message(info: ModelDescription) -> pb.ModelInfo:
    return pb.ModelInfo(
        model_id=info.model_id,
        kind=info.kind,
        precision=info.precision,
        format_version=info.format_version,
        labels=info.labels,
        max_length=info.max_length,
        max_tokens=info.max_tokens,
        thresholds=[
            pb.Threshold(target_fpr=t.target_fpr, p_llm=t.p_llm, measured_fpr=t.measured_fpr)
            for t in info.thresholds
        ],
        provider=info.provider,
        corpus_sha256=info.corpus_sha256,
        metrics=json_format.ParseDict(info.metrics, struct_pb2.Struct()),
        loaded_at=info.loaded_at,
        max_texts_per_request=info.max_texts_per_request,
        max_request_bytes=info.max_request_bytes,
    )


def _timeout(context: grpc.aio.ServicerContext) -> float | None:
    remaining: float | None = context.time_remaining()
    return remaining


class DetectorService:
    """``humanlike.v1.DetectorService`` over a scoring core."""

    def __init__(self, core: ScoringCore, metrics: ServerMetrics) -> None:
        self.core = core
        self.metrics = metrics

    async def _unary(
        self,
        method: str,
        request: Message | Undecodable,
        context: grpc.aio.ServicerContext,
        answer: Callable[[Any], Awaitable[Message]],
    ) -> Message:
        started = time.perf_counter()
        code = "OK"
        try:
            if isinstance(request, Undecodable):
                raise request.error
            return await answer(request)
        except ServingError as e:
            code = e.code
            self.metrics.errors.labels(e.code).inc()
            metadata = (("retry-after", f"{e.retry_after:g}"),) if e.retry_after is not None else ()
            await context.abort(getattr(grpc.StatusCode, e.code), e.message, trailing_metadata=metadata)
            raise  # abort raises; this line is for type checkers
        except asyncio.CancelledError:
            code = "CANCELLED"
            raise
        finally:
            self.metrics.requests.labels("grpc", method, code).inc()
            self.metrics.latency.labels("grpc", method).observe(time.perf_counter() - started)

    async def Score(
        self, request: pb.ScoreRequest | Undecodable, context: grpc.aio.ServicerContext
    ) -> Message:
        async def answer(r: pb.ScoreRequest) -> pb.ScoreResponse:
            result = await self.core.score(list(r.texts), windows=r.windows, timeout_s=_timeout(context))
            return pb.ScoreResponse(
                scores=[text_score_message(s) for s in result.scores], model_id=result.model_id
            )

        return await self._unary("Score", request, context, answer)

    async def Rank(self, request: pb.RankRequest | Undecodable, context: grpc.aio.ServicerContext) -> Message:
        async def answer(r: pb.RankRequest) -> pb.RankResponse:
            result = await self.core.rank(list(r.texts), timeout_s=_timeout(context))
            return pb.RankResponse(
                ranked=[
                    pb.RankedText(index=t.index, rank=t.rank, human_likeness=t.human_likeness, p_llm=t.p_llm)
                    for t in result.ranked
                ],
                model_id=result.model_id,
            )

        return await self._unary("Rank", request, context, answer)

    async def GetModel(
        self, request: pb.GetModelRequest | Undecodable, context: grpc.aio.ServicerContext
    ) -> Message:
        async def answer(_: pb.GetModelRequest) -> pb.ModelInfo:
            return model_info_message(self.core.model_info())

        return await self._unary("GetModel", request, context, answer)

    async def _stream_message(
        self, request: pb.ScoreStreamRequest | Undecodable, context: grpc.aio.ServicerContext
    ) -> pb.ScoreStreamResponse:
        """One stream message's answer; its errors become the answer's ``error``, not the stream's."""
        try:
            if isinstance(request, Undecodable):
                raise request.error
            result = await self.core.score(
                list(request.texts), windows=request.windows, timeout_s=_timeout(context)
            )
        except ServingError as e:
            self.metrics.errors.labels(e.code).inc()
            return pb.ScoreStreamResponse(
                id=getattr(request, "id", ""),
                error=pb.Error(
                    code=e.code, message=e.message, index=e.index, retry_after_s=e.retry_after or 0
                ),
            )
        return pb.ScoreStreamResponse(
            id=request.id, scores=[text_score_message(s) for s in result.scores], model_id=result.model_id
        )

    async def ScoreStream(
        self, requests: AsyncIterator[pb.ScoreStreamRequest | Undecodable], context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.ScoreStreamResponse]:
        """Scores up to ``stream_inflight`` messages at a time and answers in request order.

        A reader task takes messages off the stream into a bounded queue of pending answers; when it is
        full the reader stops reading, so a client that pushes faster than the server scores is held back
        by gRPC flow control rather than by server memory. Answers are written as soon as the oldest is
        ready, so a client that waits for each answer before sending the next works too.
        """
        started = time.perf_counter()
        pending: asyncio.Queue[asyncio.Task[pb.ScoreStreamResponse] | None] = asyncio.Queue(
            maxsize=self.core.config.stream_inflight
        )
        tasks: set[asyncio.Task[pb.ScoreStreamResponse]] = set()

        async def read() -> None:
            try:
                async for request in requests:
                    task = asyncio.create_task(self._stream_message(request, context))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                    await pending.put(task)
            finally:
                await pending.put(None)

        reader = asyncio.create_task(read())
        code = "OK"
        try:
            while (task := await pending.get()) is not None:
                yield await task
            await reader  # re-raises a failure to read the stream
        except asyncio.CancelledError:
            code = "CANCELLED"
            raise
        finally:
            reader.cancel()
            for task in list(tasks):
                task.cancel()
            self.metrics.requests.labels("grpc", "ScoreStream", code).inc()
            self.metrics.latency.labels("grpc", "ScoreStream").observe(time.perf_counter() - started)

    def handler(self, max_bytes: int) -> grpc.GenericRpcHandler:
        def unary(behaviour: Any, request_type: type[Message]) -> grpc.RpcMethodHandler:
            return grpc.unary_unary_rpc_method_handler(
                behaviour,
                request_deserializer=decoder(request_type, max_bytes),
                response_serializer=lambda m: m.SerializeToString(),
            )

        return grpc.method_handlers_generic_handler(
            SERVICE,
            {
                "Score": unary(self.Score, pb.ScoreRequest),
                "Rank": unary(self.Rank, pb.RankRequest),
                "GetModel": unary(self.GetModel, pb.GetModelRequest),
                "ScoreStream": grpc.stream_stream_rpc_method_handler(
                    self.ScoreStream,
                    request_deserializer=decoder(pb.ScoreStreamRequest, max_bytes),
                    response_serializer=lambda m: m.SerializeToString(),
                ),
            },
        )


class BearerAuthInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]  # grpc is untyped
    """Refuses calls without ``authorization: Bearer <token>`` metadata; health checks stay open."""

    def __init__(self, token: str, metrics: ServerMetrics) -> None:
        self._token = token
        self._metrics = metrics

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        if handler is None or details.method.startswith(HEALTH_PREFIX):
            return handler
        values = [v for k, v in details.invocation_metadata or () if k == "authorization"]
        if any(token_matches(v, self._token) for v in values):
            return handler
        self._metrics.errors.labels("UNAUTHENTICATED").inc()

        async def deny(request: Any, context: grpc.aio.ServicerContext) -> None:
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing or wrong bearer token")

        # Same shape as the real handler (so gRPC reads the request stream as it would), behaviour denied.
        if handler.request_streaming and handler.response_streaming:
            return grpc.stream_stream_rpc_method_handler(deny)
        if handler.request_streaming:
            return grpc.stream_unary_rpc_method_handler(deny)
        if handler.response_streaming:
            return grpc.unary_stream_rpc_method_handler(deny)
        return grpc.unary_unary_rpc_method_handler(deny)


@dataclass
class GrpcServer:
    server: grpc.aio.Server
    port: int
    health: health.aio.HealthServicer

    async def begin_drain(self) -> None:
        """Health says NOT_SERVING, so balancers stop sending before the port closes."""
        await self.health.enter_graceful_shutdown()

    async def stop(self, grace: float) -> None:
        """Stops accepting calls and waits up to ``grace`` seconds for those in flight."""
        await self.server.stop(grace)


async def start_grpc_server(config: ServeConfig, core: ScoringCore, metrics: ServerMetrics) -> GrpcServer:
    """Binds and starts the gRPC server on ``config.host:config.grpc_port`` (0 picks a free port)."""
    transport_limit = config.max_request_bytes * TRANSPORT_LIMIT_FACTOR
    interceptors = [BearerAuthInterceptor(config.auth_token, metrics)] if config.auth_token else []
    server = grpc.aio.server(
        interceptors=interceptors,
        options=[
            ("grpc.max_receive_message_length", transport_limit),
            ("grpc.max_send_message_length", transport_limit),
            ("grpc.so_reuseport", 0),
        ],
    )
    service = DetectorService(core, metrics)
    server.add_generic_rpc_handlers((service.handler(config.max_request_bytes),))
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        (SERVICE, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME), server
    )
    address = f"{config.host}:{config.grpc_port}"
    if config.tls_cert and config.tls_key:
        with open(config.tls_key, "rb") as k, open(config.tls_cert, "rb") as c:
            credentials = grpc.ssl_server_credentials([(k.read(), c.read())])
        port = server.add_secure_port(address, credentials)
    else:
        port = server.add_insecure_port(address)
    if port == 0:
        raise OSError(f"gRPC could not bind {address}")
    await server.start()
    for name in ("", SERVICE):
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    log.info("gRPC listening on %s:%d%s", config.host, port, " (TLS)" if config.tls_cert else "")
    return GrpcServer(server, port, health_servicer)
