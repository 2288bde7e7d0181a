"""ASGI middleware that runs before any endpoint: client API keys and the request-size limit.

Both are plain ASGI (not FastAPI dependencies) so a refused request is answered before its body is read.
"""

from __future__ import annotations

import hmac
from collections.abc import Collection

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from routerkit.server.responses import openai_error

__all__ = ["ApiKeyGuard", "BodyLimit"]

_OPEN_PATHS = frozenset({"/health"})
"""Liveness probes must work without a key; everything else (including `/metrics`) needs one."""


class ApiKeyGuard:
    """Require `Authorization: Bearer <key>` with one of `keys` (compared in constant time)."""

    def __init__(self, app: ASGIApp, keys: Collection[str]) -> None:
        self.app = app
        self.keys = tuple(key.encode() for key in keys)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in _OPEN_PATHS or self._authorised(scope):
            await self.app(scope, receive, send)
            return
        response = openai_error(
            401,
            "Missing or invalid API key. Send `Authorization: Bearer <key>` with one of the keys configured "
            "for this server (`auth.api_keys_env`).",
            code="invalid_api_key",
            headers={"www-authenticate": "Bearer"},
        )
        await response(scope, receive, send)

    def _authorised(self, scope: Scope) -> bool:
        header = dict(scope["headers"]).get(b"authorization", b"")
        scheme, _, token = header.partition(b" ")
        if scheme.lower() != b"bearer":
            return False
        token = token.strip()
        # Compare against every key, so the time taken does not reveal which key nearly matched.
        return sum(hmac.compare_digest(token, key) for key in self.keys) > 0


class BodyLimit:
    """Refuse request bodies over `max_bytes` with HTTP 413, by `Content-Length` or by counting chunks."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        if length is not None:
            await self.app(scope, receive, send)
            return
        # No Content-Length (chunked upload): read up to the limit here, then replay the body.
        messages, size = [], 0
        while True:
            message = await receive()
            messages.append(message)
            size += len(message.get("body", b""))
            if size > self.max_bytes:
                await self._refuse(scope, receive, send)
                return
            if message["type"] != "http.request" or not message.get("more_body", False):
                break
        await self.app(scope, _replay(messages, receive), send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = openai_error(
            413,
            f"The request body is larger than this server's limit of {self.max_bytes} bytes "
            "(`limits.max_body_bytes`). Send a smaller request.",
            code="request_too_large",
        )
        await response(scope, receive, send)


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replayed() -> Message:
        return pending.pop(0) if pending else await receive()

    return replayed
