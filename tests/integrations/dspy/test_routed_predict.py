"""`RoutedPredict`: each call reaches exactly the LM the router chose; bad input is refused clearly."""

from __future__ import annotations

import asyncio
import copy
from typing import Any

import dspy
import pytest
import routerkit
from dspy.utils import DummyLM
from dspy.utils.callback import BaseCallback
from dspy_routerkit import RoutedPredict, RoutedPrediction, RouterSettings
from routerkit.errors import ConfigError, UnknownNameError
from routerkit.routers.base import Router

SHORT = "What is 2 + 2?"  # under 500 characters: the `length` router picks "small"
LONG = "Explain, step by step, how " + "a very long question " * 30  # over 500: "big"


def calls(lms: dict[str, DummyLM]) -> dict[str, int]:
    return {name: len(lm.history) for name, lm in lms.items()}


def test_each_call_reaches_exactly_the_chosen_lm(router: Router, dummy_lms: dict[str, DummyLM]) -> None:
    program = RoutedPredict("question -> answer", dummy_lms, router)

    short, long = program(question=SHORT), program(question=LONG)

    assert (short.route, short.answer) == ("small", "from small")
    assert (long.route, long.answer) == ("big", "from big")
    assert calls(dummy_lms) == {"big": 1, "small": 1}
    assert SHORT in dummy_lms["small"].history[0]["messages"][-1]["content"]
    assert LONG in dummy_lms["big"].history[0]["messages"][-1]["content"]


def test_the_prediction_carries_the_decision_but_only_the_signature_outputs(
    router: Router, dummy_lms: dict[str, DummyLM]
) -> None:
    prediction = RoutedPredict("question -> answer", dummy_lms, router)(question=LONG)

    assert isinstance(prediction, RoutedPrediction) and isinstance(prediction, dspy.Prediction)
    decision = prediction.route_decision
    assert decision is not None and (decision.model, decision.role, decision.router) == ("big", "strong", "length")
    assert prediction.keys() == ["answer"] and prediction.toDict() == {"answer": "from big"}
    assert len(prediction.completions) == 1
    assert repr(prediction).endswith("via route 'big'")


def test_acall_routes_too(router: Router, dummy_lms: dict[str, DummyLM]) -> None:
    program = RoutedPredict("question -> answer", dummy_lms, router)

    async def both() -> list[RoutedPrediction]:
        return list(await asyncio.gather(program.acall(question=SHORT), program.acall(question=LONG)))

    assert [p.route for p in asyncio.run(both())] == ["small", "big"]
    assert calls(dummy_lms) == {"big": 1, "small": 1}


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        pytest.param(routerkit.Threshold(0.0), ["big", "big"], id="threshold-0-always-strong"),
        pytest.param(routerkit.Threshold(1.0), ["small", "small"], id="threshold-1-always-weak"),
        pytest.param(None, ["small", "big"], id="router-default"),
    ],
)
def test_the_policy_decides(
    router: Router, dummy_lms: dict[str, DummyLM], policy: routerkit.Policy | None, expected: list[str]
) -> None:
    program = RoutedPredict("question -> answer", dummy_lms, router, policy)

    assert [program(question=q).route for q in (SHORT, LONG)] == expected


def test_the_policy_can_be_changed_on_the_program(router: Router, dummy_lms: dict[str, DummyLM]) -> None:
    program = RoutedPredict("question -> answer", dummy_lms, router)
    program.router.policy = routerkit.Threshold(0.0)

    assert program(question=SHORT).route == "big"
    with pytest.raises(ConfigError, match=r"`policy` must be a routerkit `Policy` or None, got float"):
        program.router.policy = 0.3  # type: ignore[assignment]


def test_route_on_scores_only_the_named_fields(router: Router, dummy_lms: dict[str, DummyLM]) -> None:
    everything = RoutedPredict("context, question -> answer", dummy_lms, router)
    question_only = RoutedPredict("context, question -> answer", dummy_lms, router, route_on="question")

    assert everything(context=LONG, question=SHORT).route == "big"
    assert question_only(context=LONG, question=SHORT).route == "small"
    assert question_only.route_on == ("question",)


def test_a_forced_route_skips_the_router(router: Router, dummy_lms: dict[str, DummyLM]) -> None:
    lms = {**dummy_lms, "extra": DummyLM({"": {"answer": "from extra"}})}
    program = RoutedPredict("question -> answer", lms, router)

    forced = program(question=SHORT, route="extra")

    assert (forced.route, forced.route_decision, forced.answer) == ("extra", None, "from extra")
    assert calls(lms) == {"big": 0, "small": 0, "extra": 1}


def test_an_unknown_route_lists_the_routes(router: Router, dummy_lms: dict[str, DummyLM]) -> None:
    program = RoutedPredict("question -> answer", dummy_lms, router)

    with pytest.raises(UnknownNameError, match=r"Unknown route 'huge'\. Available: 'big', 'small'\. Use .* `lms`"):
        program(question=SHORT, route="huge")
    with pytest.raises(ConfigError, match=r"A route name must be a string, got int \(3\)"):
        asyncio.run(program.acall(question=SHORT, route=3))
    assert calls(dummy_lms) == {"big": 0, "small": 0}


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        pytest.param({"question": "   "}, r"The prompt is empty \('   '\)", id="blank"),
        pytest.param({}, r"routes on the input field\(s\) \['question'\], but the call gave \[\]", id="missing"),
        pytest.param({"question": SHORT, "lm": DummyLM([])}, r"pass `route=<name>` to force one", id="lm-kwarg"),
    ],
)
def test_bad_calls_are_refused_before_any_lm_call(
    router: Router, dummy_lms: dict[str, DummyLM], inputs: dict[str, Any], message: str
) -> None:
    program = RoutedPredict("question -> answer", dummy_lms, router)

    with pytest.raises(ConfigError, match=message):
        program(**inputs)
    assert calls(dummy_lms) == {"big": 0, "small": 0}


def test_the_lms_must_cover_the_routers_candidates(router: Router) -> None:
    with pytest.raises(ConfigError, match=r"can choose \['big', 'small'\], but `lms` has no \['big'\]"):
        RoutedPredict("question -> answer", {"small": DummyLM([]), "medium": DummyLM([])}, router)


@pytest.mark.parametrize(
    ("lms", "message"),
    [
        pytest.param({}, r"`lms` must be a non-empty dict of route name → DSPy LM", id="empty"),
        pytest.param([DummyLM([])], r"`lms` must be a non-empty dict", id="list"),
        pytest.param({"big": "openai/gpt-4o", "small": DummyLM([])}, r"maps 'big' to str", id="model-string"),
        pytest.param({1: DummyLM([]), "small": DummyLM([])}, r"maps 1 to DummyLM", id="non-str-key"),
    ],
)
def test_lms_of_the_wrong_type_are_refused(router: Router, lms: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        RoutedPredict("question -> answer", lms, router)  # type: ignore[arg-type]


@pytest.mark.usefixtures("plugins")
def test_a_router_can_be_named() -> None:
    router = routerkit.load("length")  # its default candidates name the routes
    lms = {name: DummyLM({"": {"answer": f"from {name}"}}) for name in (router.strong, router.weak)}
    program = RoutedPredict("question -> answer", lms, "length")

    assert program.router.router.name == "length"
    assert [program(question=q).route for q in (SHORT, LONG)] == [router.weak, router.strong]


def test_a_bad_router_or_policy_is_refused(dummy_lms: dict[str, DummyLM], router: Router) -> None:
    with pytest.raises(ConfigError, match=r"`router` must be a router name or a `routerkit.Router`, got float"):
        RoutedPredict("question -> answer", dummy_lms, 0.5)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"`policy` must be a routerkit `Policy` or None, got float"):
        RoutedPredict("question -> answer", dummy_lms, router, 0.5)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("signature", "route_on", "message"),
    [
        pytest.param("route -> answer", None, r"field\(s\) \['route'\], which `RoutedPredict` reserves", id="route"),
        pytest.param("question -> lm", None, r"has field\(s\) \['lm'\]", id="lm-output"),
        pytest.param("question -> route_decision", None, r"field\(s\) \['route_decision'\]", id="decision-attr"),
        pytest.param("question -> answer", "context", r"`route_on` must name input.*\['question'\]", id="unknown"),
        pytest.param("question -> answer", [], r"`route_on` must name input fields", id="empty-route-on"),
    ],
)
def test_signature_and_route_on_are_checked(
    router: Router, dummy_lms: dict[str, DummyLM], signature: str, route_on: object, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        RoutedPredict(signature, dummy_lms, router, route_on=route_on)  # type: ignore[arg-type]


def test_an_output_named_decision_is_not_shadowed(router: Router) -> None:
    lms = {name: DummyLM({"": {"decision": "approve"}}) for name in ("big", "small")}

    prediction = RoutedPredict("claim -> decision", lms, router)(claim=SHORT)

    assert (prediction.decision, prediction.route) == ("approve", "small")


def test_optimisers_see_one_predictor_and_the_router_settings(router: Router, dummy_lms: dict[str, DummyLM]) -> None:
    program = RoutedPredict("question -> answer", dummy_lms, router, temperature=0.3)

    assert [name for name, _ in program.named_predictors()] == ["predict"]
    assert [name for name, _ in program.named_parameters()] == ["router", "predict"]
    assert isinstance(program.router, RouterSettings) and program.router.router is router
    assert program.predict.config == {"temperature": 0.3}


def test_copies_share_the_lms_and_the_router_but_not_the_demos(router: Router, dummy_lms: dict[str, DummyLM]) -> None:
    program = RoutedPredict("question -> answer", dummy_lms, router, routerkit.Threshold(0.2))
    program.predict.demos = [dspy.Example(question="q", answer="a")]

    clone = program.deepcopy()
    reset = program.reset_copy()

    assert clone.lms["big"] is dummy_lms["big"] and clone.router.router is router
    assert clone.predict is not program.predict and clone.predict.demos == program.predict.demos
    assert reset.predict.demos == [] and reset.router.policy == routerkit.Threshold(0.2)
    assert copy.deepcopy(program).lms == program.lms


def test_module_callbacks_see_the_decision(router: Router, dummy_lms: dict[str, DummyLM]) -> None:
    seen: list[object] = []

    class Recorder(BaseCallback):  # type: ignore[misc]
        def on_module_end(self, call_id: str, outputs: object, exception: Exception | None = None) -> None:
            seen.append(outputs)

    program = RoutedPredict("question -> answer", dummy_lms, router)
    with dspy.context(callbacks=[Recorder()]):
        program(question=LONG)

    routed = [o for o in seen if isinstance(o, RoutedPrediction)]
    assert len(routed) == 1 and routed[0].route_decision is not None and routed[0].route_decision.model == "big"
