"""Upstream failures: retries on the chosen model, fallback to the other, and the error when all fail."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import httpx
import openai
import pytest
from routerkit.testing.upstream import Behaviour

HANG = Behaviour(always_fail=True, failure="hang", hang_s=10)


def _short_timeouts(config: dict[str, Any]) -> None:
    for model in config["models"].values():
        model["timeout_s"] = 0.3


def _metric(url: str, prefix: str) -> float:
    lines = httpx.get(f"{url}/metrics").text.splitlines()
    return sum(float(line.split()[-1]) for line in lines if line.startswith(prefix))


def test_fallback_after_retries_on_upstream_500(start: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="routerkit.server")
    stack = start(strong=Behaviour(always_fail=True))
    raw = stack.client().chat.completions.with_raw_response.create(
        model="auto", messages=[{"role": "user", "content": stack.long_prompt}]
    )
    assert raw.parse().choices[0].message.content.startswith("weak answers:")
    assert raw.headers["x-routerkit-model"] == "weak"
    assert raw.headers["x-routerkit-routed-model"] == "strong"
    assert len(stack.received("strong")) == 2  # the first try and `max_retries: 1`
    assert _metric(stack.url, 'routerkit_upstream_errors_total{model="strong",reason="http_500"}') == 2
    assert _metric(stack.url, 'routerkit_fallbacks_total{model="weak"}') == 1
    failures = [json.loads(r.message) for r in caplog.records if '"upstream_failure"' in r.message]
    assert [(f["model"], f["attempt"], f["reason"]) for f in failures] == [
        ("strong", 1, "http_500"),
        ("strong", 2, "http_500"),
    ]


def test_retry_on_the_same_model_succeeds(start: Any) -> None:
    stack = start(strong=Behaviour(fail_first=1, status_code=503))
    completion = stack.client().chat.completions.create(
        model="auto", messages=[{"role": "user", "content": stack.long_prompt}]
    )
    assert completion.choices[0].message.content.startswith("strong answers:")
    assert stack.received("weak") == []


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
    assert time.perf_counter() - started < 2.0  # two 0.3 s attempts on `weak`, then `strong`
    assert _metric(stack.url, 'routerkit_upstream_errors_total{model="weak",reason="timeout"}') == 2


def test_every_upstream_timing_out_is_a_504(start: Any) -> None:
    stack = start(strong=HANG, weak=HANG, edit=_short_timeouts)
    with pytest.raises(openai.APIStatusError) as caught:
        stack.client().chat.completions.create(model="auto", messages=[{"role": "user", "content": "hi"}])
    assert caught.value.status_code == 504
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
