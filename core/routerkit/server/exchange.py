"""One record per chat-completion request, whoever answers it: the `request` log line and the count in
`routerkit_requests_total`, both with the status the client really got.

`RecordRequests`, the outermost middleware, opens an `Exchange` for every request to
`/v1/chat/completions` and keeps it in the ASGI scope. The chat endpoint fills it in and finishes it with
the status it judged (a stream that broke after its first chunk is a 502, although 200 went out). Any
answer the endpoint never gave (a 401 from the key guard, a 413 from the size limit, FastAPI's own 400,
a 500 for an unexpected exception) is finished here with the status that was sent. A client that went
away before its answer was complete is recorded as 499, as nginx logs it.
"""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass, field

from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from routerkit.server.logs import log_event
from routerkit.server.metrics import ServerMetrics

__all__ = ["CHAT_PATH", "CLIENT_CLOSED", "Exchange", "RecordRequests", "exchange_of", "request_id_of"]

CHAT_PATH = "/v1/chat/completions"
CLIENT_CLOSED = 499
"""The status recorded when the client disconnected before its answer was complete (nginx's 499)."""

_SCOPE_KEY = "routerkit.exchange"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")


@dataclass
class Exchange:
    """One request's log record and its count in `routerkit_requests_total`, written once."""

    metrics: ServerMetrics
    request_id: str
    fields: dict[str, object] = field(default_factory=dict)
    """Extra fields for the log record (route, router, models, timings, ...)."""
    started: float = field(default_factory=time.perf_counter)
    finished: bool = False

    def finish(self, status: int, **more: object) -> None:
        """Count and log the request with `status` and `more` fields; only the first call counts."""
        if self.finished:
            return
        self.finished = True
        self.fields.update(more)
        self.metrics.requests.inc(str(status))
        total_ms = round((time.perf_counter() - self.started) * 1000, 3)
        log_event("request", {"request_id": self.request_id, "status": status, "total_ms": total_ms, **self.fields})


def exchange_of(scope: Scope) -> Exchange | None:
    """The `Exchange` that `RecordRequests` opened for this request, if any."""
    exchange = scope.get(_SCOPE_KEY)
    return exchange if isinstance(exchange, Exchange) else None


def request_id_of(scope: Scope) -> str:
    """The request's id: its exchange's, else the client's `x-request-id` if valid, else a new one."""
    exchange = exchange_of(scope)
    if exchange is not None:
        return exchange.request_id
    given = dict(scope.get("headers", [])).get(b"x-request-id", b"").decode("latin-1")
    return given if _REQUEST_ID.match(given) else uuid.uuid4().hex


class RecordRequests:
    """ASGI middleware: an `Exchange` for every request to `CHAT_PATH`, finished once the answer is over."""

    def __init__(self, app: ASGIApp, metrics: ServerMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or _route_path(scope) != CHAT_PATH:
            await self.app(scope, receive, send)
            return
        exchange = Exchange(self.metrics, request_id_of(scope))
        scope[_SCOPE_KEY] = exchange
        watch = _Watch(receive, send)
        raised = True
        try:
            await self.app(scope, watch.receive, watch.send)
            raised = False
        except ClientDisconnect:
            watch.disconnected = True
            raise
        finally:
            exchange.finish(watch.outcome(raised))  # a no-op when the endpoint finished it


class _Watch:
    """Wraps `receive` and `send` to see the status sent, the end of the answer, and a client leaving."""

    def __init__(self, receive: Receive, send: Send) -> None:
        self._receive, self._send = receive, send
        self.status = 0
        self.complete = False
        self.disconnected = False

    def outcome(self, raised: bool) -> int:
        """The status to record: 499 if the client left first, 500 for an exception, else the one sent."""
        if self.disconnected or not (raised or self.complete):
            return CLIENT_CLOSED
        return 500 if raised else self.status

    async def receive(self) -> Message:
        message = await self._receive()
        if message["type"] == "http.disconnect" and not self.complete:
            self.disconnected = True
        return message

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = int(message["status"])
        elif message["type"] == "http.response.body" and not message.get("more_body", False):
            self.complete = True
        await self._send(message)


def _route_path(scope: Scope) -> str:
    """The path without the prefix the app is mounted under (as Starlette's routing sees it)."""
    path, root = str(scope["path"]), str(scope.get("root_path", ""))
    return path[len(root) :] if root and path.startswith(root) else path
