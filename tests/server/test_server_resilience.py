"""Upstream failures: retries on the chosen model, fallback to the other, and the error when all fail."""

from __future__ import annotations

import json
import logging
import socket
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import openai
import pytest
from routerkit.server.chat import DEFAULT_RETRY_AFTER_S
from routerkit.testing.upstream import Behaviour
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

HANG = Behaviour(always_fail=True, failure="hang", hang_s=10)


def _short_timeouts(config: dict[str, Any]) -> None:
    for model in config["models"].values():
        model["timeout_s"] = 0.3


def _metric(url: str, prefix: str) -> float:
    lines = httpx.get(f"{url}/metrics").text.splitlines()
    return sum(float(line.split()[-1]) for line in lines if line.startswith(prefix))


def _closed_port_url() -> str:
    with socket.socket() as sock:  # bound, then closed: nothing listens there
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def _rate_limited(retry_after: str | None, seen: list[str]) -> Starlette:
    async def chat(request: Request) -> Response:
        seen.append(request.url.path)
        body = {"error": {"message": "slow down", "type": "requests", "param": None, "code": "rate_limit_exceeded"}}
        return JSONResponse(body, 429, headers={"retry-after": retry_after} if retry_after else None)

    return Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"])])


def test_upstream_500_falls_back_without_a_retry(start: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="routerkit.server")
    stack = start(strong=Behaviour(always_fail=True))
    raw = stack.client().chat.completions.with_raw_response.create(
        model="auto", messages=[{"role": "user", "content": stack.long_prompt}]
    )
    assert raw.parse().choices[0].message.content.startswith("weak answers:")
    assert raw.headers["x-routerkit-model"] == "weak"
    assert raw.headers["x-routerkit-routed-model"] == "strong"
    assert len(stack.received("strong")) == 1  # a 500 may have been billed: never asked twice
    assert _metric(stack.url, 'routerkit_upstream_errors_total{model="strong",reason="http_500"}') == 1
    assert _metric(stack.url, 'routerkit_fallbacks_total{model="weak"}') == 1
    failures = [json.loads(r.message) for r in caplog.records if '"upstream_failure"' in r.message]
    assert [(f["model"], f["attempt"], f["reason"]) for f in failures] == [("strong", 1, "http_500")]


@pytest.mark.parametrize("status", [502, 503], ids=["bad-gateway", "unavailable"])
def test_retry_on_the_same_model_succeeds(start: Any, status: int) -> None:
    stack = start(strong=Behaviour(fail_first=1, status_code=status))
    completion = stack.client().chat.completions.create(
        model="auto", messages=[{"role": "user", "content": stack.long_prompt}]
    )
    assert completion.choices[0].message.content.startswith("strong answers:")
    assert len(stack.received("strong")) == 2
    assert stack.received("weak") == []


@pytest.mark.parametrize("status", [429, 500, 504], ids=["rate-limited", "server-error", "gateway-timeout"])
def test_other_failures_are_not_retried_on_the_same_model(start: Any, status: int) -> None:
    stack = start(weak=Behaviour(fail_first=1, status_code=status))
    completion = stack.client().chat.completions.create(model="auto", messages=[{"role": "user", "content": "hi"}])
    assert completion.choices[0].message.content.startswith("strong answers:")
    assert len(stack.received("weak")) == 1


def test_connection_refused_is_retried_then_falls_back(start: Any) -> None:
    def unreachable_weak(config: dict[str, Any]) -> None:
        config["models"]["weak"]["base_url"] = f"{_closed_port_url()}/v1"

    stack = start(edit=unreachable_weak)
    completion = stack.client().chat.completions.create(model="auto", messages=[{"role": "user", "content": "hi"}])
    assert completion.choices[0].message.content.startswith("strong answers:")
    # No connection, no billed work: tried again (`max_retries: 1`) before falling back.
    assert _metric(stack.url, 'routerkit_upstream_errors_total{model="weak",reason="connection"}') == 2


@pytest.mark.parametrize(
    ("strong_wait", "weak_wait", "expected"),
    [("7", "3", "7"), (None, "2.5", "3"), (None, None, str(DEFAULT_RETRY_AFTER_S))],
    ids=["largest", "rounded-up", "default"],
)
def test_every_upstream_rate_limited_is_a_429_with_retry_after(
    start: Any, serve: Any, strong_wait: str | None, weak_wait: str | None, expected: str
) -> None:
    seen: dict[str, list[str]] = {"strong": [], "weak": []}
    urls = {
        "strong": serve(_rate_limited(strong_wait, seen["strong"])),
        "weak": serve(_rate_limited(weak_wait, seen["weak"])),
    }

    def rate_limited(config: dict[str, Any]) -> None:
        for name, url in urls.items():
            config["models"][name]["base_url"] = f"{url}/v1"

    stack = start(edit=rate_limited)
    with pytest.raises(openai.RateLimitError) as caught:
        stack.client().chat.completions.create(model="auto", messages=[{"role": "user", "content": "hi"}])
    assert caught.value.response.headers["retry-after"] == expected
    assert caught.value.response.json()["error"]["code"] == "rate_limit_exceeded"
    assert (len(seen["strong"]), len(seen["weak"])) == (1, 1)  # a 429 is not retried on the same model


def test_502_after_every_fallback_tells_the_sdk_not_to_retry(start: Any) -> None:
    stack = start(strong=Behaviour(always_fail=True), weak=Behaviour(always_fail=True))
    with pytest.raises(openai.APIStatusError) as caught:
        stack.client(max_retries=2).chat.completions.create(model="auto", messages=[{"role": "user", "content": "hi"}])
    assert caught.value.status_code == 502
    assert caught.value.response.headers["x-should-retry"] == "false"
    assert (len(stack.received("weak")), len(stack.received("strong"))) == (1, 1)  # the SDK did not retry


def test_every_upstream_failing_is_a_502_naming_them(start: Any) -> None:
    stack = start(strong=Behaviour(always_fail=True), weak=Behaviour(always_fail=True, status_code=429))
    with pytest.raises(openai.APIStatusError) as caught:
        stack.client().chat.completions.with_raw_response.create(
            model="auto", messages=[{"role": "user", "content": "hi"}]
        )
    response = caught.value.response
    assert response.status_code == 502
    assert response.headers["x-routerkit-model"] == "weak"  # the decision headers are there too
    error = response.json()["error"]
    assert error["code"] == "upstream_error"
    assert "'weak': HTTP 429" in error["message"] and "'strong': HTTP 500" in error["message"]


def _with_credentials_in_urls(config: dict[str, Any]) -> None:
    for model in config["models"].values():
        model["base_url"] = model["base_url"].replace("http://", "http://user:s3cret@")


def test_failure_message_names_models_and_reasons_only(start: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="routerkit.server")
    stack = start(strong=Behaviour(always_fail=True), weak=Behaviour(always_fail=True), edit=_with_credentials_in_urls)
    with pytest.raises(openai.APIStatusError) as caught:
        stack.client().chat.completions.create(model="auto", messages=[{"role": "user", "content": "hi"}])
    message = caught.value.response.json()["error"]["message"]
    assert "'weak': HTTP 500" in message and "'strong': HTTP 500" in message
    for leak in ("s3cret", "127.0.0.1", "failed on purpose"):  # no URL, no credentials, no upstream body
        assert leak not in message
    details = [json.loads(r.message)["detail"] for r in caplog.records if '"upstream_failure"' in r.message]
    assert details and all("127.0.0.1" in d and "failed on purpose" in d for d in details)  # the log has it all
    assert not any("s3cret" in r.message or "user:" in r.message for r in caplog.records)  # but no credentials


def test_timeout_falls_back(start: Any) -> None:
    stack = start(weak=HANG, edit=_short_timeouts)
    started = time.perf_counter()
    completion = stack.client().chat.completions.create(model="auto", messages=[{"role": "user", "content": "hi"}])
    assert completion.choices[0].message.content.startswith("strong answers:")
    assert time.perf_counter() - started < 1.5  # one 0.3 s attempt on `weak`, then `strong`
    assert _metric(stack.url, 'routerkit_upstream_errors_total{model="weak",reason="timeout"}') == 1
    assert len(stack.received("weak")) == 1  # a read timeout is not retried: `weak` may still be generating


def test_every_upstream_timing_out_is_a_504(start: Any) -> None:
    stack = start(strong=HANG, weak=HANG, edit=_short_timeouts)
    with pytest.raises(openai.APIStatusError) as caught:
        stack.client().chat.completions.create(model="auto", messages=[{"role": "user", "content": "hi"}])
    assert caught.value.status_code == 504
    assert caught.value.response.headers["x-should-retry"] == "false"
    assert "'weak': timeout" in caught.value.message and "'strong': timeout" in caught.value.message
    assert "0.3 s" not in caught.value.message  # the details are in the log only


def test_stream_falls_back_before_the_first_byte(start: Any) -> None:
    stack = start(weak=Behaviour(always_fail=True))
    raw = stack.client().chat.completions.with_raw_response.create(
        model="auto", messages=[{"role": "user", "content": "hi"}], stream=True
    )
    assert raw.headers["x-routerkit-model"] == "strong"
    text = "".join(c.choices[0].delta.content or "" for c in raw.parse() if c.choices)
    assert text == "strong answers: hi"


def test_stream_that_hangs_before_the_first_byte_falls_back(start: Any) -> None:
    stack = start(weak=HANG, edit=_short_timeouts)
    stream = stack.client().chat.completions.create(
        model="auto", messages=[{"role": "user", "content": "hi"}], stream=True
    )
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == "strong answers: hi"


def test_stream_broken_after_the_first_byte_ends_with_an_error_event(start: Any) -> None:
    stack = start(weak=Behaviour(always_fail=True, failure="disconnect"))
    stream = stack.client().chat.completions.create(
        model="auto", messages=[{"role": "user", "content": "hi"}], stream=True
    )
    received = []
    with pytest.raises(openai.APIError, match="failed mid-stream"):
        for chunk in stream:
            received.append(chunk)
    assert len(received) == 1  # what was relayed stays relayed; no second answer is spliced in
    assert stack.received("strong") == []
    assert _metric(stack.url, 'routerkit_requests_total{status="502"}') == 1


def test_upstream_key_comes_from_its_env_var(start: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_WEAK_KEY", "sk-upstream")

    def with_key(config: dict[str, Any]) -> None:
        config["models"]["weak"]["api_key_env"] = "TEST_WEAK_KEY"

    stack = start(edit=with_key, upstream_keys={"weak": "sk-upstream"}, api_key="client-key")
    completion = stack.client().chat.completions.create(model="auto", messages=[{"role": "user", "content": "hi"}])
    assert completion.choices[0].message.content.startswith("weak answers:")
    headers = stack.upstreams["weak"].requests[0].headers
    assert headers["authorization"] == "Bearer sk-upstream"  # never the client's own key


DEEP = b"[" * 100_000 + b"]" * 100_000
"""JSON nested far deeper than Python's parser allows (it raises `RecursionError`)."""


def _deep_json_upstream(stream: bool) -> Starlette:
    chunk = {"id": "c1", "object": "chat.completion.chunk", "created": 0, "model": "m"}
    delta = {**chunk, "choices": [{"index": 0, "delta": {"content": "deep"}, "finish_reason": None}]}

    async def events() -> AsyncIterator[bytes]:
        yield b"data: " + json.dumps(delta).encode() + b"\n\n"
        yield b'data: {"usage": ' + DEEP + b"}\n\n"
        yield b"data: [DONE]\n\n"

    async def chat(request: Request) -> Response:
        if stream:
            return StreamingResponse(events(), media_type="text/event-stream")
        return Response(b'{"usage": ' + DEEP + b"}", media_type="application/json")

    return Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"])])


def _weak_at(url: str) -> Callable[[dict[str, Any]], None]:
    def edit(config: dict[str, Any]) -> None:
        config["models"]["weak"]["base_url"] = f"{url}/v1"

    return edit


def test_too_deeply_nested_json_is_a_bad_answer_and_falls_back(start: Any, serve: Any) -> None:
    stack = start(edit=_weak_at(serve(_deep_json_upstream(stream=False))))
    completion = stack.client().chat.completions.create(model="auto", messages=[{"role": "user", "content": "hi"}])
    assert completion.choices[0].message.content.startswith("strong answers:")
    assert _metric(stack.url, 'routerkit_upstream_errors_total{model="weak",reason="invalid_response"}') == 1


def test_a_too_deeply_nested_usage_event_is_relayed_but_not_counted(start: Any, serve: Any) -> None:
    stack = start(edit=_weak_at(serve(_deep_json_upstream(stream=True))))
    body = {"model": "auto", "messages": [{"role": "user", "content": "hi"}], "stream": True}
    with httpx.stream("POST", f"{stack.url}/v1/chat/completions", json=body) as response:
        relayed = b"".join(response.iter_bytes())  # the SDK itself could not parse the deep event
    assert response.status_code == 200
    assert DEEP in relayed and relayed.endswith(b"data: [DONE]\n\n")
    assert _metric(stack.url, 'routerkit_tokens_total{model="weak"') == 0
    assert _metric(stack.url, 'routerkit_requests_total{status="200"}') == 1
