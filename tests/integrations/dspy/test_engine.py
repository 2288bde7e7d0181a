"""`RouterEngine` / `AsyncRouterEngine` / `router_lm`: a `dspy.LM` that routes every call it gets."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import dspy
import pytest
import routerkit
from dspy import lm15
from dspy.utils import DummyLM
from dspy.utils.exceptions import LMInvalidRequestError, LMProviderError
from dspy_routerkit import AsyncRouterEngine, RoutedPredict, RouterEngine, router_lm
from routerkit.artifacts import ModelEntry
from routerkit.errors import BackendError, ConfigError
from routerkit.routers.base import Router, Scores
from routerkit.routers.policies import Threshold

SHORT = "What is 2 + 2?"
LONG = "Explain, step by step, how " + "a very long question " * 30

MakeLM = Callable[..., tuple[dspy.LM, object]]


def test_every_predictor_call_reaches_exactly_the_chosen_lm(router: Router, dummy_lms: dict[str, DummyLM]) -> None:
    lm = router_lm(dummy_lms, router)
    qa = dspy.Predict("question -> answer")

    with dspy.context(lm=lm):
        answers = [qa(question=q).answer for q in (SHORT, LONG, SHORT)]

    assert answers == ["from small", "from big", "from small"]
    assert {name: len(route.history) for name, route in dummy_lms.items()} == {"big": 1, "small": 2}
    assert len(lm.history) == 3  # the router LM records every call as well
    assert (lm.model, lm.cache, lm.num_retries) == ("routerkit/length", False, 0)


def test_the_request_reaches_the_route_under_the_routes_model_name(router: Router, make_recording_lm: MakeLM) -> None:
    big, big_engine = make_recording_lm("fake/big", "big answer")
    small, small_engine = make_recording_lm("fake/small", "small answer")
    qa = dspy.Predict("question -> answer")

    with dspy.context(lm=router_lm({"big": big, "small": small}, router)):
        assert qa(question=LONG).answer == "big answer"

    assert [r.model for r in big_engine.requests] == ["fake/big"] and small_engine.requests == []
    assert LONG in (big_engine.requests[0].messages[-1].text or "")


def test_the_routes_generation_defaults_apply_unless_the_router_lm_sets_them(
    router: Router, make_recording_lm: MakeLM
) -> None:
    big, big_engine = make_recording_lm("fake/big", "ok", max_tokens=123, temperature=0.4)
    small, small_engine = make_recording_lm("fake/small", "ok", max_tokens=77)
    routes = {"big": big, "small": small}
    qa = dspy.Predict("question -> answer")

    with dspy.context(lm=router_lm(routes, router)):
        qa(question=LONG)
        qa(question=SHORT)
    with dspy.context(lm=router_lm(routes, router, max_tokens=50)):
        qa(question=LONG)

    configs = [(r.config.max_tokens, r.config.temperature) for r in big_engine.requests]
    assert configs == [(123, 0.4), (50, 0.4)]
    assert small_engine.requests[0].config.max_tokens == 77


def test_tokens_are_counted_once_under_the_model_that_answered(router: Router, make_recording_lm: MakeLM) -> None:
    big, _ = make_recording_lm("fake/big", "ok")
    small, _ = make_recording_lm("fake/small", "ok")
    qa = dspy.Predict("question -> answer")

    with dspy.context(lm=router_lm({"big": big, "small": small}, router), track_usage=True):
        usage = qa(question=SHORT).get_lm_usage()

    assert set(usage) == {"fake/small"}
    assert (usage["fake/small"]["prompt_tokens"], usage["fake/small"]["completion_tokens"]) == (11, 7)


def test_acall_uses_the_async_engine(router: Router, make_recording_lm: MakeLM) -> None:
    big, big_engine = make_recording_lm("fake/big", "big answer")
    small, small_engine = make_recording_lm("fake/small", "small answer")
    qa = dspy.Predict("question -> answer")

    async def ask() -> list[str]:
        with dspy.context(lm=router_lm({"big": big, "small": small}, router, policy=routerkit.Threshold(0.0))):
            return [(await qa.acall(question=q)).answer for q in (SHORT, LONG)]

    assert asyncio.run(ask()) == ["big answer", "big answer"]
    assert (len(big_engine.requests), len(small_engine.requests)) == (2, 0)


def test_a_direct_request_call_returns_the_routes_response(router: Router, make_recording_lm: MakeLM) -> None:
    big, _ = make_recording_lm("fake/big", "big answer")
    small, _ = make_recording_lm("fake/small", "small answer")
    lm = router_lm({"big": big, "small": small}, router)

    response = lm(lm15.Request(model=lm.model, messages=(lm15.Message.user(SHORT),)))

    assert isinstance(response, lm15.Response) and response.model == "fake/small"
    assert "small answer" in (response.text or "")


@pytest.mark.parametrize("is_async_program", [False, True], ids=["sync-engine", "async-engine"])
def test_streamify_replays_the_routes_answer(router: Router, make_recording_lm: MakeLM, is_async_program: bool) -> None:
    big, big_engine = make_recording_lm("fake/big", "big answer")
    small, small_engine = make_recording_lm("fake/small", "small answer")
    program = dspy.streamify(dspy.Predict("question -> answer"), is_async_program=is_async_program)

    async def run() -> list[Any]:
        with dspy.context(lm=router_lm({"big": big, "small": small}, router)):
            return [chunk async for chunk in program(question=LONG)]

    *chunks, prediction = asyncio.run(run())

    assert isinstance(prediction, dspy.Prediction) and prediction.answer == "big answer"
    assert "big answer" in "".join(c["choices"][0]["delta"]["content"] or "" for c in chunks)
    assert (len(big_engine.requests), len(small_engine.requests)) == (1, 0)


def test_a_request_without_user_text_is_an_invalid_request(router: Router, dummy_lms: dict[str, DummyLM]) -> None:
    lm = router_lm(dummy_lms, router)
    request = lm15.Request(model=lm.model, messages=(lm15.Message.user("   "),))

    with pytest.raises(LMInvalidRequestError, match=r"The last user message is empty") as caught:
        lm(request)
    assert isinstance(caught.value.__cause__, lm15.InvalidRequestError)
    assert isinstance(caught.value.__cause__.__cause__, ConfigError)
    assert all(len(route.history) == 0 for route in dummy_lms.values())


class BrokenRouter(Router):
    """A strong/weak router whose scoring fails the way an onnxruntime error surfaces."""

    def __init__(self) -> None:
        candidates = [ModelEntry(name="big"), ModelEntry(name="small")]
        super().__init__(
            name="broken", version="1", candidates=candidates, default_policy=Threshold(0.5), pairwise=True
        )

    def _score_texts(self, texts: list[str]) -> Scores:
        raise BackendError("onnxruntime failed: the session was closed")


def test_a_failing_router_is_a_provider_error_that_is_not_retried(dummy_lms: dict[str, DummyLM]) -> None:
    lm = dspy.LM("routerkit/broken", engine=RouterEngine(dummy_lms, BrokenRouter()), num_retries=3, cache=False)

    with pytest.raises(LMProviderError, match=r"onnxruntime failed") as caught:
        lm(lm15.Request(model=lm.model, messages=(lm15.Message.user(SHORT),)))
    assert isinstance(caught.value.__cause__.__cause__, BackendError)
    assert all(len(route.history) == 0 for route in dummy_lms.values())


@pytest.mark.parametrize("option", ["cache", "num_retries", "engine"])
def test_router_lm_refuses_what_belongs_to_the_routes(
    router: Router, dummy_lms: dict[str, DummyLM], option: str
) -> None:
    with pytest.raises(ConfigError, match=rf"`router_lm` sets \['{option}'\] itself"):
        router_lm(dummy_lms, router, **{option: True})


@pytest.mark.usefixtures("plugins")
def test_router_lm_takes_a_router_name() -> None:
    default = routerkit.load("length")  # its default candidates name the routes
    lms = {name: DummyLM({"": {"answer": f"from {name}"}}) for name in (default.strong, default.weak)}
    lm = router_lm(lms, "length")

    with dspy.context(lm=lm):
        assert dspy.Predict("question -> answer")(question=LONG).answer == f"from {default.strong}"
    assert lm.model == "routerkit/length"


def test_engines_check_their_routes_router_and_policy(router: Router, dummy_lms: dict[str, DummyLM]) -> None:
    with pytest.raises(ConfigError, match=r"but `routes` has no \['small'\]"):
        RouterEngine({"big": dummy_lms["big"]}, router)
    with pytest.raises(ConfigError, match=r"maps 'small' to str"):
        AsyncRouterEngine({"big": dummy_lms["big"], "small": "openai/gpt-4o-mini"}, router)
    with pytest.raises(ConfigError, match=r"`router` must be a router name or a `routerkit.Router`, got NoneType"):
        router_lm(dummy_lms, None)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"`policy` must be a routerkit `Policy` or None, got str"):
        router_lm(dummy_lms, router, "threshold")  # type: ignore[arg-type]


def test_a_routed_program_compiles_with_the_router_lm(router: Router, dummy_lms: dict[str, DummyLM]) -> None:
    trainset = [dspy.Example(question=q, answer="from small").with_inputs("question") for q in ("a?", "b?")]
    program = dspy.Predict("question -> answer")
    optimizer = dspy.BootstrapFewShot(metric=lambda e, p, t=None: e.answer == p.answer, max_labeled_demos=0)

    with dspy.context(lm=router_lm(dummy_lms, router)):
        compiled = optimizer.compile(program, trainset=trainset)

    assert len(compiled.demos) == 2
    assert {name: len(route.history) for name, route in dummy_lms.items()} == {"big": 0, "small": 2}


def test_the_module_and_the_engine_can_share_routes(router: Router, dummy_lms: dict[str, DummyLM]) -> None:
    engine = RouterEngine(dummy_lms, router)
    program = RoutedPredict("question -> answer", engine.routes, engine.router)

    assert program(question=LONG).route == "big"
    assert repr(engine).startswith("RouterEngine(routes=['big', 'small'], router=<LengthRouter 'length'")
