"""The app's wiring: an injected upstream client, the lifespan's warm-up, the upstream client pools."""

from __future__ import annotations

import json
import logging
from typing import Any

import anyio
import httpx
import numpy as np
import openai
import pytest
import routerkit
from routerkit.errors import RoutingError
from routerkit.routers.baselines import LengthRouter
from routerkit.server import app as server_app
from routerkit.server import create_app
from routerkit.server.config import parse_config
from routerkit.server.metrics import ServerMetrics
from routerkit.server.upstream import Upstreams

NOWHERE = "http://127.0.0.1:9/v1"
"""Nothing listens there: a request that reaches it fails."""


def _raw(load: str = "length") -> dict[str, Any]:
    return {
        "models": {"strong": {"base_url": NOWHERE, "model": "gpt-4o"}, "weak": {"base_url": NOWHERE, "model": "mini"}},
        "routers": {"length": {"load": load, "options": {"strong": "big", "weak": "small"}, "models": _MAPPING}},
    }


_MAPPING = {"big": "strong", "small": "weak"}


def _completion(content: str) -> dict[str, Any]:
    message = {"role": "assistant", "content": content}
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 0,
        "model": "mini",
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
    }


def test_injected_http_client_is_used_without_the_lifespan() -> None:
    seen: list[str] = []

    def upstream(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200, json=_completion("mock answers"))

    async def ask() -> str | None:
        async with httpx.AsyncClient(transport=httpx.MockTransport(upstream)) as upstream_client:
            app = create_app(parse_config(_raw()), http_client=upstream_client)
            # An in-process ASGI transport never runs the app's lifespan.
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app)) as to_app:
                sdk = openai.AsyncOpenAI(base_url="http://server/v1", api_key="unused", http_client=to_app)
                reply = await sdk.chat.completions.create(model="length", messages=[{"role": "user", "content": "hi"}])
                return reply.choices[0].message.content

    assert anyio.run(ask) == "mock answers"
    assert seen == [f"{NOWHERE}/chat/completions"]


class _BrokenRouter(LengthRouter):
    def _score_texts(self, texts: list[str]) -> np.typing.NDArray[np.float64]:
        raise ValueError("broken on purpose")


class _BrokenPlugin:
    @routerkit.hookimpl
    def register_routers(self, register: Any) -> None:
        register("broken_length", lambda **options: _BrokenRouter(**options), needs_artifact=False)


def test_a_failing_warm_up_names_the_router_and_closes_the_clients(
    plugins: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    plugins.register(_BrokenPlugin(), name="broken-test")
    opened: list[httpx.AsyncClient] = []
    pooled_client = server_app._pooled_client

    def recorded() -> httpx.AsyncClient:
        opened.append(pooled_client())
        return opened[-1]

    monkeypatch.setattr(server_app, "_pooled_client", recorded)
    app = create_app(parse_config(_raw(load="broken_length")))  # builds the router; scoring waits for startup

    async def start_up() -> None:
        async with app.router.lifespan_context(app):
            pass

    with pytest.raises(RoutingError, match=r"Router 'length' failed its warm-up call .*broken on purpose"):
        anyio.run(start_up)
    assert len(opened) == server_app.CLIENT_SHARDS
    assert all(client.is_closed for client in opened)


def test_attempts_go_round_every_client_pool() -> None:
    used: list[int] = []

    def pool(number: int) -> httpx.AsyncClient:
        def upstream(request: httpx.Request) -> httpx.Response:
            used.append(number)
            return httpx.Response(200, json=_completion("ok"))

        return httpx.AsyncClient(transport=httpx.MockTransport(upstream))

    config = parse_config(_raw())
    upstreams = Upstreams(config.models, ServerMetrics())
    upstreams.clients = [pool(number) for number in range(server_app.CLIENT_SHARDS)]

    async def ask_each_pool_once() -> None:
        for _ in range(server_app.CLIENT_SHARDS):
            await upstreams.complete(["weak"], {"messages": [{"role": "user", "content": "hi"}]}, "req-1")
        for client in upstreams.clients:
            await client.aclose()

    anyio.run(ask_each_pool_once)
    assert sorted(used) == list(range(server_app.CLIENT_SHARDS))


class _FaultyRouter(LengthRouter):
    """Fails on prompts that ask it to: a `RoutingError` (a known runtime failure) or a bug."""

    def _score_texts(self, texts: list[str]) -> np.typing.NDArray[np.float64]:
        if "routing fails" in texts[0]:
            raise RoutingError("the scoring backend is gone")
        if "bug" in texts[0]:
            raise ZeroDivisionError("a bug on purpose")
        return super()._score_texts(texts)


class _FaultyPlugin:
    @routerkit.hookimpl
    def register_routers(self, register: Any) -> None:
        register("faulty_length", lambda **options: _FaultyRouter(**options), needs_artifact=False)


@pytest.fixture
def faulty(start: Any, plugins: Any) -> Any:
    """A stack whose `length` router fails on request (see `_FaultyRouter`)."""
    plugins.register(_FaultyPlugin(), name="faulty-test")
    return start(edit=lambda config: config["routers"]["length"].update(load="faulty_length"))


def test_a_routing_failure_is_a_server_error(faulty: Any) -> None:
    with pytest.raises(openai.InternalServerError) as caught:
        faulty.client().chat.completions.create(model="auto", messages=[{"role": "user", "content": "routing fails"}])
    error = caught.value.response.json()["error"]
    assert (error["type"], error["code"]) == ("server_error", "routing_error")
    assert "the scoring backend is gone" in error["message"]


def test_an_unexpected_error_is_an_openai_style_500_with_its_traceback_logged(
    faulty: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="routerkit.server")
    with pytest.raises(openai.InternalServerError) as caught:
        faulty.client().chat.completions.create(model="auto", messages=[{"role": "user", "content": "a bug"}])
    response = caught.value.response
    assert response.headers["content-type"] == "application/json"
    error = response.json()["error"]
    assert (error["type"], error["code"]) == ("server_error", "internal_error")
    assert "a bug on purpose" not in error["message"]  # the details are for the log
    logged = next(json.loads(r.getMessage()) for r in caplog.records if '"unhandled_error"' in r.getMessage())
    assert logged["request_id"] == response.headers["x-request-id"]
    assert "ZeroDivisionError: a bug on purpose" in logged["traceback"]
