"""The HTTP API's wire models, field for field the ``humanlike.v1`` protos, and its one error body.

``{"error": {"code", "message", "index"}}``, where ``code`` is the gRPC status name the same error has
over gRPC. The descriptions here are the OpenAPI document's.
"""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from humanlike.detector.runtime import TextScore as CoreTextScore


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


JSON_ERROR_401 = {
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
