"""OpenAI-style error bodies: `{"error": {"message", "type", "param", "code"}}`."""

from __future__ import annotations

from collections.abc import Mapping

from starlette.responses import JSONResponse

__all__ = ["error_body", "openai_error"]

_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    404: "invalid_request_error",
    429: "rate_limit_error",
    500: "server_error",
}
"""OpenAI's error `type` per status; any other 4xx is an `invalid_request_error`, any other 5xx (502, 504:
the upstreams failed) an `upstream_error`."""


def error_body(message: str, *, type_: str, code: str | None = None, param: str | None = None) -> dict[str, object]:
    """The JSON body OpenAI's API and SDKs use for errors."""
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


def openai_error(
    status: int,
    message: str,
    *,
    code: str | None = None,
    param: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """An error response with OpenAI's body shape; the `type` follows from the status."""
    type_ = _TYPES.get(status, "invalid_request_error" if status < 500 else "upstream_error")
    return JSONResponse(error_body(message, type_=type_, code=code, param=param), status, headers=headers)
