"""`RouterkitSelector` in a `RouterQueryEngine`: by the router's decision, or by description similarity."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import routerkit
from llama_index.core.query_engine import CustomQueryEngine, RouterQueryEngine
from llama_index.core.schema import QueryBundle
from llama_index.core.tools import QueryEngineTool, ToolMetadata
from llama_index.llms.routerkit import RouterkitSelector, RoutingDecisionEvent
from routerkit.errors import ConfigError
from routerkit.plugins import Plugins
from routerkit.routers import Router

LONG = "Explain, step by step and with worked examples, how a B-tree stays balanced. " * 8


class LabelledEngine(CustomQueryEngine):
    """Answers with its label, so a test can see which engine the selector picked."""

    label: str

    def custom_query(self, query_str: str) -> str:
        return self.label


def _tool(name: str, description: str) -> QueryEngineTool:
    return QueryEngineTool(
        query_engine=LabelledEngine(label=name), metadata=ToolMetadata(name=name, description=description)
    )


def _engine(selector: RouterkitSelector, *tools: QueryEngineTool) -> RouterQueryEngine:
    # An explicit llm keeps RouterQueryEngine away from `Settings.llm` (it would build a default one).
    from llama_index.core.llms import MockLLM

    return RouterQueryEngine(selector=selector, query_engine_tools=list(tools), llm=MockLLM())


ENGINES = (_tool("small", "A quick engine for simple questions."), _tool("big", "A thorough engine for hard ones."))


@pytest.mark.parametrize(("query", "engine"), [("What is a B-tree?", "small"), (LONG, "big")], ids=["short", "long"])
def test_with_a_router_the_decision_picks_the_engine_of_that_name(
    length_router: Router, events: Any, query: str, engine: str
) -> None:
    router_engine = _engine(RouterkitSelector(length_router), *ENGINES)
    response = router_engine.query(query)
    assert str(response) == engine
    reason = response.metadata["selector_result"].reason
    assert reason.startswith(f"Router 'length' chose {engine!r} (") and "strong_win_rate=" in reason
    (decision,) = [e for e in events.events if isinstance(e, RoutingDecisionEvent)]
    assert (decision.route, decision.reason) == (engine, "router")
    assert str(asyncio.run(router_engine.aquery(query))) == engine


def test_the_policy_overrides_the_routers_default(length_router: Router) -> None:
    selector = RouterkitSelector(length_router, policy=routerkit.Threshold(0.0))
    assert str(_engine(selector, *ENGINES).query("What is a B-tree?")) == "big"


def test_with_a_router_the_choices_must_be_named_after_its_candidates(length_router: Router) -> None:
    selector = RouterkitSelector(length_router)
    with pytest.raises(
        ConfigError,
        match=r"Router 'length' chooses among \['big', 'small'\], but no choice is named \['big'\] "
        r"\(choice names: \['small', 'cheap'\]\)\. Name one query engine tool after each candidate",
    ):
        _engine(selector, ENGINES[0], _tool("cheap", "Another engine.")).query("What is a B-tree?")
    with pytest.raises(ConfigError, match=r"no choice is named \['big', 'small'\] \(choice names: \[None\]\)"):
        selector.select(["a choice given as a bare description"], "What is a B-tree?")


@pytest.mark.usefixtures("plugins")
def test_without_a_router_the_closest_description_wins() -> None:
    sports = _tool("sports", "Questions about football, tennis and the Olympic games.")
    cooking = _tool("cooking", "Recipes: baking bread, cooking pasta, roasting vegetables.")
    engine = _engine(RouterkitSelector(), sports, cooking)
    response = engine.query("How long should I knead the dough for sourdough bread?")
    assert str(response) == "cooking"
    assert "closest to the query (cosine 0." in response.metadata["selector_result"].reason
    assert str(engine.query("Who won the last World Cup final?")) == "sports"
    assert str(asyncio.run(engine.aquery("Who won Wimbledon this year?"))) == "sports"


@pytest.mark.usefixtures("plugins")
def test_description_embeddings_are_computed_once_per_set_of_choices() -> None:
    selector = RouterkitSelector()
    choices = [ToolMetadata(name="a", description="Questions about cats."), ToolMetadata(name="b", description="Cars.")]
    assert selector.select(choices, "Why do cats purr?").ind == 0
    assert selector.select(choices, "How fast is a Ferrari?").ind == 1
    assert list(selector._descriptions) == [("Questions about cats.", "Cars.")]


@pytest.mark.usefixtures("plugins")
def test_an_unknown_encoder_is_reported() -> None:
    with pytest.raises(routerkit.ArtifactError, match=r"The encoder 'minilm_l99' a router needs is not registered"):
        RouterkitSelector(encoder="minilm_l99").select(["anything"], "a query")


@pytest.mark.parametrize("router", [None, "length"], ids=["by-description", "by-router"])
def test_empty_queries_and_no_choices_are_config_errors(length_router: Router, router: str | None) -> None:
    selector = RouterkitSelector(length_router if router else None)
    choices = [ToolMetadata(name="small", description="s"), ToolMetadata(name="big", description="b")]
    with pytest.raises(ConfigError, match=r"The query is empty \('  '\); a selector needs text to route on"):
        selector.select(choices, QueryBundle(query_str="  "))
    with pytest.raises(ConfigError, match=r"There are no choices to select from"):
        selector.select([], "What is a B-tree?")
    with pytest.raises(ConfigError, match=r"The query is empty"):
        asyncio.run(selector.aselect(choices, ""))


def test_wrong_argument_types_are_config_errors() -> None:
    with pytest.raises(ConfigError, match=r"`router` must be a router name or a `routerkit\.Router`, got int \(3\)"):
        RouterkitSelector(3)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"`policy` must be a routerkit `Policy` or None, got float"):
        RouterkitSelector(policy=0.5)  # type: ignore[arg-type]


def test_it_has_no_prompts(length_router: Router) -> None:
    selector = RouterkitSelector(length_router)
    assert selector.get_prompts() == {}
    selector.update_prompts({})
    assert repr(selector) == "<RouterkitSelector router=<LengthRouter 'length' v1 [big, small]>>"


@pytest.mark.usefixtures("plugins")
def test_a_router_can_be_named() -> None:
    default = routerkit.load("length")  # its default candidates name the choices
    tools = (_tool(default.weak, "Cheap engine."), _tool(default.strong, "Thorough engine."))
    engine = _engine(RouterkitSelector("length"), *tools)
    assert str(engine.query(LONG)) == default.strong
    assert str(engine.query("What is a B-tree?")) == default.weak


def test_the_shipped_mf_router_selects_between_engines_named_after_its_models(plugins: Plugins) -> None:
    router = routerkit.load("mf")
    tools = (_tool(router.weak, "Mixtral answers."), _tool(router.strong, "GPT-4 answers."))
    engine = _engine(RouterkitSelector(router, policy=routerkit.Threshold(1.0)), *tools)
    assert str(engine.query("Prove that sqrt(2) is irrational.")) == router.weak
