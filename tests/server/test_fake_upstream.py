"""The fake OpenAI upstream speaks the protocol, scripts failures and records what it received."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import openai
import pytest
from routerkit.errors import ConfigError
from routerkit.testing.upstream import Behaviour, FakeUpstream, fake_openai_upstream, serve_in_thread
from starlette.applications import Starlette

HELLO = {"model": "gpt-test", "messages": [{"role": "user", "content": "What is two plus two?"}]}
TOOLS = [
    {"type": "function", "function": {"name": "add", "parameters": {"type": "object", "properties": {}}}},
    {"type": "function", "function": {"name": "mul", "parameters": {"type": "object", "properties": {}}}},
]


@contextlib.contextmanager
def client_for(upstream: FakeUpstream, timeout: float = 5.0) -> Iterator[httpx.Client]:
    """A client whose base URL is the upstream served on loopback."""
    with serve_in_thread(upstream) as url, httpx.Client(base_url=f"{url}/v1", timeout=timeout) as client:
        yield client


def events(response: httpx.Response) -> list[Any]:
    """The `data:` payloads of an SSE body, JSON-decoded except the final `[DONE]`."""
    lines = [line for line in response.text.split("\n\n") if line]
    assert all(line.startswith("data: ") for line in lines)
    return [line[6:] if line == "data: [DONE]" else json.loads(line[6:]) for line in lines]


def test_json_completion_names_the_upstream_and_counts_usage() -> None:
    with client_for(fake_openai_upstream("weak")) as client:
        body = client.post("/chat/completions", json=HELLO).json()
    assert body["object"] == "chat.completion"
    assert body["model"] == "gpt-test"
    assert body["choices"][0]["message"] == {
        "role": "assistant",
        "content": "weak answers: What is two plus two?",
        "refusal": None,
    }
    assert body["choices"][0]["finish_reason"] == "stop"
    assert body["usage"] == {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12}


def test_stream_is_server_sent_events_ending_with_done() -> None:
    upstream = fake_openai_upstream("strong", behaviour=Behaviour(chunks=3))
    with client_for(upstream) as client:
        response = client.post("/chat/completions", json={**HELLO, "stream": True})
    assert response.headers["content-type"].startswith("text/event-stream")
    chunks = events(response)
    assert chunks[-1] == "[DONE]"
    assert len(chunks) == 1 + 3 + 1 + 1  # role, content pieces, finish, [DONE]
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks[:-1])
    assert text == "strong answers: What is two plus two?"
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert all("usage" not in c for c in chunks[:-1])


def test_stream_carries_usage_last_when_asked() -> None:
    request = {**HELLO, "stream": True, "stream_options": {"include_usage": True}}
    with client_for(fake_openai_upstream("weak")) as client:
        chunks = events(client.post("/chat/completions", json=request))
    assert chunks[-2]["choices"] == []
    assert chunks[-2]["usage"]["total_tokens"] == 12
    assert all(c["usage"] is None for c in chunks[:-2])


@pytest.mark.parametrize(
    ("choice", "called"),
    [(None, "add"), ("auto", "add"), ({"type": "function", "function": {"name": "mul"}}, "mul"), ("none", None)],
    ids=["default", "auto", "forced", "none"],
)
def test_tools_give_a_tool_call(choice: object, called: str | None) -> None:
    request: dict[str, Any] = {**HELLO, "tools": TOOLS}
    if choice is not None:
        request["tool_choice"] = choice
    with client_for(fake_openai_upstream("weak")) as client:
        message = client.post("/chat/completions", json=request).json()["choices"][0]["message"]
        streamed = events(client.post("/chat/completions", json={**request, "stream": True}))
    if called is None:
        assert "tool_calls" not in message
        return
    assert message["content"] is None
    assert message["tool_calls"] == [
        {"id": "call_weak_1", "type": "function", "function": {"name": called, "arguments": "{}"}}
    ]
    assert streamed[0]["choices"][0]["delta"]["tool_calls"][0]["function"]["name"] == called
    assert streamed[-2]["choices"][0]["finish_reason"] == "tool_calls"


def test_the_openai_sdk_reads_it() -> None:
    with serve_in_thread(fake_openai_upstream("weak")) as url:
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)
        with client:
            messages: Any = HELLO["messages"]
            stream = client.chat.completions.create(model="m", messages=messages, stream=True)
            text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
            tools: Any = TOOLS
            reply = client.chat.completions.create(model="m", messages=messages, tools=tools)
            models = [model.id for model in client.models.list()]
    assert text == "weak answers: What is two plus two?"
    assert reply.choices[0].message.tool_calls is not None
    assert reply.choices[0].message.tool_calls[0].type == "function"
    assert models == ["weak"]


def test_models_lists_the_upstream() -> None:
    with client_for(fake_openai_upstream("local")) as client:
        assert [m["id"] for m in client.get("/models").json()["data"]] == ["local"]


def test_fail_first_then_answer_and_requests_are_recorded() -> None:
    upstream = fake_openai_upstream("flaky", behaviour=Behaviour(fail_first=2))
    with client_for(upstream) as client:
        statuses = [client.post("/chat/completions", json=HELLO).status_code for _ in range(3)]
        error = client.post("/chat/completions", json={"model": 1}).json()["error"]
    assert statuses == [500, 500, 200]
    assert set(error) == {"message", "type", "param", "code"}
    assert [r.json for r in upstream.requests[:3]] == [HELLO] * 3
    assert upstream.requests[0].method == "POST"
    assert upstream.requests[0].path == "/v1/chat/completions"
    assert upstream.requests[0].headers["content-type"] == "application/json"


def test_always_fail_with_a_chosen_status() -> None:
    upstream = fake_openai_upstream("down", behaviour=Behaviour(always_fail=True, status_code=503))
    with client_for(upstream) as client:
        responses = [client.post("/chat/completions", json=HELLO) for _ in range(3)]
    assert [r.status_code for r in responses] == [503] * 3
    assert responses[0].json()["error"]["message"] == "down failed on purpose."


def test_hang_outlasts_a_client_timeout_then_answers() -> None:
    upstream = fake_openai_upstream("slow", behaviour=Behaviour(fail_first=1, failure="hang", hang_s=0.5))
    with client_for(upstream, timeout=0.1) as client:
        with pytest.raises(httpx.ReadTimeout):
            client.post("/chat/completions", json=HELLO)
        assert client.post("/chat/completions", json=HELLO).status_code == 200


def test_hang_answers_after_its_delay() -> None:
    upstream = fake_openai_upstream("slow", behaviour=Behaviour(always_fail=True, failure="hang", hang_s=0.2))
    with client_for(upstream) as client:
        start = time.monotonic()
        assert client.post("/chat/completions", json=HELLO).status_code == 200
    assert time.monotonic() - start >= 0.2


def test_disconnect_drops_the_connection() -> None:
    upstream = fake_openai_upstream("broken", behaviour=Behaviour(always_fail=True, failure="disconnect"))
    with client_for(upstream) as client:
        with pytest.raises(httpx.RemoteProtocolError):
            client.post("/chat/completions", json=HELLO)
        received: list[str] = []
        with (
            pytest.raises(httpx.RemoteProtocolError),
            client.stream("POST", "/chat/completions", json={**HELLO, "stream": True}) as response,
        ):
            received.extend(response.iter_lines())
    assert received[0].startswith("data: {")
    assert "data: [DONE]" not in received


def test_slow_stream_delays_each_chunk() -> None:
    upstream = fake_openai_upstream("slow", behaviour=Behaviour(chunks=5, chunk_delay_s=0.03))
    with client_for(upstream) as client:
        start = time.monotonic()
        chunks = events(client.post("/chat/completions", json={**HELLO, "stream": True}))
    assert len(chunks) == 8
    assert time.monotonic() - start >= 7 * 0.03


def test_api_key_is_required_when_set() -> None:
    upstream = fake_openai_upstream("private", api_key="sk-test")
    with client_for(upstream) as client:
        refused = client.post("/chat/completions", json=HELLO)
        allowed = client.post("/chat/completions", json=HELLO, headers={"Authorization": "Bearer sk-test"})
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "invalid_api_key"
    assert allowed.status_code == 200
    assert upstream.requests[1].headers["authorization"] == "Bearer sk-test"


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[]", b'{"model": "m"}', b'{"model": "m", "messages": []}', b'{"model": "m", "messages": [1]}'],
    ids=["not-json", "array", "no-messages", "empty-messages", "bad-message"],
)
def test_malformed_requests_get_a_400(body: bytes) -> None:
    with client_for(fake_openai_upstream("strict")) as client:
        response = client.post("/chat/completions", content=body)
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"


def test_content_parts_are_read_as_text() -> None:
    parts = [{"type": "text", "text": "Describe"}, {"type": "image_url", "image_url": {"url": "x"}}]
    request = {"model": "m", "messages": [{"role": "user", "content": parts}]}
    with client_for(fake_openai_upstream("vision")) as client:
        body = client.post("/chat/completions", json=request).json()
    assert body["choices"][0]["message"]["content"] == "vision answers: Describe"


@pytest.mark.parametrize(
    "options",
    [{"fail_first": -1}, {"chunks": 0}, {"status_code": 200}, {"chunk_delay_s": -0.1}],
    ids=["fail_first", "chunks", "status_code", "chunk_delay_s"],
)
def test_behaviour_refuses_impossible_values(options: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match=next(iter(options))):
        Behaviour(**options)


def test_serve_in_thread_reports_a_failed_startup() -> None:
    @contextlib.asynccontextmanager
    async def broken(app: Starlette) -> AsyncIterator[None]:
        raise RuntimeError("cannot start")
        yield

    with pytest.raises(RuntimeError, match="failed to start"), serve_in_thread(Starlette(lifespan=broken)):
        pass  # pragma: no cover


def test_import_routerkit_does_not_import_the_testing_package() -> None:
    code = (
        "import sys, routerkit; routerkit.load('length', strong='s', weak='w').route('hi'); "
        "print(','.join(m for m in ('routerkit.testing', 'starlette', 'uvicorn') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
