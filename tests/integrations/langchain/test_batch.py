"""`batch` / `abatch`: one router call for every input, then one `batch` per route; bad inputs fail alone."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from langchain_core.messages import SystemMessage
from langchain_routerkit import ChatRouterkit
from routerkit.errors import ConfigError, UnknownNameError

LONG = "Explain, step by step and with proofs, " + "why this matters " * 40
SHORT = "hi there"

Make = Callable[..., ChatRouterkit]


def _contents(answers: list[Any]) -> list[Any]:
    return [a if isinstance(a, Exception) else a.content for a in answers]


def test_batch_scores_all_inputs_in_one_router_call(make_model: Make, router: Any) -> None:
    model = make_model()
    answers = model.batch([SHORT, LONG, "hello", LONG])
    assert _contents(answers) == ["small answer", "big answer", "small answer", "big answer"]
    assert router.score_calls == [4]
    assert len(model.routes["big"].calls) == 2 and len(model.routes["small"].calls) == 2  # type: ignore[attr-defined]
    assert [a.response_metadata["routerkit_route"] for a in answers] == ["small", "big", "small", "big"]


def test_abatch_scores_all_inputs_in_one_router_call(make_model: Make, router: Any) -> None:
    answers = asyncio.run(make_model().abatch([LONG, SHORT, SHORT]))
    assert _contents(answers) == ["big answer", "small answer", "small answer"]
    assert router.score_calls == [3]


@pytest.mark.parametrize("run", ["batch", "abatch"])
def test_a_bad_input_fails_alone_with_return_exceptions(make_model: Make, router: Any, run: str) -> None:
    model = make_model()
    inputs = [SHORT, "", [SystemMessage("no user turn")], LONG]
    call = model.batch if run == "batch" else lambda *a, **k: asyncio.run(model.abatch(*a, **k))
    answers = call(inputs, return_exceptions=True)
    assert answers[0].content == "small answer" and answers[3].content == "big answer"
    assert isinstance(answers[1], ConfigError) and "empty" in str(answers[1])
    assert isinstance(answers[2], ConfigError) and "role 'user'" in str(answers[2])
    assert router.score_calls == [2]  # only the valid prompts, still in one call


@pytest.mark.parametrize("run", ["batch", "abatch"])
def test_a_bad_input_raises_without_return_exceptions(make_model: Make, counter: Any, run: str) -> None:
    model = make_model()
    call = model.batch if run == "batch" else lambda *a, **k: asyncio.run(model.abatch(*a, **k))
    with pytest.raises(ConfigError, match="empty"):
        call([SHORT, ""], {"callbacks": [counter]})
    assert len(counter.chain_ends) == 1 and len(counter.chain_errors) == 1  # every run was closed


def test_a_failing_route_fails_only_its_inputs(make_model: Make, fake: Any) -> None:
    class Broken(fake):  # type: ignore[misc, valid-type]
        def _generate(self, *args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("provider down")

    model = make_model(routes={"big": Broken(), "small": fake(reply="small")})
    answers = model.batch([SHORT, LONG], return_exceptions=True)
    assert answers[0].content == "small"
    assert isinstance(answers[1], RuntimeError)


def test_per_input_configs_can_force_routes(make_model: Make, router: Any) -> None:
    configs: list[Any] = [{}, {"configurable": {"route": "big"}}, {"configurable": {"route": "nope"}}]
    answers = make_model().batch([SHORT, SHORT, SHORT], configs, return_exceptions=True)
    assert _contents(answers)[:2] == ["small answer", "big answer"]
    assert isinstance(answers[2], UnknownNameError) and "Unknown route 'nope'" in str(answers[2])
    assert router.score_calls == [1]  # forced routes skip the router


def test_an_empty_batch_is_empty(make_model: Make, router: Any) -> None:
    assert make_model().batch([]) == []
    assert asyncio.run(make_model().abatch([])) == []
    assert router.score_calls == []


def test_batch_options_reach_the_routes(make_model: Make) -> None:
    model = make_model(max_tokens=5)
    model.batch([SHORT, LONG], stop=["END"])
    for route in model.routes.values():
        (call,) = route.calls  # type: ignore[attr-defined]
        assert (call["stop"], call["max_tokens"]) == (["END"], 5)
