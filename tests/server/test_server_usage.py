"""Token usage read from upstream answers: only whole, non-negative counts reach the metrics."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from routerkit.server.usage import SseUsageTap, TokenUsage, usage_from_json
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


@pytest.mark.parametrize(
    ("prompt", "completion"),
    [(True, 5), (5, False), (-1, 5), (5, -3), (1.5, 5), (5, 2.0), ("5", 5), (None, 5)],
    ids=[
        "bool-prompt",
        "bool-completion",
        "negative-prompt",
        "negative-completion",
        "float",
        "whole-float",
        "str",
        "null",
    ],
)
def test_malformed_counts_are_ignored(prompt: object, completion: object) -> None:
    payload = {"usage": {"prompt_tokens": prompt, "completion_tokens": completion}}
    assert usage_from_json(payload) is None
    tap = SseUsageTap()
    tap.feed(b"data: " + httpx.Response(200, json=payload).content + b"\n\n")
    assert tap.usage is None


def test_whole_non_negative_counts_are_read() -> None:
    assert usage_from_json({"usage": {"prompt_tokens": 0, "completion_tokens": 7}}) == TokenUsage(0, 7)


def _answer_with_usage(usage: dict[str, Any]) -> Starlette:
    async def chat(request: Request) -> Response:
        message = {"role": "assistant", "content": "counted"}
        choice = {"index": 0, "message": message, "finish_reason": "stop"}
        body = {"id": "c1", "object": "chat.completion", "created": 0, "model": "m", "choices": [choice]}
        return JSONResponse({**body, "usage": usage})

    return Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"])])


def test_negative_usage_never_reaches_tokens_or_cost(start: Any, serve: Any) -> None:
    url = serve(_answer_with_usage({"prompt_tokens": -1_000_000, "completion_tokens": 10}))

    def strong_at(config: dict[str, Any]) -> None:
        config["models"]["strong"]["base_url"] = f"{url}/v1"  # `strong` has a price

    stack = start(edit=strong_at)
    completion = stack.client().chat.completions.create(
        model="auto", messages=[{"role": "user", "content": stack.long_prompt}]
    )
    assert completion.choices[0].message.content == "counted"
    metrics = httpx.get(f"{stack.url}/metrics").text
    assert 'routerkit_cost_usd_total{model="strong"}' not in metrics
    assert 'routerkit_tokens_total{model="strong"' not in metrics
