"""The errors a request can meet, each with its gRPC status code and HTTP status, in one table."""

from __future__ import annotations


class ServingError(Exception):
    """A request the server answers with an error rather than scores.

    Attributes:
        code: the gRPC status code name; also the ``code`` in HTTP error bodies.
        http_status: the HTTP status code.
        index: the offending text's position in the request, or -1.
        retry_after: seconds after which a retry may succeed (overload), else None.
    """

    code = "INTERNAL"
    http_status = 500

    def __init__(self, message: str, *, index: int = -1, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.index = index
        self.retry_after = retry_after


class InvalidRequest(ServingError):
    """Empty, blank or too long text, too many texts, broken UTF-8, a malformed body."""

    code = "INVALID_ARGUMENT"
    http_status = 422


class RequestTooLarge(ServingError):
    """The request is larger than ``max_request_bytes``."""

    code = "INVALID_ARGUMENT"
    http_status = 413


class Overloaded(ServingError):
    """The queue is full; the client should back off for ``retry_after`` seconds."""

    code = "RESOURCE_EXHAUSTED"
    http_status = 429


class Unauthenticated(ServingError):
    code = "UNAUTHENTICATED"
    http_status = 401


class DeadlineExceeded(ServingError):
    code = "DEADLINE_EXCEEDED"
    http_status = 504


class ShuttingDown(ServingError):
    """The server is draining (SIGTERM) and takes no new work."""

    code = "UNAVAILABLE"
    http_status = 503


class ScoringProcessDied(ServingError):
    """The scoring process running the request's batch died (killed, out of memory); it has been
    replaced, so a retry is expected to succeed."""

    code = "UNAVAILABLE"
    http_status = 503


class NotFound(ServingError):
    """A reload asked for a model version the repository does not have."""

    code = "NOT_FOUND"
    http_status = 404


class ReloadRefused(ServingError):
    """A new bundle could not be loaded; the old model keeps serving."""

    code = "FAILED_PRECONDITION"
    http_status = 409
