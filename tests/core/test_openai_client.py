"""`OpenAIClient` over real HTTP on loopback, against the fake OpenAI-compatible upstream."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
from collections.abc import Iterator

import pytest

pytest.importorskip("httpx")
pytest.importorskip("uvicorn")

import httpx
from routerkit.clients import Completion, ModelClient, OpenAIClient, Usage
from routerkit.errors import ConfigError, ModelCallError
from routerkit.testing.upstream import Behaviour, FakeUpstream, fake_openai_upstream, serve_in_thread

HELLO = [{"role": "user", "content": "hello there"}]
ANSWER = "up answers: hello there"


class Sleeps(list[float]):
    """Records the backoff waits instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)

    async def asleep(self, seconds: float) -> None:
        self.append(seconds)


@contextlib.contextmanager
def _serve(behaviour: Behaviour | None = None, api_key: str | None = None) -> Iterator[tuple[FakeUpstream, str]]:
    upstream = fake_openai_upstream("up", behaviour=behaviour, api_key=api_key)
    with serve_in_thread(upstream) as url:
        yield upstream, f"{url}/v1"


@pytest.fixture(scope="module")
def healthy() -> Iterator[tuple[FakeUpstream, str]]:
    with _serve() as served:
        yield served


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def _client(url: str, sleeps: Sleeps | None = None, **kwargs: object) -> OpenAIClient:
    waits = sleeps if sleeps is not None else Sleeps()
    settings: dict[str, object] = {"timeout_s": 2.0, "connect_timeout_s": 2.0, **kwargs}
    return OpenAIClient("up-model", base_url=url, sleep=waits, async_sleep=waits.asleep, **settings)  # type: ignore[arg-type]


def test_it_is_a_model_client(healthy: tuple[FakeUpstream, str]) -> None:
    with _client(healthy[1]) as client:
        assert isinstance(client, ModelClient)
        assert "key" not in repr(client)


def test_complete_parses_text_usage_and_cost(healthy: tuple[FakeUpstream, str]) -> None:
    with _client(healthy[1], input_usd_per_mtok=1.0, output_usd_per_mtok=10.0) as client:
        completion = client.complete(HELLO)
    assert completion.text == ANSWER
    assert completion.model == "up-model"
    assert completion.usage == Usage(input_tokens=2, output_tokens=4)
    assert completion.cost_usd == pytest.approx((2 * 1.0 + 4 * 10.0) / 1e6)
    assert isinstance(completion.raw, dict) and completion.raw["object"] == "chat.completion"


def test_cost_is_none_when_a_price_is_unknown(healthy: tuple[FakeUpstream, str]) -> None:
    with _client(healthy[1], input_usd_per_mtok=1.0) as client:
        assert client.complete(HELLO).cost_usd is None


def test_options_and_model_go_into_the_body(healthy: tuple[FakeUpstream, str]) -> None:
    upstream, url = healthy
    tools = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]
    with _client(url, model="upstream-id") as client:
        completion = client.complete(HELLO, temperature=0.2, max_tokens=7, tools=tools)
    body = upstream.requests[-1].json
    assert body == {"model": "upstream-id", "messages": HELLO, "temperature": 0.2, "max_tokens": 7, "tools": tools}
    assert completion.text == ""  # a tool call: no content
    assert completion.raw["choices"][0]["message"]["tool_calls"][0]["function"]["name"] == "lookup"  # type: ignore[index]


@pytest.mark.parametrize("option", ["model", "stream"])
def test_options_the_client_sets_itself_are_refused(healthy: tuple[FakeUpstream, str], option: str) -> None:
    with _client(healthy[1]) as client, pytest.raises(ConfigError, match=repr(option)):
        client.complete(HELLO, **{option: "x"})


def test_stream_yields_chunks_in_order_then_the_completion(healthy: tuple[FakeUpstream, str]) -> None:
    upstream, url = healthy
    with _client(url, input_usd_per_mtok=1.0, output_usd_per_mtok=1.0) as client:
        stream = client.stream(HELLO, temperature=0)
        assert stream.completion is None
        chunks = list(stream)
    assert len(chunks) == 4 and "".join(chunks) == ANSWER
    assert stream.completion == Completion(ANSWER, "up-model", Usage(2, 4), cost_usd=6 / 1e6)
    body = upstream.requests[-1].json
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert body["temperature"] == 0


def test_api_key_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROUTERKIT_TEST_UPSTREAM_KEY", "sk-test")
    with _serve(api_key="sk-test") as (upstream, url):
        with _client(url, api_key_env="ROUTERKIT_TEST_UPSTREAM_KEY") as client:
            assert client.complete(HELLO).text == ANSWER
        with _client(url, api_key="wrong") as client, pytest.raises(ModelCallError, match="HTTP 401"):
            client.complete(HELLO)
        assert upstream.requests[0].headers["authorization"] == "Bearer sk-test"


def test_a_missing_key_variable_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ROUTERKIT_TEST_UPSTREAM_KEY", raising=False)
    with pytest.raises(ConfigError, match="'ROUTERKIT_TEST_UPSTREAM_KEY'"):
        OpenAIClient("m", base_url="http://127.0.0.1:1/v1", api_key_env="ROUTERKIT_TEST_UPSTREAM_KEY")


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({"base_url": "127.0.0.1:8000/v1"}, id="no-scheme"),
        pytest.param({"timeout_s": 0}, id="zero-timeout"),
        pytest.param({"max_retries": -1}, id="negative-retries"),
        pytest.param({"input_usd_per_mtok": -1.0}, id="negative-price"),
        pytest.param({"api_key": "a", "api_key_env": "B"}, id="two-keys"),
    ],
)
def test_invalid_arguments_are_config_errors(kwargs: dict[str, object]) -> None:
    settings: dict[str, object] = {"base_url": "http://127.0.0.1:1/v1", **kwargs}
    with pytest.raises(ConfigError):
        OpenAIClient("m", **settings)  # type: ignore[arg-type]


def test_retries_with_backoff_then_succeeds(sleeps: Sleeps) -> None:
    with _serve(Behaviour(fail_first=2, status_code=503)) as (upstream, url):
        with _client(url, sleeps, max_retries=2) as client:
            assert client.complete(HELLO).text == ANSWER
        assert len(upstream.requests) == 3
    assert sleeps == [0.1, 0.2]


@pytest.mark.parametrize("status", [429, 500])
def test_gives_up_after_the_retries(sleeps: Sleeps, status: int) -> None:
    with _serve(Behaviour(always_fail=True, status_code=status)) as (upstream, url):
        with _client(url, sleeps, max_retries=1) as client, pytest.raises(ModelCallError) as caught:
            client.complete(HELLO)
        assert len(upstream.requests) == 2
    assert f"HTTP {status}" in str(caught.value) and "up failed on purpose" in str(caught.value)
    assert "2 attempt(s)" in str(caught.value)


def test_a_400_is_not_retried(sleeps: Sleeps) -> None:
    with _serve(Behaviour(always_fail=True, status_code=400)) as (upstream, url):
        with _client(url, sleeps) as client, pytest.raises(ModelCallError, match="HTTP 400: up failed on purpose"):
            client.complete(HELLO)
        assert len(upstream.requests) == 1
    assert sleeps == []


def test_a_hanging_upstream_times_out_then_the_retry_answers(sleeps: Sleeps) -> None:
    with _serve(Behaviour(fail_first=1, failure="hang", hang_s=5)) as (upstream, url):
        with _client(url, sleeps, timeout_s=0.2) as client:
            assert client.complete(HELLO).text == ANSWER
        assert len(upstream.requests) == 2


def test_a_hanging_upstream_ends_in_a_timeout_error(sleeps: Sleeps) -> None:
    with _serve(Behaviour(always_fail=True, failure="hang", hang_s=5)) as (_, url):
        client = _client(url, sleeps, timeout_s=0.1, max_retries=1)
        with client, pytest.raises(ModelCallError) as caught:
            client.complete(HELLO)
    assert "no answer within 0.1 s" in str(caught.value)


def test_a_dropped_connection_is_retried(sleeps: Sleeps) -> None:
    with _serve(Behaviour(fail_first=1, failure="disconnect")) as (upstream, url):
        with _client(url, sleeps) as client:
            assert client.complete(HELLO).text == ANSWER
        assert len(upstream.requests) == 2


def test_a_stream_broken_after_its_first_chunk_raises(sleeps: Sleeps) -> None:
    with _serve(Behaviour(always_fail=True, failure="disconnect")) as (upstream, url):
        with _client(url, sleeps) as client, pytest.raises(ModelCallError, match="broke after"):
            list(client.stream(HELLO))
        assert len(upstream.requests) == 1


def test_nothing_listens(sleeps: Sleeps) -> None:
    with _serve() as (_, dead):
        pass  # the server is gone once the block ends
    with _client(dead, sleeps, max_retries=1) as client, pytest.raises(ModelCallError, match="connection failed"):
        client.complete(HELLO)
    assert sleeps == [0.1]


def test_async_twins(healthy: tuple[FakeUpstream, str]) -> None:
    async def run() -> tuple[Completion, list[str], Completion | None]:
        async with _client(healthy[1], input_usd_per_mtok=0.0, output_usd_per_mtok=0.0) as client:
            completion = await client.acomplete(HELLO)
            stream = client.astream(HELLO)
            chunks = [chunk async for chunk in stream]
            return completion, chunks, stream.completion

    completion, chunks, streamed = asyncio.run(run())
    assert completion.text == ANSWER and completion.cost_usd == 0.0
    assert "".join(chunks) == ANSWER and len(chunks) == 4
    assert streamed is not None and streamed.usage == Usage(2, 4)


def test_async_retries_then_gives_up_without_retrying_a_400(sleeps: Sleeps) -> None:
    async def run(url: str) -> None:
        async with _client(url, sleeps, timeout_s=0.2) as client:
            assert (await client.acomplete(HELLO)).text == ANSWER
            with pytest.raises(ModelCallError, match="HTTP 400"):
                await client.acomplete([])  # the fake refuses empty messages with a 400

    with _serve(Behaviour(fail_first=1, failure="hang", hang_s=5)) as (upstream, url):
        asyncio.run(run(url))
        assert len(upstream.requests) == 3
    assert sleeps == [0.1]


def test_async_gives_up_after_the_retries(sleeps: Sleeps) -> None:
    async def run(url: str) -> None:
        async with _client(url, sleeps, max_retries=2) as client:
            await client.acomplete(HELLO)

    with _serve(Behaviour(always_fail=True)) as (_, url), pytest.raises(ModelCallError, match="3 attempt"):
        asyncio.run(run(url))
    assert sleeps == [0.1, 0.2]


def test_every_name_of_the_clients_package_resolves() -> None:
    import routerkit.clients

    for name in routerkit.clients.__all__:
        assert getattr(routerkit.clients, name).__doc__, name


def test_importing_the_clients_package_does_not_import_httpx() -> None:
    code = "import sys, routerkit, routerkit.clients; print('httpx' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def _answer_with_logprobs(logprobs: object) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        choice = {"index": 0, "message": {"role": "assistant", "content": "Paris"}, "logprobs": logprobs}
        return httpx.Response(200, json={"choices": [choice], "usage": {"prompt_tokens": 5, "completion_tokens": 1}})

    return httpx.MockTransport(handle)


@pytest.mark.parametrize(
    ("logprobs", "expected"),
    [
        ({"content": [{"token": "Par", "logprob": -0.25}, {"token": "is", "logprob": 0}]}, (-0.25, 0.0)),
        (None, None),
        ({"content": []}, None),
        ({"content": [{"token": "Par", "logprob": True}]}, None),  # a bool is not a log-probability
        ({"content": [{"token": "Par"}]}, None),
    ],
)
def test_token_logprobs_are_returned_when_the_upstream_sends_them(logprobs: object, expected: object) -> None:
    transport = _answer_with_logprobs(logprobs)
    with OpenAIClient("m", base_url="http://upstream/v1", http_client=httpx.Client(transport=transport)) as client:
        completion = client.complete([{"role": "user", "content": "Capital of France?"}], logprobs=True)
    assert (completion.text, completion.logprobs) == ("Paris", expected)
