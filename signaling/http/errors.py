"""One JSON error shape for every 4xx/5xx: {"error": {"code", "message"}}."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

import structlog
from aiohttp import web

logger = structlog.get_logger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_CODES = {
    400: "bad_request",
    401: "unauthorized",
    402: "payment_required",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    411: "length_required",
    412: "precondition_failed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "unprocessable",
    428: "precondition_required",
    429: "too_many_requests",
    500: "internal_error",
    503: "unavailable",
}


class ApiError(web.HTTPException):
    """An HTTP error with a machine-readable code and a sentence for people."""

    def __init__(
        self,
        status: int,
        message: str,
        code: str | None = None,
        headers: dict[str, str] | None = None,
        details: dict[str, str] | None = None,
    ) -> None:
        self.status_code = status
        super().__init__(
            headers=headers,
            text=_body(status, message, code, details),
            content_type="application/json",
        )


def _body(
    status: int, message: str, code: str | None = None, details: dict[str, str] | None = None
) -> str:
    """The error object; ``details`` adds fields a client acts on (e.g. the current price)."""
    error = {"code": code or _CODES.get(status, "error"), "message": message, **(details or {})}
    return json.dumps({"error": error})


def _is_json(response: web.StreamResponse) -> bool:
    return response.content_type == "application/json"


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except ApiError:
        raise
    except web.HTTPException as exc:
        if exc.status < 400 or _is_json(exc):
            raise
        message = exc.reason if exc.text in (None, "", f"{exc.status}: {exc.reason}") else exc.text
        raise ApiError(exc.status, message or exc.reason, headers=_keep_headers(exc)) from None
    except Exception:
        logger.exception("http_unhandled_error", method=request.method, path=request.path)
        raise ApiError(500, "internal server error") from None
    return response


def _keep_headers(exc: web.HTTPException) -> dict[str, str]:
    keep = ("Allow", "Retry-After", "Location", "WWW-Authenticate")
    return {name: exc.headers[name] for name in keep if name in exc.headers}
