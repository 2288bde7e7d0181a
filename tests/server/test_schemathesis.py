"""Property-based fuzzing of the server from its own OpenAPI schema: no request makes it fail with a 5xx.

The server runs under uvicorn in front of two fake upstreams that never fail, so a 502/504 (an upstream
failure) cannot arise: any 5xx is a bug. Schemathesis generates requests for every operation from
`/openapi.json`; a second test drives `POST /v1/chat/completions` with valid `model` values and
arbitrary messages, so the fuzzing reaches routing and the upstream relay, not only the 404 for an
unknown model.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from routerkit.server import ServerConfig, create_app, load_config
from routerkit.testing.upstream import fake_openai_upstream, serve_in_thread
from schemathesis.checks import not_a_server_error

MODELS = ["length", "auto", "router-length-0", "router-length-0.3", "router-length-1"]
FUZZ = settings(max_examples=50, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)


def _raw(urls: dict[str, str]) -> dict[str, Any]:
    length = {
        "load": "length",
        "options": {"strong": "big", "weak": "small"},
        "models": {"big": "strong", "small": "weak"},
    }
    return {
        "models": {
            name: {"base_url": f"{url}/v1", "model": f"{name}-model", "timeout_s": 5} for name, url in urls.items()
        },
        "routers": {"length": length},
        "routes": {"auto": {"router": "length", "threshold": 0.2}},
    }


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The routing server's root URL, in front of fake upstreams `strong` and `weak`."""
    with contextlib.ExitStack() as stack:
        urls = {name: stack.enter_context(serve_in_thread(fake_openai_upstream(name))) for name in ("strong", "weak")}
        path = tmp_path_factory.mktemp("schemathesis") / "routes.yaml"
        path.write_text(json.dumps(_raw(urls)), encoding="utf-8")  # JSON is valid YAML
        config = load_config(path)
        yield stack.enter_context(serve_in_thread(create_app(config)))


# The schema does not depend on where the upstreams are, so it is taken from an app that is never served
# (`schemathesis.pytest.from_fixture` would load it from the running server, but fails on pytest 9).
_UNSERVED = {"strong": "http://127.0.0.1:9", "weak": "http://127.0.0.1:9"}
schema = schemathesis.openapi.from_dict(create_app(ServerConfig.model_validate(_raw(_UNSERVED))).openapi())


@schema.parametrize()
@FUZZ
def test_no_generated_request_gets_a_server_error(case: Any, server_url: str) -> None:
    case.call_and_validate(base_url=server_url, checks=[not_a_server_error])


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
CONTENT = st.text(max_size=600) | st.lists(
    st.fixed_dictionaries({"type": st.sampled_from(["text", "image_url"]), "text": st.text(max_size=40)}), max_size=3
)
MESSAGE = st.fixed_dictionaries(
    {"role": st.sampled_from(["user", "assistant", "system", "tool", "developer"]) | st.text(max_size=5)},
    optional={"content": CONTENT | JSON, "name": JSON, "tool_calls": JSON},
)
EXTRA = st.fixed_dictionaries({}, optional={"tools": JSON, "tool_choice": JSON, "temperature": JSON, "n": JSON})


@FUZZ
@given(
    model=st.sampled_from(MODELS),
    messages=st.lists(MESSAGE, min_size=1, max_size=4) | JSON,
    stream=st.booleans(),
    extra=EXTRA,
)
def test_routed_chat_requests_never_get_a_server_error(
    server_url: str, model: str, messages: Any, stream: bool, extra: dict[str, Any]
) -> None:
    body = {**extra, "model": model, "messages": messages, "stream": stream}
    with httpx.Client(timeout=10) as client:
        response = client.post(f"{server_url}/v1/chat/completions", json=body)
    assert response.status_code < 500, (body, response.status_code, response.text)
    if response.status_code == 200:
        assert response.headers["x-routerkit-router"] == "length"
        assert response.headers["x-routerkit-model"] in {"strong", "weak"}
    else:
        assert set(response.json()["error"]) >= {"message", "type", "param", "code"}
