"""Operations: client API keys, the body-size limit, JSON logs without prompt text, metrics."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from routerkit.server.chat import MAX_LOGGED_ROUTE
from routerkit.testing.upstream import Behaviour

CHAT = {"model": "auto", "messages": [{"role": "user", "content": "hi"}]}


def _with_auth(config: dict[str, Any]) -> None:
    config["auth"] = {"api_keys_env": "TEST_SERVER_KEYS"}


@pytest.fixture
def secured(start: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("TEST_SERVER_KEYS", "key-one, key-two")
    return start(edit=_with_auth, api_key="key-two")


@pytest.mark.parametrize("header", [None, "Bearer nope", "Basic key-one", "key-one"], ids=str)
def test_missing_or_wrong_key_is_a_401(secured: Any, header: str | None) -> None:
    headers = {"authorization": header} if header else {}
    response = httpx.post(f"{secured.url}/v1/chat/completions", json=CHAT, headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"
    assert secured.received("weak") == []


def test_sdk_with_a_wrong_key_gets_authentication_error(secured: Any) -> None:
    with (
        openai.OpenAI(base_url=f"{secured.url}/v1", api_key="wrong", max_retries=0) as client,
        pytest.raises(openai.AuthenticationError),
    ):
        client.models.list()


def test_configured_keys_are_accepted(secured: Any) -> None:
    completion = secured.client().chat.completions.create(**CHAT)
    assert completion.choices[0].message.content == "weak answers: hi"
    assert httpx.get(f"{secured.url}/metrics", headers={"authorization": "Bearer key-one"}).status_code == 200


def test_health_needs_no_key_but_metrics_does(secured: Any) -> None:
    assert httpx.get(f"{secured.url}/health").json()["status"] == "ok"
    assert httpx.get(f"{secured.url}/metrics").status_code == 401


def test_oversize_body_is_a_413(start: Any) -> None:
    stack = start(edit=lambda c: c.update(limits={"max_body_bytes": 2000}))
    big = {**CHAT, "messages": [{"role": "user", "content": "x" * 3000}]}
    with pytest.raises(openai.APIStatusError) as caught:
        stack.client().chat.completions.create(**big)
    assert caught.value.status_code == 413
    assert "2000 bytes" in caught.value.message

    def chunked() -> Iterator[bytes]:  # no Content-Length: the limit counts the bytes as they come
        yield json.dumps(big).encode()

    response = httpx.post(f"{stack.url}/v1/chat/completions", content=chunked())
    assert response.status_code == 413
    assert stack.received("weak") == []
    assert httpx.post(f"{stack.url}/v1/chat/completions", json=CHAT).status_code == 200


def test_logs_are_json_lines_without_prompt_text(stack: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="routerkit.server")
    secret = "my-very-private-prompt-text"
    stack.client().chat.completions.create(model="auto", messages=[{"role": "user", "content": secret}])
    records = [json.loads(r.getMessage()) for r in caplog.records if r.name == "routerkit.server"]
    assert all(secret not in json.dumps(r) for r in records)
    request = next(r for r in records if r["event"] == "request")
    assert request["route"] == "auto" and request["router"] == "length" and request["model"] == "weak"
    assert request["status"] == 200 and request["request_id"]
    assert {"score", "routing_ms", "upstream_ms", "total_ms"} <= set(request)


def test_a_long_route_is_cut_in_the_log(stack: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="routerkit.server")
    with pytest.raises(openai.NotFoundError):
        stack.client().chat.completions.create(model="x" * 5000, messages=[{"role": "user", "content": "hi"}])
    request = next(json.loads(r.getMessage()) for r in caplog.records if '"request"' in r.getMessage())
    assert request["route"] == "x" * MAX_LOGGED_ROUTE + "..."


def test_request_id_is_echoed_and_forwarded(stack: Any) -> None:
    response = httpx.post(f"{stack.url}/v1/chat/completions", json=CHAT, headers={"x-request-id": "abc-123"})
    assert response.headers["x-request-id"] == "abc-123"
    assert stack.upstreams["weak"].requests[-1].headers["x-request-id"] == "abc-123"


def _samples(url: str, headers: dict[str, str] | None = None) -> dict[str, float]:
    text = httpx.get(f"{url}/metrics", headers=headers).text
    return {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line[:1] != "#"}


def test_metrics_move(stack: Any) -> None:
    before = _samples(stack.url)
    client = stack.client()
    client.chat.completions.create(**CHAT)
    client.chat.completions.create(model="auto", messages=[{"role": "user", "content": stack.long_prompt}])
    after = _samples(stack.url)

    def moved(name: str) -> float:
        return after.get(name, 0.0) - before.get(name, 0.0)

    assert moved('routerkit_decisions_total{router="length",model="weak"}') == 1
    assert moved('routerkit_decisions_total{router="length",model="strong"}') == 1
    assert moved('routerkit_routing_latency_seconds_count{router="length"}') == 2
    assert moved('routerkit_upstream_latency_seconds_count{model="strong"}') == 1
    assert moved('routerkit_requests_total{status="200"}') == 2
    assert moved('routerkit_cost_usd_total{model="strong"}') > 0  # `strong` has a price; `weak` has none
    assert 'routerkit_cost_usd_total{model="weak"}' not in after
    text = httpx.get(f"{stack.url}/metrics")
    assert text.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert "# TYPE routerkit_routing_latency_seconds histogram" in text.text


def _request_records(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    records = [json.loads(r.getMessage()) for r in caplog.records if r.name == "routerkit.server"]
    return [r for r in records if r["event"] == "request"]


def test_answers_given_before_the_endpoint_are_counted_and_logged(
    start: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """401 (key guard), 413 (size limit) and 400/422 (body validation) never reach the chat endpoint."""
    monkeypatch.setenv("TEST_SERVER_KEYS", "key-one")

    def secured_and_small(config: dict[str, Any]) -> None:
        _with_auth(config)
        config["limits"] = {"max_body_bytes": 2000}

    secured = start(edit=secured_and_small, api_key="key-one")
    caplog.set_level(logging.INFO, logger="routerkit.server")
    url, key = f"{secured.url}/v1/chat/completions", {"authorization": "Bearer key-one"}
    big = {**CHAT, "messages": [{"role": "user", "content": "x" * 3000}]}
    statuses = [
        httpx.post(url, json=CHAT).status_code,
        httpx.post(url, json=big, headers=key).status_code,
        httpx.post(url, content=b"{not json", headers={**key, "content-type": "application/json"}).status_code,
        httpx.post(url, json={"model": "auto"}, headers=key).status_code,
    ]
    assert statuses == [401, 413, 400, 400]
    assert sorted(r["status"] for r in _request_records(caplog)) == sorted(statuses)
    metrics = _samples(secured.url, key)
    for status in set(statuses):
        assert metrics[f'routerkit_requests_total{{status="{status}"}}'] == statuses.count(status)
    assert secured.received("weak") == [] and secured.received("strong") == []


def test_a_client_that_leaves_before_its_answer_is_a_499(start: Any, caplog: pytest.LogCaptureFixture) -> None:
    stack = start(weak=Behaviour(always_fail=True, failure="hang", hang_s=1.0))
    caplog.set_level(logging.INFO, logger="routerkit.server")
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{stack.url}/v1/chat/completions", json=CHAT, timeout=0.2)
    deadline = time.monotonic() + 10
    while not _request_records(caplog) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [r["status"] for r in _request_records(caplog)] == [499]
    assert _samples(stack.url)['routerkit_requests_total{status="499"}'] == 1
