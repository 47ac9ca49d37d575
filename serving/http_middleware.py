"""ASGI middleware of the HTTP front end: the request body limit and the request metrics.

Plain ASGI rather than FastAPI middleware: the body limit must answer before the app reads a body, and
both wrap every route, the error handlers' answers included.
"""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from humanlike.serving.http_models import error_response
from humanlike.serving.metrics import ServerMetrics


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
