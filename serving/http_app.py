"""The HTTP front end (FastAPI): ``/v1/score``, ``/v1/rank``, ``/v1/model``, health, metrics, admin reload.

A thin router over :class:`humanlike.serving.core.ScoringCore`, with the same field names and meanings as the
``humanlike.v1`` protos. Errors have one body shape, ``{"error": {"code", "message", "index"}}``, where
``code`` is the gRPC status name the same error has over gRPC.

The OpenAPI document says what the server does, no more: the bearer scheme and 401s only when a token is
configured, ``/admin/reload`` only when admin actions are on, the request limits (texts per request, a
text's length) as this server enforces them. The core validates requests for both protocols; the schema
documents its limits rather than re-implementing them, and the schemathesis test holds the two together.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable
from dataclasses import asdict
from typing import Any, TypeVar

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from humanlike.detector.runtime import BLANK_CHARACTERS
from humanlike.detector.runtime import TextScore as CoreTextScore
from humanlike.serving.auth import token_matches
from humanlike.serving.core import ScoringCore
from humanlike.serving.errors import InvalidRequest, ServingError, Unauthenticated
from humanlike.serving.metrics import ServerMetrics

T = TypeVar("T")
DISCONNECT_POLL_S = 0.05


# -- wire models (field for field the humanlike.v1 messages) ---------------------------------------


class ScoreRequest(BaseModel):
    model_config = ConfigDict(strict=True)  # ``windows: 1`` is not a boolean, whatever Python thinks

    texts: list[str] = Field(
        description="texts to score: each non-blank and at most the model's max_length characters; "
        "at most max_texts_per_request of them (GET /v1/model tells both)"
    )
    windows: bool = Field(False, description="also return the score of each window the model read")


class WindowScore(BaseModel):
    start: int = Field(description="first character of the window's span (Unicode code points)")
    end: int = Field(description="one past the span's last character: text[start:end]")
    p_llm: float = Field(description="calibrated probability that this span alone was written by an LLM")


class TextScore(BaseModel):
    p_llm: float = Field(description="calibrated probability that the text was written by an LLM")
    human_likeness: float = Field(description="1 - p_llm: higher reads more human")
    flagged: dict[str, bool] = Field(
        description="the decision at each of the bundle's thresholds, keyed by the threshold's target "
        "false-positive rate on human text ('0.01'); true when flagged as LLM-written"
    )
    windows: list[WindowScore] = Field(
        default_factory=list, description="per-window scores in text order, when asked for"
    )


class ScoreResponse(BaseModel):
    scores: list[TextScore] = Field(description="one per request text, in request order")
    model_id: str = Field(description="model_id of the model that scored the request")


class RankRequest(BaseModel):
    model_config = ConfigDict(strict=True)

    texts: list[str] = Field(description="texts to rank (same limits as /v1/score)")


class RankedText(BaseModel):
    index: int = Field(description="position of the text in the request")
    rank: int = Field(description="1 = the most human-like")
    human_likeness: float = Field(description="1 - p_llm: higher reads more human")
    p_llm: float = Field(description="calibrated probability that the text was written by an LLM")


class RankResponse(BaseModel):
    ranked: list[RankedText] = Field(description="most human-like first; ties keep request order")
    model_id: str = Field(description="model_id of the model that ranked the request")


class Threshold(BaseModel):
    target_fpr: float = Field(description="target false-positive rate on human text")
    p_llm: float = Field(description="a text is flagged when its p_llm is above this")
    measured_fpr: float = Field(description="false-positive rate measured on the calibration split")


class ModelInfo(BaseModel):
    model_id: str = Field(description="sha256 of the bundle manifest; changes when another model loads")
    kind: str = Field(description="the bundle's kind: 'ngram-linear', 'transformer', 'zero-shot' or 'hybrid'")
    precision: str = Field(description="'fp32' or 'int8'")
    format_version: int = Field(description="bundle format version")
    labels: list[str] = Field(description="the two classes, negative first")
    max_length: int = Field(description="longest text accepted, in characters")
    max_tokens: int = Field(description="window length in tokens; 0 when the model reads whole texts")
    thresholds: list[Threshold] = Field(description="decision thresholds at fixed false-positive rates")
    provider: str = Field(description="the ONNX Runtime execution provider running the graph")
    corpus_sha256: str = Field(description="fingerprint of the training corpus")
    metrics: dict[str, Any] = Field(description="the bundle's recorded evaluation metrics")
    loaded_at: str = Field(description="when this server loaded the model (RFC 3339, UTC)")
    max_texts_per_request: int = Field(description="this server's limit on texts in one request")
    max_request_bytes: int = Field(description="this server's limit on a request body, in bytes")


class ReloadRequest(BaseModel):
    # Unknown fields are refused, not ignored: a client that sends a path (the old "bundle" field)
    # learns that requests cannot name one, instead of reloading something else.
    model_config = ConfigDict(strict=True, extra="forbid")

    version: str | None = Field(
        None,
        pattern=r"^[0-9]{1,9}$",
        description="version of the configured model repository to load; default: its highest "
        "(or the configured bundle, re-read)",
    )


class ErrorDetail(BaseModel):
    code: str = Field(description="the gRPC status name of the same error: INVALID_ARGUMENT, ...")
    message: str = Field(description="what was wrong, for a person to read")
    index: int = Field(-1, description="the offending text's index, or -1")


class ErrorBody(BaseModel):
    error: ErrorDetail = Field(description="why the request was not answered")


ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "missing or wrong bearer token (when the server has one)"},
    413: {"model": ErrorBody, "description": "request body larger than max_request_bytes"},
    422: {"model": ErrorBody, "description": "empty, blank or too long text, too many texts, bad JSON"},
    429: {"model": ErrorBody, "description": "queue full; retry after the Retry-After header's seconds"},
    503: {"model": ErrorBody, "description": "the server is shutting down"},
    504: {"model": ErrorBody, "description": "not scored within the server's request timeout"},
}


_JSON_ERROR_401 = {
    "description": ERRORS[401]["description"],
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
}


def text_score_model(score: CoreTextScore) -> TextScore:
    return TextScore(
        p_llm=score.p_llm,
        human_likeness=score.human_likeness,
        flagged=score.flagged,
        windows=[WindowScore(start=w.start, end=w.end, p_llm=w.p_llm) for w in score.windows or ()],
    )


def error_response(
    status: int, code: str, message: str, index: int = -1, headers: dict[str, str] | None = None
) -> JSONResponse:
    body = ErrorBody(error=ErrorDetail(code=code, message=message, index=index))
    return JSONResponse(body.model_dump(), status_code=status, headers=headers)


# -- ASGI middleware: body limit and request metrics -------------------------------------------------


class BodyLimit:
    """Answers 413 to a body over ``max_bytes`` before the app reads it (declared or streamed)."""

    def __init__(self, app: ASGIApp, max_bytes: int, metrics: ServerMetrics) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.metrics = metrics

    async def _refuse(self, send: Send, size: str) -> None:
        self.metrics.errors.labels("INVALID_ARGUMENT").inc()
        message = f"request body has {size} bytes; this server takes at most {self.max_bytes}"
        await error_response(413, "INVALID_ARGUMENT", message)({"type": "http"}, _no_receive, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(send, declared.decode())
            return
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if len(body) > self.max_bytes:
                await self._refuse(send, f"more than {self.max_bytes}")
                return
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()  # later reads wait for the client to disconnect

        await self.app(scope, replay, send)


async def _no_receive() -> Message:
    return {"type": "http.disconnect"}


class RequestMetrics:
    """Counts answered requests by path and status and times them (the scoring paths only)."""

    PATHS = frozenset({"/v1/score", "/v1/rank", "/v1/model", "/admin/reload"})

    def __init__(self, app: ASGIApp, metrics: ServerMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in self.PATHS:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def observe(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, observe)
        finally:
            self.metrics.requests.labels("http", scope["path"], str(status)).inc()
            self.metrics.latency.labels("http", scope["path"]).observe(time.perf_counter() - started)


async def until_disconnected(request: Request, work: Awaitable[T]) -> T:
    """Awaits ``work``, cancelling it if the client goes away first (its queued windows are dropped)."""
    task = asyncio.ensure_future(work)
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=DISCONNECT_POLL_S)
            if done:
                return task.result()
            if await request.is_disconnected():
                task.cancel()
                raise asyncio.CancelledError("client disconnected")
    finally:
        task.cancel()


# -- the app ---------------------------------------------------------------------------------------


NOT_BLANK = "[^" + "".join(f"\\u{ord(c):04x}" for c in BLANK_CHARACTERS) + "]"
"""A schema pattern for "has a character that is not blank", the core's own definition (check_text)."""


def _document_limits(schema: dict[str, Any], max_texts: int, max_chars: int) -> None:
    """Writes the core's request limits into the request schemas (minItems, maxItems, maxLength)."""
    for name in ("ScoreRequest", "RankRequest"):
        texts = schema["components"]["schemas"][name]["properties"]["texts"]
        texts.update(
            minItems=1,
            maxItems=max_texts,
            items={"type": "string", "minLength": 1, "maxLength": max_chars, "pattern": NOT_BLANK},
        )


def create_app(core: ScoringCore, metrics: ServerMetrics) -> FastAPI:
    """The FastAPI app over ``core``.

    With a token configured every route but ``/healthz`` and ``/readyz`` needs it (``/metrics`` too:
    Prometheus sends one with ``authorization:`` in its scrape config); ``/admin/reload`` exists only
    when ``config.admin`` is on.
    """
    config = core.config
    app = FastAPI(
        title="humanlike",
        version="1",
        summary="Scores texts for how human they read: p_llm, human_likeness, decisions at fixed FPRs.",
        description="Same fields and meanings as the gRPC service humanlike.v1.DetectorService "
        "(protos/humanlike/v1/humanlike.proto). Errors: {'error': {'code', 'message', 'index'}}.",
    )
    token = config.auth_token
    errors = {status: doc for status, doc in ERRORS.items() if status != 401 or token is not None}
    protected: list[Any] = []
    if token is not None:
        bearer = HTTPBearer(
            auto_error=False, description="the server's token: 'Authorization: Bearer <token>'"
        )

        def authorize(credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> None:  # noqa: B008
            given = f"Bearer {credentials.credentials}" if credentials else ""
            if not token_matches(given, token):
                raise Unauthenticated("missing or wrong bearer token")

        protected = [Depends(authorize)]

    documented: dict[int, dict[str, Any]] = {}

    def openapi() -> dict[str, Any]:
        max_chars = core.model.detector.manifest.max_length  # the served model's; a reload may change it
        if max_chars not in documented:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                summary=app.summary,
                description=app.description,
                routes=app.routes,
            )
            _document_limits(schema, config.max_texts_per_request, max_chars)
            documented.clear()
            documented[max_chars] = schema
        return documented[max_chars]

    app.openapi = openapi  # type: ignore[method-assign]

    @app.exception_handler(ServingError)
    async def serving_error(request: Request, e: ServingError) -> JSONResponse:
        metrics.errors.labels(e.code).inc()
        headers = {}
        if e.retry_after is not None:
            headers["Retry-After"] = str(math.ceil(e.retry_after))
        if isinstance(e, Unauthenticated):
            headers["WWW-Authenticate"] = "Bearer"
        return error_response(e.http_status, e.code, e.message, e.index, headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_body(request: Request, e: RequestValidationError) -> JSONResponse:
        metrics.errors.labels(InvalidRequest.code).inc()
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err.get('loc', ()))}: {err.get('msg', '')}" for err in e.errors()[:5]
        )
        index = next((p for err in e.errors() for p in err.get("loc", ())[2:3] if isinstance(p, int)), -1)
        return error_response(422, InvalidRequest.code, f"invalid request: {problems}", index)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, e: StarletteHTTPException) -> JSONResponse:
        # FastAPI answers a body it cannot decode (broken UTF-8, bad JSON) with 400; it is an invalid
        # request like any other, so it gets the 422 and body of one.
        if e.status_code == 400:
            metrics.errors.labels(InvalidRequest.code).inc()
            return error_response(
                422, InvalidRequest.code, f"request body is not valid UTF-8 JSON: {e.detail}"
            )
        code = {404: "NOT_FOUND", 405: "UNIMPLEMENTED"}.get(e.status_code, "UNKNOWN")
        return error_response(e.status_code, code, str(e.detail), headers=dict(e.headers or {}))

    @app.post("/v1/score", response_model=ScoreResponse, responses=errors, dependencies=protected)
    async def score(body: ScoreRequest, request: Request) -> ScoreResponse:
        """Scores texts; one score per text, in request order."""
        result = await until_disconnected(request, core.score(body.texts, windows=body.windows))
        return ScoreResponse(
            scores=[text_score_model(s) for s in result.scores],
            model_id=result.model_id,
        )

    @app.post("/v1/rank", response_model=RankResponse, responses=errors, dependencies=protected)
    async def rank(body: RankRequest, request: Request) -> RankResponse:
        """Scores texts and returns them most human-like first."""
        result = await until_disconnected(request, core.rank(body.texts))
        return RankResponse(ranked=[RankedText(**asdict(t)) for t in result.ranked], model_id=result.model_id)

    @app.get("/v1/model", response_model=ModelInfo, responses=errors, dependencies=protected)
    async def model() -> ModelInfo:
        """The model being served: manifest, limits and execution provider."""
        return ModelInfo.model_validate(asdict(core.model_info()))

    if config.admin:  # config validation guarantees a token then

        @app.post(
            "/admin/reload",
            response_model=ModelInfo,
            dependencies=protected,
            responses={
                **errors,
                404: {"model": ErrorBody, "description": "no such version in the model repository"},
                409: {
                    "model": ErrorBody,
                    "description": "the bundle was refused; the old model keeps serving",
                },
            },
        )
        async def reload(body: ReloadRequest | None = None) -> ModelInfo:
            """Re-reads the configured bundle, or loads a version of the configured model repository
            (default: its highest), and swaps it in once warm.

            The old model serves until then; a bundle that fails to load is refused (409) and the old
            model keeps serving. ``kill -HUP`` does the same with the default.
            """
            return ModelInfo.model_validate(asdict(await core.reload(body.version if body else None)))

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @app.get("/readyz", responses={503: {"description": "not ready: loading or draining"}})
    async def readyz() -> Response:
        """Readiness: a model is loaded and warm and the server is not draining."""
        if core.ready:
            return JSONResponse({"status": "ready", "model_id": core.model.model_id})
        return JSONResponse({"status": "not ready"}, status_code=503)

    @app.get(
        "/metrics",
        response_class=PlainTextResponse,
        dependencies=protected,
        responses={
            200: {
                "content": {"text/plain": {"schema": {"type": "string"}}},
                "description": "Prometheus text",
            },
            # Spelled out: a "model" here would be documented as the route's text/plain.
            **({401: _JSON_ERROR_401} if token is not None else {}),
        },
    )
    async def prometheus_metrics() -> Response:
        """Prometheus text format: requests, latencies, batch sizes, queue depth, texts, errors."""
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    app.add_middleware(RequestMetrics, metrics=metrics)
    app.add_middleware(BodyLimit, max_bytes=core.config.max_request_bytes, metrics=metrics)
    return app
