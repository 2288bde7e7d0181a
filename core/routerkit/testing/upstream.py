"""A fake OpenAI-compatible upstream, and a helper that serves any ASGI app on loopback.

`fake_openai_upstream` builds a small Starlette app that speaks the chat-completions protocol
(`POST /v1/chat/completions`, JSON or `stream: true` server-sent events, `tools`, `usage`) and
`GET /v1/models`. Its answers are deterministic and name the upstream, so a test can tell which
upstream answered; it records every request it receives; and a `Behaviour` scripts failures (error
statuses, hangs, dropped connections, slow streams). `serve_in_thread` runs an app under uvicorn in a
background thread on a free port::

    from routerkit.testing.upstream import Behaviour, fake_openai_upstream, serve_in_thread

    weak = fake_openai_upstream("weak", behaviour=Behaviour(fail_first=1))
    with serve_in_thread(weak) as url:  # "http://127.0.0.1:<port>"
        ...  # point an OpenAI client at f"{url}/v1"
    assert weak.requests[0].json["model"] == ...

Needs the `server` extra: `pip install "routerkit-core[server]"`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import ASGIApp

from routerkit.errors import ConfigError

__all__ = ["Behaviour", "FakeUpstream", "RecordedRequest", "fake_openai_upstream", "serve_in_thread"]

CREATED = 1_700_000_000  # a fixed `created` timestamp keeps responses deterministic


@dataclass(frozen=True)
class Behaviour:
    """How a fake upstream misbehaves; the default answers every request promptly.

    Failures apply to `POST /v1/chat/completions` only: to every request when `always_fail` is set,
    otherwise to the first `fail_first` requests.
    """

    fail_first: int = 0
    """How many chat-completion requests fail before the upstream starts answering."""
    always_fail: bool = False
    """Fail every chat-completion request."""
    failure: Literal["status", "hang", "disconnect"] = "status"
    """How a request fails: an error response with `status_code`; no answer for `hang_s` seconds (longer
    than the client's timeout); or a dropped connection (after the first chunk when streaming)."""
    status_code: int = 500
    """The HTTP status of a `"status"` failure."""
    hang_s: float = 30.0
    """How long a `"hang"` failure waits before answering (it stops early if the client goes away)."""
    chunk_delay_s: float = 0.0
    """Delay before each chunk of a streamed answer (a slow model)."""
    chunks: int = 4
    """How many content chunks a streamed answer is split into."""

    def __post_init__(self) -> None:
        """Refuse values that cannot describe an upstream."""
        for name in ("fail_first", "hang_s", "chunk_delay_s"):
            if getattr(self, name) < 0:
                raise ConfigError(f"`Behaviour.{name}` must be >= 0, got {getattr(self, name)!r}.")
        if self.chunks < 1:
            raise ConfigError(f"`Behaviour.chunks` must be >= 1, got {self.chunks!r}.")
        if not 400 <= self.status_code <= 599:
            raise ConfigError(f"`Behaviour.status_code` must be an HTTP error status, got {self.status_code!r}.")


@dataclass(frozen=True)
class RecordedRequest:
    """One request a fake upstream received."""

    method: str
    path: str
    headers: dict[str, str]
    """Header names are lower-case."""
    json: Any
    """The parsed JSON body, or `None` when there was no body or it was not JSON."""


class FakeUpstream(Starlette):
    """The ASGI app `fake_openai_upstream` returns: a Starlette app that also keeps what it saw."""

    def __init__(self, name: str, behaviour: Behaviour, api_key: str | None) -> None:
        """Build the routes; use `fake_openai_upstream` rather than calling this directly."""
        super().__init__(
            routes=[
                Route("/v1/chat/completions", self._chat, methods=["POST"]),
                Route("/v1/models", self._models, methods=["GET"]),
            ]
        )
        self.name = name
        """The upstream's name: it appears in every answer and in `GET /v1/models`."""
        self.behaviour = behaviour
        self.api_key = api_key
        """When set, requests without `Authorization: Bearer <api_key>` get a 401."""
        self.requests: list[RecordedRequest] = []
        """Every request received, oldest first (including refused and failed ones)."""
        self._chat_count = 0

    async def _record(self, request: Request) -> Any:
        body = await request.body()
        try:
            payload = json.loads(body) if body else None
        except ValueError:
            payload = None
        headers = {key.lower(): value for key, value in request.headers.items()}
        self.requests.append(RecordedRequest(request.method, request.url.path, headers, payload))
        return payload

    def _unauthorised(self, request: Request) -> Response | None:
        if self.api_key is None or request.headers.get("authorization") == f"Bearer {self.api_key}":
            return None
        return _error(401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key")

    async def _models(self, request: Request) -> Response:
        await self._record(request)
        refused = self._unauthorised(request)
        if refused is not None:
            return refused
        model = {"id": self.name, "object": "model", "created": CREATED, "owned_by": self.name}
        return JSONResponse({"object": "list", "data": [model]})

    async def _chat(self, request: Request) -> Response:
        payload = await self._record(request)
        refused = self._unauthorised(request)
        if refused is not None:
            return refused
        self._chat_count += 1
        behaviour = self.behaviour
        failing = behaviour.always_fail or self._chat_count <= behaviour.fail_first
        if failing and behaviour.failure == "status":
            return _error(behaviour.status_code, f"{self.name} failed on purpose.", "server_error", None)
        if failing and behaviour.failure == "hang":
            await _hang(request, behaviour.hang_s)
        problem = _invalid(payload)
        if problem is not None:
            return _error(400, problem, "invalid_request_error", None)
        answer = _Answer(self.name, self._chat_count, payload)
        drop = failing and behaviour.failure == "disconnect"
        if payload.get("stream") is True:
            return StreamingResponse(self._stream(answer, drop), media_type="text/event-stream")
        if drop:  # headers go out, then the connection closes without a body
            return StreamingResponse(self._drop(), media_type="application/json")
        return JSONResponse(answer.completion())

    async def _drop(self) -> AsyncIterator[str]:
        raise ConnectionAbortedError(f"{self.name} dropped the connection on purpose.")
        yield ""  # unreachable: makes this an async generator

    async def _stream(self, answer: _Answer, drop: bool) -> AsyncIterator[str]:
        for number, chunk in enumerate(answer.chunks(self.behaviour.chunks)):
            if self.behaviour.chunk_delay_s:
                await asyncio.sleep(self.behaviour.chunk_delay_s)
            yield f"data: {json.dumps(chunk)}\n\n"
            if drop and number == 0:
                raise ConnectionAbortedError(f"{self.name} dropped the stream on purpose.")
        yield "data: [DONE]\n\n"


def fake_openai_upstream(name: str, *, behaviour: Behaviour | None = None, api_key: str | None = None) -> FakeUpstream:
    """Build a fake OpenAI-compatible upstream.

    The answer to a chat request is `"<name> answers: <start of the last user message>"`; with `tools`
    (and `tool_choice` other than `"none"`) it is a `tool_calls` message calling the chosen tool (or the
    first) with arguments `{}`. The response's `model` echoes the request's, and `usage` counts
    whitespace-separated words. Streams end with `data: [DONE]`, and carry `usage` in a last chunk when
    `stream_options.include_usage` is true. Malformed bodies get an OpenAI-style 400.

    Args:
        name: Names the upstream in its answers and its model list.
        behaviour: Scripted failures and streaming speed; the default answers at once.
        api_key: When set, requests must carry `Authorization: Bearer <api_key>` (else 401).

    Returns:
        The ASGI app; its `requests` list records what it received.
    """
    return FakeUpstream(name, behaviour or Behaviour(), api_key)


@contextlib.contextmanager
def serve_in_thread(app: ASGIApp, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve `app` with uvicorn in a background thread for the length of a `with` block.

    Args:
        app: Any ASGI app (a fake upstream, or the routerkit server's app). Its lifespan runs.
        host: The address to bind; keep it on loopback.
        port: The port; `0` picks a free one.

    Yields:
        The server's root URL, e.g. `"http://127.0.0.1:54321"` (append `/v1` for OpenAI clients).

    Raises:
        RuntimeError: The server did not start within 30 seconds, or its startup failed (for an app,
            a failing lifespan; the cause is in uvicorn's log).
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    bound_port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", access_log=False, timeout_graceful_shutdown=1)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=_run, args=(server, sock), name=f"uvicorn:{bound_port}", daemon=True)
    thread.start()
    try:
        _wait_started(server, thread)
        url_host = f"[{host}]" if family == socket.AF_INET6 else host
        yield f"http://{url_host}:{bound_port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def _run(server: uvicorn.Server, sock: socket.socket) -> None:
    """Run the server; a failed startup ends the thread quietly (uvicorn exits, it does not raise)."""
    with contextlib.suppress(SystemExit):
        server.run(sockets=[sock])


def _wait_started(server: uvicorn.Server, thread: threading.Thread) -> None:
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("The server failed to start; see uvicorn's log above for the cause.")
        if time.monotonic() > deadline:
            raise RuntimeError("The server did not start within 30 seconds.")
        time.sleep(0.01)


async def _hang(request: Request, seconds: float) -> None:
    """Wait `seconds`, returning early once the client has disconnected."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not await request.is_disconnected():
        await asyncio.sleep(0.02)


def _error(status: int, message: str, kind: str, code: str | None) -> JSONResponse:
    body = {"error": {"message": message, "type": kind, "param": None, "code": code}}
    return JSONResponse(body, status_code=status)


def _invalid(payload: Any) -> str | None:
    """Why `payload` is not a chat-completions request, or `None` when it is one."""
    if not isinstance(payload, dict):
        return "The request body must be a JSON object."
    if not isinstance(payload.get("model"), str):
        return "`model` must be a string."
    messages = payload.get("messages")
    if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
        return "`messages` must be a non-empty list of message objects."
    return None


def _text(content: Any) -> str:
    """The text of a message's `content`: a string, or the text parts of a content list."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [part.get("text") for part in content if isinstance(part, dict)]
        return " ".join(part for part in parts if isinstance(part, str))
    return ""


def _tool_name(tools: Any, choice: Any) -> str | None:
    """The tool the fake calls: the forced one, else the first; `None` when no tool is called."""
    if not isinstance(tools, list) or not tools or choice == "none":
        return None
    if isinstance(choice, dict) and isinstance(choice.get("function"), dict):
        forced = choice["function"].get("name")
        if isinstance(forced, str):
            return forced
    first = tools[0].get("function") if isinstance(tools[0], dict) else None
    name = first.get("name") if isinstance(first, dict) else None
    return name if isinstance(name, str) else "tool"


@dataclass
class _Answer:
    """The deterministic answer to one chat request, as a completion or as stream chunks."""

    upstream: str
    number: int
    payload: dict[str, Any]
    text: str = field(init=False)
    tool: str | None = field(init=False)

    def __post_init__(self) -> None:
        messages = self.payload["messages"]
        users = [_text(m.get("content")) for m in messages if m.get("role") == "user"] or [""]
        self.text = f"{self.upstream} answers: {users[-1][:60]}"
        self.tool = _tool_name(self.payload.get("tools"), self.payload.get("tool_choice"))

    @property
    def _base(self) -> dict[str, Any]:
        model = self.payload["model"]
        return {"id": f"chatcmpl-{self.upstream}-{self.number}", "created": CREATED, "model": model}

    def _usage(self) -> dict[str, int]:
        prompt = sum(len(_text(m.get("content")).split()) for m in self.payload["messages"])
        completion = 1 if self.tool else len(self.text.split())
        return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}

    def _tool_call(self, arguments: str) -> dict[str, Any]:
        function = {"name": self.tool, "arguments": arguments}
        return {"index": 0, "id": f"call_{self.upstream}_{self.number}", "type": "function", "function": function}

    def completion(self) -> dict[str, Any]:
        """The non-streaming `chat.completion` object."""
        message: dict[str, Any] = {"role": "assistant", "content": self.text, "refusal": None}
        if self.tool:
            message.update(content=None, tool_calls=[self._tool_call("{}")])
            message["tool_calls"][0].pop("index")
        choice = {"index": 0, "message": message, "finish_reason": "tool_calls" if self.tool else "stop"}
        choice["logprobs"] = None
        return {**self._base, "object": "chat.completion", "choices": [choice], "usage": self._usage()}

    def chunks(self, pieces: int) -> Iterator[dict[str, Any]]:
        """The `chat.completion.chunk` objects of the stream, `[DONE]` excluded."""
        options = self.payload.get("stream_options")
        with_usage = isinstance(options, dict) and options.get("include_usage") is True
        extra: dict[str, Any] = {"usage": None} if with_usage else {}
        for delta, finish in self._deltas(pieces):
            choice = {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
            yield {**self._base, "object": "chat.completion.chunk", "choices": [choice], **extra}
        if with_usage:
            yield {**self._base, "object": "chat.completion.chunk", "choices": [], "usage": self._usage()}

    def _deltas(self, pieces: int) -> Iterator[tuple[dict[str, Any], str | None]]:
        if self.tool:
            yield {"role": "assistant", "content": None, "tool_calls": [self._tool_call("")]}, None
            yield {"tool_calls": [{"index": 0, "function": {"arguments": "{}"}}]}, None
            yield {}, "tool_calls"
            return
        yield {"role": "assistant", "content": ""}, None
        size = len(self.text)
        for i in range(pieces):
            yield {"content": self.text[i * size // pieces : (i + 1) * size // pieces]}, None
        yield {}, "stop"
