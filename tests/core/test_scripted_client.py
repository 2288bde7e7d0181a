"""`ScriptedClient`: scripted answers, recorded calls, scripted failures, usage and cost."""

from __future__ import annotations

import asyncio

import pytest
from routerkit.clients import ChatMessages, ModelClient, Usage, resolve_client
from routerkit.errors import ConfigError, ModelCallError
from routerkit.plugins import Plugins
from routerkit.testing import ScriptedCall, ScriptedClient

ASK = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "2 + 2?"}]


def test_it_is_a_model_client_that_resolves_to_itself() -> None:
    client = ScriptedClient("weak", ["4"])
    assert isinstance(client, ModelClient)
    assert resolve_client(client, plugins=Plugins()) is client


def test_answers_come_in_turn_and_start_again() -> None:
    client = ScriptedClient("weak", ["a", "b"])
    assert [client.complete(ASK).text for _ in range(3)] == ["a", "b", "a"]


def test_a_function_answers_from_the_messages() -> None:
    def echo(messages: ChatMessages) -> str:
        return messages[-1]["content"].upper()

    assert ScriptedClient("echo", echo).complete([{"role": "user", "content": "hi"}]).text == "HI"


def test_calls_are_recorded_with_their_options() -> None:
    client = ScriptedClient("weak", ["4"])
    completion = client.complete(ASK, temperature=0)
    assert client.calls == [ScriptedCall("complete", [dict(m) for m in ASK], {"temperature": 0}, completion)]


def test_the_first_calls_fail_then_it_answers() -> None:
    client = ScriptedClient("weak", ["4", "5"], fail_times=2)
    for _ in range(2):
        with pytest.raises(ModelCallError, match="'weak' failed call"):
            client.complete(ASK)
    assert client.complete(ASK).text == "4"  # failed calls use up no answer
    assert [call.completion is None for call in client.calls] == [True, True, False]


def test_default_usage_counts_words_and_prices_give_the_cost() -> None:
    completion = ScriptedClient("weak", ["four, I think"], prices=(1.0, 2.0)).complete(ASK)
    assert completion.usage == Usage(input_tokens=5, output_tokens=3)  # "Be brief." + "2 + 2?"
    assert completion.cost_usd == pytest.approx((5 * 1.0 + 3 * 2.0) / 1e6)
    assert completion.model == "weak"


def test_given_usage_and_no_prices() -> None:
    completion = ScriptedClient("weak", ["4"], usage=Usage(10, 1)).complete(ASK)
    assert completion.usage == Usage(10, 1) and completion.cost_usd is None


def test_streams_split_into_words_that_join_back() -> None:
    client = ScriptedClient("weak", ["The answer is  4."])
    chunks = list(client.stream(ASK))
    assert chunks == ["The ", "answer ", "is  ", "4."]
    assert "".join(chunks) == "The answer is  4."
    assert client.calls[-1].method == "stream"


def test_async_twins() -> None:
    client = ScriptedClient("weak", ["one two"], fail_times=1)

    async def run() -> tuple[str, list[str]]:
        with pytest.raises(ModelCallError):
            await client.acomplete(ASK)
        completion = await client.acomplete(ASK)
        return completion.text, [chunk async for chunk in client.astream(ASK)]

    assert asyncio.run(run()) == ("one two", ["one ", "two"])
    assert [call.method for call in client.calls] == ["acomplete", "acomplete", "astream"]


@pytest.mark.parametrize(
    ("answers", "kwargs"),
    [
        pytest.param([], {}, id="no-answers"),
        pytest.param(["a"], {"fail_times": -1}, id="negative-fail-times"),
        pytest.param(["a"], {"prices": (-1.0, 1.0)}, id="negative-price"),
    ],
)
def test_invalid_scripts_are_config_errors(answers: list[str], kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        ScriptedClient("weak", answers, **kwargs)  # type: ignore[arg-type]


def test_no_logprobs_unless_scripted() -> None:
    assert ScriptedClient("weak", ["4"]).complete(ASK).logprobs is None


def test_logprobs_given_as_a_tuple() -> None:
    client = ScriptedClient("weak", ["four"], logprobs=(-0.1, -0.2))
    assert client.complete(ASK).logprobs == (-0.1, -0.2)


def test_logprobs_as_a_function_of_the_answer() -> None:
    def by_answer(text: str) -> tuple[float, ...] | None:
        return None if text == "unsure" else tuple(-0.5 for _ in text.split())

    client = ScriptedClient("weak", ["two words", "unsure"], logprobs=by_answer)
    assert client.complete(ASK).logprobs == (-0.5, -0.5)
    assert client.complete(ASK).logprobs is None


@pytest.mark.parametrize(
    "logprobs",
    [pytest.param((0.5,), id="positive"), pytest.param((float("nan"),), id="nan")],
)
def test_impossible_logprobs_are_config_errors(logprobs: tuple[float, ...]) -> None:
    with pytest.raises(ConfigError, match="Log-probabilities must be <= 0"):
        ScriptedClient("weak", ["a"], logprobs=logprobs)


def test_impossible_logprobs_from_a_function_fail_the_call() -> None:
    client = ScriptedClient("weak", ["a"], logprobs=lambda text: (1.0,))
    with pytest.raises(ConfigError, match="Log-probabilities must be <= 0"):
        client.complete(ASK)
