"""`OpenAIClient`: a `ModelClient` for any OpenAI-compatible chat-completions endpoint, on httpx.

Retries with exponential backoff (`backoff_s` · 2^k seconds before retry k + 1) on timeouts, connection
errors, HTTP 429 and 5xx; any other 4xx is the request's fault and raises at once. A stream is retried
only until its response headers arrive; a failure after that raises `ModelCallError` mid-stream.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Generator
from types import TracebackType
from typing import Any

import httpx

from routerkit.clients._checks import auth_headers, check_arguments, check_prices
from routerkit.clients._streams import AsyncTextStream, TextStream
from routerkit.clients._wire import (
    StreamState,
    cost_usd,
    error_detail,
    logprobs_from,
    parse_completion,
    request_body,
    retryable_status,
)
from routerkit.clients.base import ChatMessages, Completion, Usage
from routerkit.errors import ModelCallError

__all__ = ["AsyncTextStream", "OpenAIClient", "TextStream"]


class _Retryable(Exception):
    """One attempt failed in a way another attempt may not."""


class OpenAIClient:
    """Calls one model of an OpenAI-compatible API (`POST {base_url}/chat/completions`).

    Example::

        client = OpenAIClient("gpt-4o-mini", base_url="https://api.openai.com/v1", api_key_env="OPENAI_API_KEY",
                              input_usd_per_mtok=0.15, output_usd_per_mtok=0.6)
        print(client.complete([{"role": "user", "content": "Hi"}], temperature=0).text)

    Options given to `complete` and the other calls (`temperature`, `max_tokens`, `tools`, ...) go into the
    request body as they are. `stream` and `astream` return a `TextStream` / `AsyncTextStream`, whose
    `completion` (text, usage, cost) is set once the stream has ended: streams ask for
    `stream_options.include_usage`. HTTP connection pools are created on first use; close them with
    `close()` / `aclose()`, or use the client as a (async) context manager.
    """

    def __init__(
        self,
        name: str,
        *,
        base_url: str,
        model: str | None = None,
        api_key: str | None = None,
        api_key_env: str | None = None,
        timeout_s: float = 60.0,
        connect_timeout_s: float = 5.0,
        max_retries: int = 2,
        backoff_s: float = 0.1,
        input_usd_per_mtok: float | None = None,
        output_usd_per_mtok: float | None = None,
        http_client: httpx.Client | None = None,
        async_http_client: httpx.AsyncClient | None = None,
        sleep: Callable[[float], object] = time.sleep,
        async_sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        """Describe the model; nothing is sent until the first call.

        Args:
            name: The model's name as routers and prices know it; `Completion.model` carries it.
            base_url: The API root, e.g. `"https://api.openai.com/v1"` or `"http://localhost:8000/v1"`.
            model: The model id sent upstream; defaults to `name`.
            api_key: Sent as `Authorization: Bearer <api_key>`.
            api_key_env: The environment variable holding the key, read now (instead of `api_key`).
            timeout_s: Seconds to wait for each read (and write) of a call.
            connect_timeout_s: Seconds to wait for a connection.
            max_retries: Retries after a retryable failure (so `max_retries + 1` attempts at most).
            backoff_s: The wait before the first retry; it doubles for each further retry.
            input_usd_per_mtok: USD per million input tokens (with `output_usd_per_mtok`, gives `cost_usd`).
            output_usd_per_mtok: USD per million output tokens.
            http_client: An `httpx.Client` to send sync calls with; the caller keeps ownership (and closes it).
            async_http_client: An `httpx.AsyncClient` for async calls; the caller keeps ownership.
            sleep: Waits between sync retries (tests pass a no-op).
            async_sleep: Waits between async retries.

        Raises:
            ConfigError: if a value is out of range, both `api_key` and `api_key_env` are given, or the
                variable `api_key_env` names is not set.
        """
        check_arguments(name, base_url, timeout_s, connect_timeout_s, max_retries, backoff_s)
        check_prices(input_usd_per_mtok, output_usd_per_mtok)
        self.name = name
        self.model = model or name
        self.base_url = base_url.rstrip("/")
        self.url = f"{self.base_url}/chat/completions"
        self.max_retries, self.backoff_s = max_retries, backoff_s
        self.input_usd_per_mtok, self.output_usd_per_mtok = input_usd_per_mtok, output_usd_per_mtok
        self._headers = auth_headers(api_key, api_key_env)
        self._timeout = httpx.Timeout(timeout_s, connect=connect_timeout_s)
        self._sleep, self._async_sleep = sleep, async_sleep
        self._client, self._owns_client = http_client, http_client is None
        self._async_client, self._owns_async_client = async_http_client, async_http_client is None

    def __repr__(self) -> str:
        """Name, URL and model; never the API key."""
        return f"OpenAIClient({self.name!r}, base_url={self.base_url!r}, model={self.model!r})"

    def complete(self, messages: ChatMessages, **options: object) -> Completion:
        """Answer `messages` in one piece.

        Raises:
            ModelCallError: if the upstream refused the request (4xx other than 429), or every attempt failed.
            ConfigError: if `options` holds `model`, `messages` or `stream`.
        """
        request = self._request(request_body(self.model, messages, options, stream=False))
        response = self._send(request, stream=False)
        return self._completion(response.content)

    async def acomplete(self, messages: ChatMessages, **options: object) -> Completion:
        """Async twin of `complete`."""
        request = self._request(request_body(self.model, messages, options, stream=False), use_async=True)
        response = await self._asend(request, stream=False)
        return self._completion(response.content)

    def stream(self, messages: ChatMessages, **options: object) -> TextStream:
        """Answer `messages` as text chunks; the request is sent when iteration starts.

        Raises:
            ModelCallError: while iterating, as `complete` does, or if the stream breaks.
            ConfigError: at once, if `options` holds `model`, `messages` or `stream`.
        """
        request = self._request(request_body(self.model, messages, options, stream=True))
        state = StreamState(self.url)
        return TextStream(self._chunks(request, state), state, lambda: self._stream_completion(state))

    def astream(self, messages: ChatMessages, **options: object) -> AsyncTextStream:
        """Async twin of `stream`."""
        request = self._request(request_body(self.model, messages, options, stream=True), use_async=True)
        state = StreamState(self.url)
        return AsyncTextStream(self._achunks(request, state), state, lambda: self._stream_completion(state))

    def close(self) -> None:
        """Close the sync connection pool this client created (not one passed as `http_client`)."""
        if self._owns_client and self._client is not None:
            self._client.close()
            self._client = None

    async def aclose(self) -> None:
        """Close both connection pools this client created."""
        self.close()
        if self._owns_async_client and self._async_client is not None:
            await self._async_client.aclose()
            self._async_client = None

    def __enter__(self) -> OpenAIClient:
        """The client itself; leaving the block calls `close()`."""
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        """Close the sync connection pool."""
        self.close()

    async def __aenter__(self) -> OpenAIClient:
        """The client itself; leaving the block calls `aclose()`."""
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Close both connection pools."""
        await self.aclose()

    def _sync_client(self) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client()
        return self._client

    def _async_http(self) -> httpx.AsyncClient:
        if self._async_client is None:
            self._async_client = httpx.AsyncClient()
        return self._async_client

    def _request(self, body: dict[str, Any], *, use_async: bool = False) -> httpx.Request:
        client: httpx.Client | httpx.AsyncClient = self._async_http() if use_async else self._sync_client()
        return client.build_request("POST", self.url, json=body, headers=self._headers, timeout=self._timeout)

    def _send(self, request: httpx.Request, *, stream: bool) -> httpx.Response:
        for attempt in range(self.max_retries + 1):
            try:
                return self._attempt(request, stream)
            except _Retryable as failure:
                if attempt == self.max_retries:
                    raise self._exhausted(failure) from failure
                self._sleep(self.backoff_s * 2**attempt)
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def _asend(self, request: httpx.Request, *, stream: bool) -> httpx.Response:
        for attempt in range(self.max_retries + 1):
            try:
                return await self._aattempt(request, stream)
            except _Retryable as failure:
                if attempt == self.max_retries:
                    raise self._exhausted(failure) from failure
                await self._async_sleep(self.backoff_s * 2**attempt)
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _attempt(self, request: httpx.Request, stream: bool) -> httpx.Response:
        try:
            response = self._sync_client().send(request, stream=stream)
            if response.is_success:
                return response
            response.read()
            response.close()
        except httpx.TransportError as exc:
            raise _Retryable(_transport_detail(exc, self._timeout)) from exc
        raise self._status_failure(response)

    async def _aattempt(self, request: httpx.Request, stream: bool) -> httpx.Response:
        try:
            response = await self._async_http().send(request, stream=stream)
            if response.is_success:
                return response
            await response.aread()
            await response.aclose()
        except httpx.TransportError as exc:
            raise _Retryable(_transport_detail(exc, self._timeout)) from exc
        raise self._status_failure(response)

    def _status_failure(self, response: httpx.Response) -> Exception:
        detail = f"HTTP {response.status_code}: {error_detail(response.content)}"
        if retryable_status(response.status_code):
            return _Retryable(detail)
        return ModelCallError(
            f"{self.url} refused the request for model {self.model!r} with {detail} "
            "This is not retried: fix the request, or the client's `model` / `api_key`."
        )

    def _exhausted(self, failure: _Retryable) -> ModelCallError:
        attempts = self.max_retries + 1
        return ModelCallError(
            f"Model {self.name!r} at {self.url} failed {attempts} attempt(s); the last: {failure}. "
            "Check that the upstream is up and reachable, or raise `timeout_s` / `max_retries`."
        )

    def _completion(self, body: bytes) -> Completion:
        text, usage, payload = parse_completion(body, self.url)
        logprobs = logprobs_from(payload["choices"][0])
        return Completion(
            text=text, model=self.name, usage=usage, cost_usd=self._cost(usage), raw=payload, logprobs=logprobs
        )

    def _stream_completion(self, state: StreamState) -> Completion:
        return state.completion(self.name, self._cost(state.usage))

    def _cost(self, usage: Usage) -> float | None:
        return cost_usd(usage, self.input_usd_per_mtok, self.output_usd_per_mtok)

    def _chunks(self, request: httpx.Request, state: StreamState) -> Generator[str, None, None]:
        response = self._send(request, stream=True)
        try:
            for line in response.iter_lines():
                if piece := state.feed(line):
                    yield piece
        except httpx.HTTPError as exc:
            raise self._broken(state, exc) from exc
        finally:
            response.close()
        state.done = True

    async def _achunks(self, request: httpx.Request, state: StreamState) -> AsyncGenerator[str, None]:
        response = await self._asend(request, stream=True)
        try:
            async for line in response.aiter_lines():
                if piece := state.feed(line):
                    yield piece
        except httpx.HTTPError as exc:
            raise self._broken(state, exc) from exc
        finally:
            await response.aclose()
        state.done = True

    def _broken(self, state: StreamState, exc: httpx.HTTPError) -> ModelCallError:
        return ModelCallError(
            f"The stream of model {self.name!r} from {self.url} broke after {len(state.pieces)} chunk(s): "
            f"{exc!r}. Streams are not retried once they started; call again to retry."
        )


def _transport_detail(exc: httpx.TransportError, timeout: httpx.Timeout) -> str:
    if isinstance(exc, httpx.ConnectTimeout):
        return f"no connection within {timeout.connect} s"
    if isinstance(exc, httpx.TimeoutException):
        return f"no answer within {timeout.read} s"
    return f"connection failed ({type(exc).__name__}: {exc})"
