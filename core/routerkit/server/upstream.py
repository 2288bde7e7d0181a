"""Calls to the upstream OpenAI-compatible endpoints: retries on one model, then fallback to the next.

What counts as a failure (fallen back from): a timeout, a connection error, HTTP 401, 403, 404, 408,
409, 429 or 5xx, a non-JSON answer, or a stream that ends before its first byte. Only failures that
cannot have started billed work are retried on the same model first (up to its `max_retries`): no
connection (a connect error, a connect or pool timeout) and HTTP 502 or 503 (a gateway or an
overloaded server that refused the request). Any other failure may have cost the upstream a whole
generation (a read timeout, HTTP 500) or will repeat at once (HTTP 429), so it moves on to the next
model. Other 4xx answers (400, 413, 415, 422) are the request's fault, the same on every model, so
they go back to the client as they are. A stream is only retried or fallen back from before its first
byte reached the client; a failure after that ends the stream with an error event (see
`routerkit.server.chat`).
"""

from __future__ import annotations

import email.utils
import itertools
import json
import logging
import math
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import anyio
import httpx

from routerkit._env import named_variable
from routerkit.errors import ConfigError
from routerkit.server.config import ModelConfig
from routerkit.server.logs import log_event
from routerkit.server.metrics import ServerMetrics
from routerkit.server.usage import TokenUsage, usage_from_json

__all__ = ["AllUpstreamsFailed", "Answer", "Failure", "StreamAnswer", "Upstreams", "without_credentials"]

_PASS_THROUGH = frozenset({400, 413, 415, 422})
_RETRY_SAME_MODEL = frozenset({502, 503})
_T = TypeVar("_T")


@dataclass(frozen=True)
class Failure:
    """One failed attempt on one upstream model."""

    model: str
    """The `models` key."""
    attempt: int
    reason: str
    """Short, for metrics: `timeout`, `connection`, `http_<status>`, `invalid_response`, `empty_stream`."""
    retry_after: float | None
    """Seconds the upstream asked to wait (its `Retry-After` header), if it said."""
    detail: str
    """For the server log only: what happened, with the upstream's URL (without credentials) and an
    excerpt of its answer. Never sent to the client."""

    @property
    def timed_out(self) -> bool:
        """Whether the upstream did not answer in time."""
        return self.reason == "timeout"

    @property
    def summary(self) -> str:
        """The reason in words for the client: `timeout`, `connection error`, `HTTP 500`, ..."""
        if self.reason.startswith("http_"):
            return f"HTTP {self.reason.removeprefix('http_')}"
        return _SUMMARIES.get(self.reason, self.reason.replace("_", " "))


_SUMMARIES = {"connection": "connection error", "invalid_response": "invalid response", "empty_stream": "empty stream"}


class AllUpstreamsFailed(Exception):
    """Every model (with its retries) failed; `failures` lists each attempt, in order.

    The message is meant for the client: it names the models tried and a short reason for each, never
    an upstream's URL or answer (those are in the server log, with the request id).
    """

    def __init__(self, failures: list[Failure]) -> None:
        self.failures = failures
        by_model: dict[str, list[Failure]] = {}
        for failure in failures:
            by_model.setdefault(failure.model, []).append(failure)
        summary = "; ".join(_model_summary(model, tries) for model, tries in by_model.items())
        super().__init__(
            f"Every upstream model failed: {summary}. The server log has the details under this request's "
            "`x-request-id`."
        )


def _model_summary(model: str, tries: list[Failure]) -> str:
    reasons = " then ".join(dict.fromkeys(f.summary for f in tries))
    return f"{model!r}: {reasons}" + (f" ({len(tries)} attempts)" if len(tries) > 1 else "")


class _AttemptFailed(Exception):
    def __init__(self, reason: str, detail: str, *, retry: bool = False, retry_after: float | None = None) -> None:
        detail = without_credentials(detail)  # it is logged: the URL's `user:password@` must not be
        super().__init__(detail)
        self.reason, self.detail = reason, detail
        self.retry = retry
        """Whether trying the same model again cannot repeat billed work."""
        self.retry_after = retry_after


@dataclass
class Answer:
    """A whole (non-streaming) upstream answer, relayed byte for byte."""

    model: str
    status: int
    content: bytes
    content_type: str
    usage: TokenUsage | None
    failures: list[Failure] = field(default_factory=list)


@dataclass
class StreamAnswer:
    """An upstream stream whose first chunk has arrived; `chunks` yields the rest."""

    model: str
    status: int
    content_type: str
    first: bytes
    chunks: AsyncIterator[bytes]
    response: httpx.Response
    failures: list[Failure] = field(default_factory=list)

    async def aclose(self) -> None:
        """Close the upstream connection, even while the caller is being cancelled."""
        with anyio.CancelScope(shield=True):
            await self.response.aclose()


class Upstreams:
    """The configured upstream models and the HTTP client that calls them.

    Args:
        models: the `models` table of the server config.
        metrics: where attempts, latencies and errors are counted.
        clients: the `httpx.AsyncClient`s requests are spread over (round robin), given later by the
            app's lifespan (`CLIENT_SHARDS` of them) or by a test (one).

    Raises:
        ConfigError: if a model's `api_key_env` names a variable that is unset or empty.
    """

    def __init__(self, models: Mapping[str, ModelConfig], metrics: ServerMetrics) -> None:
        self.models = dict(models)
        self.metrics = metrics
        self.clients: list[httpx.AsyncClient] = []
        self._turn = 0
        self._keys = {name: _api_key(name, spec) for name, spec in self.models.items()}

    async def complete(self, order: list[str], body: dict[str, Any], request_id: str) -> Answer:
        """Send a non-streaming request to the first model of `order` that answers.

        Raises:
            AllUpstreamsFailed: when every model failed on every attempt.
        """
        return await self._first_success(order, lambda name: self._complete_once(name, body, request_id), request_id)

    async def open_stream(self, order: list[str], body: dict[str, Any], request_id: str) -> StreamAnswer | Answer:
        """Open a streaming request on the first model of `order` that sends a first chunk.

        Returns an `Answer` instead when the upstream refused the request itself (e.g. HTTP 400).

        Raises:
            AllUpstreamsFailed: when every model failed on every attempt.
        """
        return await self._first_success(order, lambda name: self._stream_once(name, body, request_id), request_id)

    def spec(self, name: str) -> ModelConfig:
        """The configuration of model `name`."""
        return self.models[name]

    async def _first_success(self, order: list[str], attempt: Callable[[str], Awaitable[_T]], request_id: str) -> _T:
        failures: list[Failure] = []
        for name in order:
            for number in itertools.count(1):
                started = time.perf_counter()
                try:
                    result = await attempt(name)
                except _AttemptFailed as exc:
                    failures.append(self._record_failure(name, number, exc, request_id))
                    if exc.retry and number <= self.models[name].max_retries:
                        continue
                    break  # on to the next model
                self.metrics.upstream_latency.observe(time.perf_counter() - started, name)
                if isinstance(result, Answer | StreamAnswer):
                    result.failures = failures
                return result
        raise AllUpstreamsFailed(failures)

    def _record_failure(self, name: str, number: int, exc: _AttemptFailed, request_id: str) -> Failure:
        failure = Failure(name, number, exc.reason, exc.retry_after, exc.detail)
        self.metrics.upstream_errors.inc(name, exc.reason)
        fields = {"request_id": request_id, "model": name, "attempt": number, "reason": exc.reason}
        log_event("upstream_failure", {**fields, "detail": exc.detail}, level=logging.WARNING)
        return failure

    async def _complete_once(self, name: str, body: dict[str, Any], request_id: str) -> Answer:
        spec = self.models[name]
        client = self._client()  # once per attempt, so the attempts go round every pool
        request = self._request(client, name, body, request_id)
        try:
            with anyio.fail_after(spec.timeout_s):  # a whole-call deadline: httpx's read timeout is per read
                response = await client.send(request)
        except (TimeoutError, httpx.HTTPError) as exc:
            raise _transport_failure(spec, exc, "did not answer") from exc
        _check_status(spec, response, response.content)
        usage = _usage(spec, response.content) if response.is_success else None
        return Answer(name, response.status_code, response.content, _content_type(response), usage)

    async def _stream_once(self, name: str, body: dict[str, Any], request_id: str) -> StreamAnswer | Answer:
        spec = self.models[name]
        client = self._client()
        request = self._request(client, name, body, request_id)
        response: httpx.Response | None = None
        try:
            with anyio.fail_after(spec.timeout_s):
                response = await client.send(request, stream=True)
                if not response.is_success:
                    content = await response.aread()
                    await response.aclose()
                    _check_status(spec, response, content)
                    return Answer(name, response.status_code, content, _content_type(response), None)
                chunks = response.aiter_bytes()
                first = await _first_chunk(spec, chunks)
        except _AttemptFailed:
            await _close(response)
            raise
        except (TimeoutError, httpx.HTTPError) as exc:
            await _close(response)
            raise _transport_failure(spec, exc, "sent no data") from exc
        return StreamAnswer(name, response.status_code, _content_type(response), first, chunks, response)

    def _request(self, client: httpx.AsyncClient, name: str, body: dict[str, Any], request_id: str) -> httpx.Request:
        spec = self.models[name]
        headers = {"x-request-id": request_id}
        if self._keys[name] is not None:
            headers["authorization"] = f"Bearer {self._keys[name]}"
        # Only `model` changes; every other field (tools, response_format, ...) goes upstream untouched.
        payload = {**body, "model": spec.model}
        return client.build_request(
            "POST",
            spec.base_url.rstrip("/") + "/chat/completions",
            content=json.dumps(payload, separators=(",", ":")).encode(),
            headers={**headers, "content-type": "application/json"},
            timeout=httpx.Timeout(spec.timeout_s, connect=spec.connect_timeout_s),
        )

    def _client(self) -> httpx.AsyncClient:
        if not self.clients:  # the app's lifespan did not run (e.g. an in-process ASGI transport)
            self.clients = [httpx.AsyncClient()]
        self._turn = (self._turn + 1) % len(self.clients)
        return self.clients[self._turn]


def _api_key(name: str, spec: ModelConfig) -> str | None:
    if spec.api_key_env is None:
        return None
    key = named_variable(spec.api_key_env)
    if key is None:
        raise ConfigError(
            f"`models.{name}.api_key_env` names the environment variable {spec.api_key_env!r}, which is unset "
            "or empty. Set it to the upstream's API key, or remove `api_key_env`."
        )
    return key


def _where(spec: ModelConfig) -> str:
    return f"{spec.model!r} at {spec.base_url}"


_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/?#@\s]*@")


def without_credentials(text: str) -> str:
    """`text` with the `user:password@` part of every URL in it removed (for logs)."""
    return _USERINFO.sub(r"\1", text)


def _transport_failure(spec: ModelConfig, exc: Exception, waited: str) -> _AttemptFailed:
    """The failure for an exception from sending: retried on the same model only if no connection was had."""
    what = f"{_where(spec)}: {type(exc).__name__}: {exc}"
    if isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout):  # the request never left
        return _AttemptFailed("timeout", f"{what} (no connection in time)", retry=True)
    if isinstance(exc, TimeoutError | httpx.TimeoutException):  # it may be generating: do not ask again
        return _AttemptFailed("timeout", f"{_where(spec)} {waited} within {spec.timeout_s:g} s")
    return _AttemptFailed("connection", what, retry=isinstance(exc, httpx.ConnectError))


def _check_status(spec: ModelConfig, response: httpx.Response, content: bytes) -> None:
    status = response.status_code
    if 200 <= status < 300 or status in _PASS_THROUGH:
        return
    excerpt = content[:200].decode("utf-8", "replace")
    raise _AttemptFailed(
        f"http_{status}",
        f"{_where(spec)} answered HTTP {status}: {excerpt}",
        retry=status in _RETRY_SAME_MODEL,
        retry_after=_retry_after(response.headers.get("retry-after")),
    )


def _retry_after(value: str | None) -> float | None:
    """Seconds from a `Retry-After` header: a number of seconds, or an HTTP date."""
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = email.utils.parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError):
            return None
    return max(seconds, 0.0) if math.isfinite(seconds) else None


def _usage(spec: ModelConfig, content: bytes) -> TokenUsage | None:
    try:
        payload = json.loads(content)
    except (ValueError, RecursionError) as exc:  # RecursionError: JSON nested too deep to parse
        problem = "is not JSON" if isinstance(exc, ValueError) else "is JSON nested too deep to read"
        raise _AttemptFailed("invalid_response", f"{_where(spec)} answered with a body that {problem}") from exc
    if not isinstance(payload, dict):
        raise _AttemptFailed("invalid_response", f"{_where(spec)} answered with JSON that is not an object")
    return usage_from_json(payload)


async def _first_chunk(spec: ModelConfig, chunks: AsyncIterator[bytes]) -> bytes:
    async for chunk in chunks:
        if chunk:
            return chunk
    raise _AttemptFailed("empty_stream", f"{_where(spec)} ended the stream before sending any data")


async def _close(response: httpx.Response | None) -> None:
    if response is not None:
        with anyio.CancelScope(shield=True):
            await response.aclose()


def _content_type(response: httpx.Response) -> str:
    return str(response.headers.get("content-type", "application/json"))
