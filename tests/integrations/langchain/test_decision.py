"""`RouterkitDecision`: the router's `Decision` as a runnable, without calling any model."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import routerkit
from langchain_core.messages import HumanMessage, SystemMessage
from langchain_core.runnables import ConfigurableField
from langchain_routerkit import RouterkitDecision
from routerkit.errors import ConfigError

LONG = "Explain, step by step and with proofs, " + "why this matters " * 40
SHORT = "hi there"


def test_invoke_returns_the_decision(router: Any, counter: Any) -> None:
    decide = RouterkitDecision(router=router)
    decision = decide.invoke(SHORT, {"callbacks": [counter]})
    assert isinstance(decision, routerkit.Decision)
    assert (decision.model, decision.role) == ("small", "weak")
    assert decide.invoke([SystemMessage("x"), HumanMessage(LONG)]).model == "big"
    assert list(counter.chains.values()) == ["RouterkitDecision"]  # traced as one chain run
    assert counter.chain_ends == [decision]


def test_ainvoke_and_policies(router: Any) -> None:
    assert asyncio.run(RouterkitDecision(router=router).ainvoke(LONG)).model == "big"
    assert RouterkitDecision(router=router, threshold=0.0).invoke(SHORT).model == "big"
    assert RouterkitDecision(router=router, policy=routerkit.Threshold(1.0)).invoke(LONG).model == "small"


def test_batch_is_one_router_call_and_bad_inputs_fail_alone(router: Any) -> None:
    decide = RouterkitDecision(router=router)
    decisions = decide.batch([SHORT, "", LONG], return_exceptions=True)
    assert decisions[0].model == "small" and decisions[2].model == "big"  # type: ignore[union-attr]
    assert isinstance(decisions[1], ConfigError)
    assert router.score_calls == [2]
    assert [d.model for d in asyncio.run(decide.abatch([LONG, SHORT]))] == ["big", "small"]
    with pytest.raises(ConfigError, match="empty"):
        decide.batch([SHORT, ""])
    assert decide.batch([]) == []


def test_threshold_is_configurable(router: Any) -> None:
    decide = RouterkitDecision(router=router).configurable_fields(threshold=ConfigurableField(id="threshold"))
    assert decide.with_config(configurable={"threshold": 0.0}).invoke(SHORT).model == "big"


def test_a_router_can_be_named(plugins: object) -> None:
    assert RouterkitDecision(router="length").invoke(LONG).role == "strong"


@pytest.mark.parametrize(
    ("options", "model_input", "message"),
    [
        ({"router": 3.5}, SHORT, "must be a router name"),
        ({"threshold": 0.1, "policy": routerkit.Threshold(0.2)}, SHORT, "not both"),
        ({"policy": 0.5}, SHORT, r"`policy` must be a routerkit `Policy` or None, got float"),
        ({"temperature": 0}, SHORT, r"unknown parameter\(s\) \['temperature'\]"),
        ({}, "", "empty"),
        ({}, 7, "takes a string"),
    ],
    ids=[
        "not-a-router",
        "policy-and-threshold",
        "policy-not-a-policy",
        "unknown-parameter",
        "empty-prompt",
        "wrong-input-type",
    ],
)
def test_bad_input_is_a_config_error(router: Any, options: dict[str, Any], model_input: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        RouterkitDecision(**{"router": router, **options}).invoke(model_input)
