"""`POST /v1/chat/completions`: select a router, route off the event loop, relay the upstream's answer."""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import anyio
import httpx
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from routerkit.errors import ConfigError, RoutingError, UnknownNameError
from routerkit.routers.decision import Decision
from routerkit.server.exchange import CLIENT_CLOSED, Exchange
from routerkit.server.logs import log_event
from routerkit.server.metrics import ServerMetrics
from routerkit.server.responses import error_body, openai_error
from routerkit.server.selection import RouteTable, Selection, score_of
from routerkit.server.upstream import AllUpstreamsFailed, Answer, StreamAnswer, Upstreams, without_credentials
from routerkit.server.usage import SseUsageTap, TokenUsage

__all__ = ["DEFAULT_RETRY_AFTER_S", "MAX_LOGGED_ROUTE", "ChatCompletionRequest", "ChatService"]

DEFAULT_RETRY_AFTER_S = 5
"""The `Retry-After` of a 429 when no rate-limited upstream said how long to wait."""
MAX_LOGGED_ROUTE = 200
"""Characters of the request's `model` kept in the log's `route` (longer ones are cut, marked `...`)."""


class ChatCompletionRequest(BaseModel):
    """An OpenAI chat-completion request; only `model` and `messages` are interpreted.

    Every other field (tools, tool_choice, response_format, stream, ...) is allowed as it is and sent
    upstream untouched, so nested tool or JSON-schema definitions never fail validation here.
    """

    model_config = ConfigDict(extra="allow")

    model: str
    """A named route, a router name, or `router-<router>-<threshold>` (see `GET /v1/models`)."""
    messages: list[dict[str, Any]] = Field(min_length=1)
    """OpenAI-style chat messages; the router scores the last user turn."""


@dataclass
class _Routed:
    """A request after routing: the decision and the upstream models to try, in order."""

    selection: Selection
    decision: Decision
    order: list[str]

    def headers(self, model: str) -> dict[str, str]:
        """The decision headers; `model` is the `models` key that answered (or was routed to)."""
        headers = {
            "x-routerkit-model": model,
            "x-routerkit-router": self.selection.router_name,
            "x-routerkit-score": f"{score_of(self.decision):.6f}",
        }
        if model != self.order[0]:
            headers["x-routerkit-routed-model"] = self.order[0]
        return headers


class ChatService:
    """Handles chat completions for one app: route table, upstreams and metrics."""

    def __init__(self, table: RouteTable, upstreams: Upstreams, metrics: ServerMetrics) -> None:
        self.table, self.upstreams, self.metrics = table, upstreams, metrics

    async def handle(
        self, request: ChatCompletionRequest, exchange: Exchange, is_disconnected: Callable[[], Awaitable[bool]]
    ) -> Response:
        """Answer one request (the body as validated; extra fields are passed through).

        `exchange` is finished with the answer's status, or 499 when `is_disconnected()` says the client
        left while the upstream was answering.
        """
        body = request.model_dump(exclude_unset=True)
        stream = body.get("stream") is True
        route = _clip(request.model, MAX_LOGGED_ROUTE)  # the client's string: keep log lines bounded
        exchange.fields.update(route=route, stream=stream)
        routed = await self._route(request, exchange)
        response = routed if isinstance(routed, Response) else await self._answer(routed, body, stream, exchange)
        if not isinstance(response, StreamingResponse):  # a stream records itself when it ends
            exchange.finish(CLIENT_CLOSED if await is_disconnected() else response.status_code)
        return response

    async def _answer(self, routed: _Routed, body: dict[str, Any], stream: bool, exchange: Exchange) -> Response:
        base = {"x-request-id": exchange.request_id}
        try:
            if stream:
                return await self._stream(routed, body, exchange, base)
            return await self._complete(routed, body, exchange, base)
        except AllUpstreamsFailed as exc:
            exchange.fields.update(failures=len(exc.failures))
            return _all_failed(exc, {**base, **routed.headers(routed.order[0])})

    async def _route(self, request: ChatCompletionRequest, exchange: Exchange) -> _Routed | Response:
        headers = {"x-request-id": exchange.request_id}
        try:
            selection = self.table.resolve(request.model)
        except UnknownNameError as exc:
            return openai_error(404, str(exc), code="model_not_found", param="model", headers=headers)
        except ConfigError as exc:
            return openai_error(400, str(exc), code="invalid_model", param="model", headers=headers)
        started = time.perf_counter()
        try:
            # `aroute` scores in a worker thread: a slow router never blocks other requests.
            decision = await selection.router.aroute(request.messages, selection.policy)
        except ConfigError as exc:
            return openai_error(400, str(exc), code="invalid_messages", param="messages", headers=headers)
        except RoutingError as exc:
            return openai_error(500, f"Routing failed: {exc}", code="routing_error", headers=headers)
        elapsed = time.perf_counter() - started
        order = self.table.upstreams(selection.router_name, decision)
        self.metrics.routing_latency.observe(elapsed, selection.router_name)
        self.metrics.decisions.inc(selection.router_name, order[0])
        exchange.fields.update(
            router=selection.router_name, routed_model=order[0], score=round(score_of(decision), 6),
            routing_ms=round(elapsed * 1000, 3),
        )  # fmt: skip
        return _Routed(selection, decision, order)

    async def _complete(
        self, routed: _Routed, body: dict[str, Any], exchange: Exchange, base: dict[str, str]
    ) -> Response:
        started = time.perf_counter()
        answer = await self.upstreams.complete(routed.order, body, exchange.request_id)
        self._account(answer.model, answer.usage, routed.order[0])
        exchange.fields.update(self._answer_fields(answer, started))
        headers = {**base, **routed.headers(answer.model)}
        return Response(answer.content, answer.status, headers=headers, media_type=answer.content_type)

    async def _stream(
        self, routed: _Routed, body: dict[str, Any], exchange: Exchange, base: dict[str, str]
    ) -> Response:
        started = time.perf_counter()
        opened = await self.upstreams.open_stream(routed.order, body, exchange.request_id)
        headers = {**base, **routed.headers(opened.model)}
        exchange.fields.update(self._answer_fields(opened, started))
        if isinstance(opened, Answer):  # the upstream refused the request itself: relay its error as is
            return Response(opened.content, opened.status, headers=headers, media_type=opened.content_type)
        relay = _Relay(self, opened, routed.order[0], exchange)
        return _RelayResponse(relay, headers=headers)

    def _account(self, model: str, usage: TokenUsage | None, routed_model: str) -> None:
        if model != routed_model:
            self.metrics.fallbacks.inc(model)
        if usage is None:
            return
        self.metrics.tokens.inc(model, "prompt", amount=usage.prompt_tokens)
        self.metrics.tokens.inc(model, "completion", amount=usage.completion_tokens)
        cost = usage.cost_usd(self.upstreams.spec(model).price)
        if cost is not None:
            self.metrics.cost.inc(model, amount=cost)

    @staticmethod
    def _answer_fields(answer: Answer | StreamAnswer, started: float) -> dict[str, object]:
        return {"model": answer.model, "upstream_ms": _ms(started), "failures": len(answer.failures)}


def _all_failed(exc: AllUpstreamsFailed, headers: dict[str, str]) -> Response:
    """429 when every model's last answer was HTTP 429, else 504 when every attempt timed out, else 502."""
    last = {f.model: f for f in exc.failures}  # each model's final attempt
    if all(f.reason == "http_429" for f in last.values()):
        waits = [f.retry_after for f in last.values() if f.retry_after is not None]
        wait = str(math.ceil(max(waits)) if waits else DEFAULT_RETRY_AFTER_S)
        return openai_error(429, str(exc), code="rate_limit_exceeded", headers={**headers, "retry-after": wait})
    timed_out = all(f.timed_out for f in exc.failures)
    status, code = (504, "upstream_timeout") if timed_out else (502, "upstream_error")
    # Every fallback has been tried: an SDK retrying would only repeat the (possibly billed) attempts.
    return openai_error(status, str(exc), code=code, headers={**headers, "x-should-retry": "false"})


class _Relay:
    """Relays one upstream stream; `close` ends it and records the request, however the stream ended."""

    def __init__(self, service: ChatService, opened: StreamAnswer, routed_model: str, exchange: Exchange) -> None:
        self.service, self.opened, self.routed_model, self.exchange = service, opened, routed_model, exchange
        self.tap = SseUsageTap()
        self.status = opened.status
        self.ended = False
        """Whether the last byte was handed on; if not, the client left first (499)."""
        self.chunks = self._chunks()

    async def _chunks(self) -> AsyncGenerator[bytes, None]:
        """The upstream's bytes as they arrive; a failure now ends the stream with an error event."""
        tail = b""
        try:
            async for chunk in _chain(self.opened.first, self.opened.chunks):
                self.tap.feed(chunk)
                tail = (tail + chunk)[-2:]
                yield chunk
        except httpx.HTTPError as exc:
            # Bytes already reached the client, so falling back would splice two answers: end with an error.
            self.status = 502
            yield (b"" if tail == b"\n\n" else b"\n\n") + self._error_event(exc)
        self.ended = True

    def _error_event(self, exc: httpx.HTTPError) -> bytes:
        model = self.opened.model
        reason = "timeout" if isinstance(exc, httpx.TimeoutException) else "stream_broken"
        self.service.metrics.upstream_errors.inc(model, reason)
        fields = {"request_id": self.exchange.request_id, "model": model, "reason": reason}
        detail = without_credentials(f"{type(exc).__name__}: {exc}")
        log_event("upstream_failure", {**fields, "detail": detail, "mid_stream": True}, level=logging.WARNING)
        short = "timeout" if reason == "timeout" else "connection error"  # the details are in the log only
        message = f"The upstream {model!r} failed mid-stream ({short})."
        event = error_body(message, type_="upstream_error", code=f"upstream_{reason}")
        return b"data: " + json.dumps(event).encode() + b"\n\n"

    async def close(self) -> None:
        """Close the upstream, count its usage, and record the request (499 if the client left first)."""
        with anyio.CancelScope(shield=True):
            await self.chunks.aclose()
            await self.opened.aclose()
        self.service._account(self.opened.model, self.tap.usage, self.routed_model)
        self.exchange.finish(self.status if self.ended else CLIENT_CLOSED)


class _RelayResponse(StreamingResponse):
    """A `StreamingResponse` that closes its `_Relay` when the response ends: done, failed or abandoned.

    On a client disconnect Starlette stops iterating without closing the iterator, which may not even
    have started; closing it here releases the upstream connection and records the request at once.
    """

    def __init__(self, relay: _Relay, headers: dict[str, str]) -> None:
        super().__init__(relay.chunks, relay.status, headers=headers, media_type=relay.opened.content_type)
        self.relay = relay

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self.relay.close()


async def _chain(first: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    yield first
    async for chunk in rest:
        yield chunk


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)
