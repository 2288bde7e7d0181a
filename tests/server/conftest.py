"""Fixtures for the server tests: fake upstreams and the routing server, each served on loopback.

Real HTTP both ways: the OpenAI SDK talks to the server under uvicorn, and the server talks to fake
OpenAI-protocol upstreams (`routerkit.testing.upstream`) under uvicorn.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import KW_ONLY, dataclass, field
from typing import Any

import openai
import pytest
from routerkit.server import create_app
from routerkit.server.config import parse_config
from routerkit.testing.upstream import Behaviour, FakeUpstream, fake_openai_upstream, serve_in_thread
from starlette.types import ASGIApp

LONG_PROMPT = "Explain, step by step, " + "why the sky is blue and sunsets are red. " * 15
"""Over 500 characters: the `length` router (scale 500, threshold 0.5) sends it to the strong model."""
SHORT_PROMPT = "What is 2 + 2?"
"""Routed to the weak model."""


@dataclass
class Stack:
    """A running server in front of two fake upstreams, `strong` and `weak`."""

    url: str
    """The server's root URL."""
    upstreams: dict[str, FakeUpstream]
    _: KW_ONLY
    api_key: str = "unused"
    long_prompt: str = LONG_PROMPT
    short_prompt: str = SHORT_PROMPT
    clients: list[openai.OpenAI] = field(default_factory=list)

    def client(self, **options: Any) -> openai.OpenAI:
        """The official SDK pointed at the server (by default no SDK retries, so failures show at once)."""
        options.setdefault("max_retries", 0)
        client = openai.OpenAI(base_url=f"{self.url}/v1", api_key=self.api_key, **options)
        self.clients.append(client)
        return client

    def close_clients(self) -> None:
        """Close the SDK clients `client` made (their connection pools)."""
        while self.clients:
            self.clients.pop().close()

    def received(self, name: str) -> list[dict[str, Any]]:
        """The chat-completion bodies upstream `name` received."""
        return [r.json for r in self.upstreams[name].requests if r.path == "/v1/chat/completions"]


def base_config(urls: dict[str, str], **overrides: Any) -> dict[str, Any]:
    """A raw config: models `strong`/`weak` at `urls`, a `length` router, a route `auto`."""
    config: dict[str, Any] = {
        "models": {
            "strong": {
                "base_url": f"{urls['strong']}/v1",
                "model": "gpt-4o",
                "timeout_s": 5,
                "price": {"input_usd_per_mtok": 2.5, "output_usd_per_mtok": 10},
            },
            "weak": {"base_url": f"{urls['weak']}/v1", "model": "mixtral", "timeout_s": 5},
        },
        "routers": {
            "length": {"load": "length", "options": {"strong": "big", "weak": "small"}, "models": _LENGTH_MODELS}
        },
        "routes": {"auto": {"router": "length"}},
    }
    config.update(overrides)
    return config


_LENGTH_MODELS = {"big": "strong", "small": "weak"}

Starter = Callable[..., Stack]


@pytest.fixture
def start() -> Iterator[Starter]:
    """`start(strong=Behaviour(...), weak=..., edit=fn)` serves two upstreams and the server.

    `edit(config_dict)` may change the raw config before it is validated.
    """
    stacks: list[Stack] = []
    with contextlib.ExitStack() as stack:
        stack.callback(lambda: [s.close_clients() for s in stacks])

        def starter(
            *,
            strong: Behaviour | None = None,
            weak: Behaviour | None = None,
            edit: Callable[[dict[str, Any]], None] | None = None,
            api_key: str = "unused",
            upstream_keys: dict[str, str] | None = None,
        ) -> Stack:
            keys = upstream_keys or {}
            fakes = {
                "strong": fake_openai_upstream("strong", behaviour=strong, api_key=keys.get("strong")),
                "weak": fake_openai_upstream("weak", behaviour=weak, api_key=keys.get("weak")),
            }
            urls = {name: stack.enter_context(serve_in_thread(app)) for name, app in fakes.items()}
            raw = base_config(urls)
            if edit is not None:
                edit(raw)
            url = stack.enter_context(serve_in_thread(create_app(parse_config(raw))))
            stacks.append(Stack(url, fakes, api_key=api_key))
            return stacks[-1]

        yield starter


@pytest.fixture
def serve() -> Iterator[Callable[[ASGIApp], str]]:
    """`serve(app)` serves any ASGI app (e.g. a hand-written upstream) on loopback for the test; returns its URL."""
    with contextlib.ExitStack() as stack:
        yield lambda app: stack.enter_context(serve_in_thread(app))


@pytest.fixture(scope="module")
def _shared_stack() -> Iterator[Stack]:
    fakes = {"strong": fake_openai_upstream("strong"), "weak": fake_openai_upstream("weak")}
    with contextlib.ExitStack() as stack:
        urls = {name: stack.enter_context(serve_in_thread(app)) for name, app in fakes.items()}
        url = stack.enter_context(serve_in_thread(create_app(parse_config(base_config(urls)))))
        yield Stack(url, fakes)


@pytest.fixture
def stack(_shared_stack: Stack) -> Iterator[Stack]:
    """The default stack (well-behaved upstreams), shared by a module's tests; request records start empty.

    Use `start` instead where a test needs its own upstream behaviour, config or fresh metrics.
    """
    for fake in _shared_stack.upstreams.values():
        fake.requests.clear()
    yield _shared_stack
    _shared_stack.close_clients()
