"""Chat completions through the routing server with the official OpenAI SDK: JSON, streaming, tools."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
import numpy as np
import openai
import pytest
import routerkit
from routerkit.routers.baselines import LengthRouter
from routerkit.testing.upstream import Behaviour

TOOLS: list[Any] = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Weather for a city.",
            "parameters": {
                "type": "object",
                "properties": {
                    "city": {"type": "string"},
                    "units": {"type": "string", "enum": ["c", "f"]},
                    "when": {"type": "object", "properties": {"day": {"type": "integer", "minimum": 0}}},
                },
                "required": ["city"],
                "additionalProperties": False,
            },
            "strict": True,
        },
    }
]
RESPONSE_FORMAT: Any = {
    "type": "json_schema",
    "json_schema": {"name": "answer", "schema": {"type": "object", "properties": {"x": {"type": "array"}}}},
}


def test_short_prompt_goes_weak_with_decision_headers(stack: Any) -> None:
    raw = stack.client().chat.completions.with_raw_response.create(
        model="auto", messages=[{"role": "user", "content": stack.short_prompt}]
    )
    completion = raw.parse()
    assert completion.choices[0].message.content.startswith("weak answers:")
    assert completion.model == "mixtral"  # the upstream's id: it reveals the routed model
    assert raw.headers["x-routerkit-model"] == "weak"
    assert raw.headers["x-routerkit-router"] == "length"
    assert 0.0 <= float(raw.headers["x-routerkit-score"]) < 0.5
    assert raw.headers["x-request-id"]
    assert stack.received("weak")[0]["model"] == "mixtral"
    assert stack.received("strong") == []


def test_long_prompt_goes_strong(stack: Any) -> None:
    completion = stack.client().chat.completions.create(
        model="length", messages=[{"role": "user", "content": stack.long_prompt}]
    )
    assert completion.choices[0].message.content.startswith("strong answers:")
    assert completion.model == "gpt-4o"


@pytest.mark.parametrize(
    ("model", "answers"),
    [("router-length-0", "strong"), ("router-length-0.0", "strong"), ("router-length-1", "weak")],
    ids=["threshold-0", "threshold-0.0", "threshold-1"],
)
def test_routellm_model_string_sets_the_threshold(stack: Any, model: str, answers: str) -> None:
    completion = stack.client().chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}])
    assert completion.choices[0].message.content.startswith(f"{answers} answers:")


def test_named_route_threshold(start: Any) -> None:
    stack = start(edit=lambda c: c["routes"].update(cheap={"router": "length", "threshold": 0.99}))
    completion = stack.client().chat.completions.create(
        model="cheap", messages=[{"role": "user", "content": stack.long_prompt}]
    )
    assert completion.choices[0].message.content.startswith("weak answers:")


def test_streaming_arrives_chunk_by_chunk_with_headers(start: Any) -> None:
    stack = start(weak=Behaviour(chunk_delay_s=0.15, chunks=4))
    started = time.perf_counter()
    raw = stack.client().chat.completions.with_raw_response.create(
        model="auto", messages=[{"role": "user", "content": "hi"}], stream=True
    )
    assert raw.headers["x-routerkit-model"] == "weak"
    assert raw.headers["x-routerkit-router"] == "length"
    assert "x-routerkit-score" in raw.headers
    arrivals, text = [], ""
    for chunk in raw.parse():
        if chunk.choices and chunk.choices[0].delta.content:
            arrivals.append(time.perf_counter() - started)
            text += chunk.choices[0].delta.content
    assert text == "weak answers: hi"
    assert len(arrivals) == 4
    # Relayed as they come: the first piece arrives long before the last (0.15 s between chunks).
    assert arrivals[-1] - arrivals[0] > 0.3


def test_stream_usage_is_relayed_and_costed(start: Any) -> None:
    stack = start()  # fresh metrics
    chunks = list(
        stack.client().chat.completions.create(
            model="length",
            messages=[{"role": "user", "content": stack.long_prompt}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    usage = chunks[-1].usage
    assert usage is not None and usage.prompt_tokens > 0
    metrics = httpx.get(f"{stack.url}/metrics").text
    expected = (usage.prompt_tokens * 2.5 + usage.completion_tokens * 10) / 1e6
    line = next(x for x in metrics.splitlines() if x.startswith('routerkit_cost_usd_total{model="strong"}'))
    assert float(line.split()[-1]) == pytest.approx(expected)


def test_tools_round_trip_untouched(stack: Any) -> None:
    client = stack.client()
    messages: list[Any] = [{"role": "user", "content": stack.long_prompt}]
    first = client.chat.completions.create(
        model="auto",
        messages=messages,
        tools=TOOLS,
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
        response_format=RESPONSE_FORMAT,
        temperature=0.2,
        seed=7,
        metadata={"team": "a"},
    )
    call = first.choices[0].message.tool_calls[0]
    assert call.function.name == "get_weather"
    sent = stack.received("strong")[0]
    assert sent["tools"] == TOOLS
    assert sent["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    assert sent["response_format"] == RESPONSE_FORMAT
    assert (sent["temperature"], sent["seed"], sent["metadata"]) == (0.2, 7, {"team": "a"})
    assert sent["model"] == "gpt-4o"

    # The tool result goes back through the server; the last user turn is still what is routed.
    follow_up = [
        *messages,
        {"role": "assistant", "content": None, "tool_calls": [call.model_dump()]},
        {"role": "tool", "tool_call_id": call.id, "content": '{"temp": 21}'},
    ]
    second = client.chat.completions.create(model="auto", messages=follow_up)
    assert second.choices[0].message.content.startswith("strong answers:")
    assert stack.received("strong")[1]["messages"][-1] == follow_up[-1]


def test_streamed_tool_calls(stack: Any) -> None:
    stream = stack.client().chat.completions.create(
        model="auto", messages=[{"role": "user", "content": "hi"}], tools=TOOLS, stream=True
    )
    names = [
        c.choices[0].delta.tool_calls[0].function.name
        for c in stream
        if c.choices and c.choices[0].delta.tool_calls and c.choices[0].delta.tool_calls[0].function.name
    ]
    assert names == ["get_weather"]


def test_unknown_model_lists_the_valid_ones(stack: Any) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        stack.client().chat.completions.create(model="gpt-5", messages=[{"role": "user", "content": "hi"}])
    error = caught.value.body
    assert isinstance(error, dict) and error["code"] == "model_not_found" and error["param"] == "model"
    for valid in ("'auto'", "'length'", "'router-length-0.5'"):
        assert valid in error["message"]


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"{not json", "not valid JSON"),
        (b'{"model": "auto", "messages": "hello"}', "messages"),
        (b'{"model": "auto"}', "messages"),
        (b'{"model": "auto", "messages": [{"role": "system", "content": "be brief"}]}', "role 'user'"),
        (b'{"model": "router-length-2", "messages": [{"role": "user", "content": "hi"}]}', "[0, 1]"),
        (b"[1, 2]", "Invalid request"),
    ],
    ids=["bad-json", "messages-not-a-list", "no-messages", "no-user-turn", "threshold-out-of-range", "not-object"],
)
def test_bad_requests_get_openai_style_400(stack: Any, body: bytes, fragment: str) -> None:
    response = httpx.post(
        f"{stack.url}/v1/chat/completions", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error"
    assert fragment in error["message"]


def test_models_lists_routes_routers_and_the_pattern(stack: Any) -> None:
    models = {m.id: m for m in stack.client().models.list()}
    assert list(models) == ["auto", "length", "router-length-0.5"]
    assert "router-length-<threshold>" in str(models["router-length-0.5"].model_extra)


def test_health(stack: Any) -> None:
    body = httpx.get(f"{stack.url}/health").json()
    assert body["status"] == "ok"
    assert body["routers"] == ["length"]


class _SlowRouter(LengthRouter):
    """Sleeps while scoring prompts that mention `slow`: stands in for an expensive router."""

    def _score_texts(self, texts: list[str]) -> np.typing.NDArray[np.float64]:
        if any("slow" in t for t in texts):
            time.sleep(1.5)
        return super()._score_texts(texts)


class _SlowPlugin:
    @routerkit.hookimpl
    def register_routers(self, register: Any) -> None:
        register("slow_length", lambda **options: _SlowRouter(**options), needs_artifact=False)


def test_slow_routing_does_not_block_other_requests(start: Any, plugins: Any) -> None:
    plugins.register(_SlowPlugin(), name="slow-test")

    def use_slow_router(config: dict[str, Any]) -> None:
        config["routers"]["length"]["load"] = "slow_length"

    stack = start(edit=use_slow_router)
    done: list[str] = []

    def slow_request() -> None:
        reply = stack.client().chat.completions.create(model="auto", messages=[{"role": "user", "content": "slow"}])
        done.append(reply.choices[0].message.content)

    thread = threading.Thread(target=slow_request)
    thread.start()
    time.sleep(0.2)  # the slow request is now being routed
    with httpx.Client() as client:
        for _ in range(5):
            started = time.perf_counter()
            assert client.get(f"{stack.url}/health").status_code == 200
            assert time.perf_counter() - started < 0.25
            fast = client.post(
                f"{stack.url}/v1/chat/completions",
                json={"model": "auto", "messages": [{"role": "user", "content": "x"}]},
            )
            assert fast.status_code == 200
    assert not done, "the slow request should still be routing"
    thread.join(timeout=10)
    assert done == ["weak answers: slow"]
