"""The HTTP front end (FastAPI): ``/v1/score``, ``/v1/rank``, ``/v1/model``, health, metrics, admin reload.

A thin router over :class:`humanlike.serving.core.ScoringCore`, with the same field names and meanings as the
``humanlike.v1`` protos (:mod:`humanlike.serving.http_models`). :func:`create_app` assembles three routers
(scoring, admin, operations), the error handlers that give every error one body shape, the OpenAPI
document, and the middleware (:mod:`humanlike.serving.http_middleware`).

The OpenAPI document says what the server does, no more: the bearer scheme and 401s only when a token is
configured, ``/admin/reload`` only when admin actions are on, the request limits (texts per request, a
text's length) as this server enforces them. The core validates requests for both protocols; the schema
documents its limits rather than re-implementing them, and the schemathesis test holds the two together.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable
from dataclasses import asdict
from typing import Any, TypeVar

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException

from humanlike.detector.runtime import BLANK_CHARACTERS
from humanlike.serving.auth import token_matches
from humanlike.serving.core import ScoringCore
from humanlike.serving.errors import InvalidRequest, ServingError, Unauthenticated
from humanlike.serving.http_middleware import BodyLimit, RequestMetrics
from humanlike.serving.http_models import (
    ERRORS,
    JSON_ERROR_401,
    ErrorBody,
    ModelInfo,
    RankedText,
    RankRequest,
    RankResponse,
    ReloadRequest,
    ScoreRequest,
    ScoreResponse,
    error_response,
    text_score_model,
)
from humanlike.serving.metrics import ServerMetrics

T = TypeVar("T")
DISCONNECT_POLL_S = 0.05
Responses = dict[int | str, dict[str, Any]]


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


# -- routers ---------------------------------------------------------------------------------------


def scoring_router(core: ScoringCore, responses: Responses, protected: list[Any]) -> APIRouter:
    """``/v1/score``, ``/v1/rank`` and ``/v1/model``."""
    router = APIRouter(dependencies=protected, responses=responses)

    @router.post("/v1/score", response_model=ScoreResponse)
    async def score(body: ScoreRequest, request: Request) -> ScoreResponse:
        """Scores texts; one score per text, in request order."""
        result = await until_disconnected(request, core.score(body.texts, windows=body.windows))
        return ScoreResponse(
            scores=[text_score_model(s) for s in result.scores],
            model_id=result.model_id,
        )

    @router.post("/v1/rank", response_model=RankResponse)
    async def rank(body: RankRequest, request: Request) -> RankResponse:
        """Scores texts and returns them most human-like first."""
        result = await until_disconnected(request, core.rank(body.texts))
        return RankResponse(ranked=[RankedText(**asdict(t)) for t in result.ranked], model_id=result.model_id)

    @router.get("/v1/model", response_model=ModelInfo)
    async def model() -> ModelInfo:
        """The model being served: manifest, limits and execution provider."""
        return ModelInfo.model_validate(asdict(core.model_info()))

    return router


def admin_router(core: ScoringCore, responses: Responses, protected: list[Any]) -> APIRouter:
    """``/admin/reload`` (mounted only when admin actions are on, which needs a token)."""
    router = APIRouter(dependencies=protected)

    @router.post(
        "/admin/reload",
        response_model=ModelInfo,
        responses={
            **responses,
            404: {"model": ErrorBody, "description": "no such version in the model repository"},
            409: {"model": ErrorBody, "description": "the bundle was refused; the old model keeps serving"},
        },
    )
    async def reload(body: ReloadRequest | None = None) -> ModelInfo:
        """Re-reads the configured bundle, or loads a version of the configured model repository
        (default: its highest), and swaps it in once warm.

        The old model serves until then; a bundle that fails to load is refused (409) and the old
        model keeps serving. ``kill -HUP`` does the same with the default.
        """
        return ModelInfo.model_validate(asdict(await core.reload(body.version if body else None)))

    return router


def operations_router(
    core: ScoringCore, metrics: ServerMetrics, protected: list[Any], *, has_token: bool
) -> APIRouter:
    """``/healthz`` and ``/readyz`` (never behind the token: probes carry none) and ``/metrics``."""
    router = APIRouter()

    @router.get("/healthz")
    async def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @router.get("/readyz", responses={503: {"description": "not ready: loading or draining"}})
    async def readyz() -> Response:
        """Readiness: a model is loaded and warm and the server is not draining."""
        if core.ready:
            return JSONResponse({"status": "ready", "model_id": core.model.model_id})
        return JSONResponse({"status": "not ready"}, status_code=503)

    @router.get(
        "/metrics",
        response_class=PlainTextResponse,
        dependencies=protected,
        responses={
            200: {
                "content": {"text/plain": {"schema": {"type": "string"}}},
                "description": "Prometheus text",
            },
            # Spelled out: a "model" here would be documented as the route's text/plain.
            **({401: JSON_ERROR_401} if has_token else {}),
        },
    )
    async def prometheus_metrics() -> Response:
        """Prometheus text format: requests, latencies, batch sizes, queue depth, texts, errors."""
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return router


# -- the app's parts -------------------------------------------------------------------------------


def bearer_dependencies(token: str | None) -> list[Any]:
    """The dependency that checks ``Authorization: Bearer <token>`` (none when there is no token)."""
    if token is None:
        return []
    bearer = HTTPBearer(auto_error=False, description="the server's token: 'Authorization: Bearer <token>'")

    def authorize(credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> None:  # noqa: B008
        given = f"Bearer {credentials.credentials}" if credentials else ""
        if not token_matches(given, token):
            raise Unauthenticated("missing or wrong bearer token")

    return [Depends(authorize)]


def add_error_handlers(app: FastAPI, metrics: ServerMetrics) -> None:
    """Every error, the core's, FastAPI's and Starlette's, answered with :class:`ErrorBody` and counted."""

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


def document_limits(app: FastAPI, core: ScoringCore) -> None:
    """Makes ``app``'s OpenAPI document state the served model's limits, rebuilt when a reload changes
    them."""
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
            _document_limits(schema, core.config.max_texts_per_request, max_chars)
            documented.clear()
            documented[max_chars] = schema
        return documented[max_chars]

    app.openapi = openapi  # type: ignore[method-assign]


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
    has_token = config.auth_token is not None
    responses: Responses = {status: doc for status, doc in ERRORS.items() if status != 401 or has_token}
    protected = bearer_dependencies(config.auth_token)
    app.include_router(scoring_router(core, responses, protected))
    if config.admin:  # config validation guarantees a token then
        app.include_router(admin_router(core, responses, protected))
    app.include_router(operations_router(core, metrics, protected, has_token=has_token))
    add_error_handlers(app, metrics)
    document_limits(app, core)
    app.add_middleware(RequestMetrics, metrics=metrics)
    app.add_middleware(BodyLimit, max_bytes=config.max_request_bytes, metrics=metrics)
    return app
