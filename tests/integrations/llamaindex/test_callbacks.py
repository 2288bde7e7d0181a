"""Callbacks and instrumentation: one LLM start/end per routed call, nothing lost, nothing doubled."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from llama_index.core import Document, Settings, VectorStoreIndex
from llama_index.core.base.llms.types import ChatMessage
from llama_index.core.callbacks import CallbackManager
from llama_index.core.embeddings import MockEmbedding
from llama_index.core.llms import LLM, MockFunctionCallingLLM, MockLLM
from llama_index.llms.routerkit import RouterkitLLM, RoutingDecisionEvent
from routerkit.routers import Router

LONG = "Explain, step by step and with worked examples, how a B-tree stays balanced. " * 8
MESSAGES = [ChatMessage(role="user", content="hi there")]


async def _drain(chunks: Any) -> None:
    async for _ in chunks:
        pass


CALLS: dict[str, Callable[[LLM], Any]] = {
    "chat": lambda llm: llm.chat(MESSAGES),
    "complete": lambda llm: llm.complete("hi there"),
    "stream_chat": lambda llm: list(llm.stream_chat(MESSAGES)),
    "stream_complete": lambda llm: list(llm.stream_complete("hi there")),
    "achat": lambda llm: asyncio.run(llm.achat(MESSAGES)),
    "acomplete": lambda llm: asyncio.run(llm.acomplete("hi there")),
    "astream_chat": lambda llm: asyncio.run(_drain_call(llm.astream_chat, MESSAGES)),
    "astream_complete": lambda llm: asyncio.run(_drain_call(llm.astream_complete, "hi there")),
}


async def _drain_call(method: Any, arg: Any) -> None:
    await _drain(await method(arg))


def _llm_events(method: str) -> dict[str, int]:
    kind = "Chat" if "chat" in method else "Completion"
    return {f"LLM{kind}StartEvent": 1, f"LLM{kind}EndEvent": 1}


@pytest.mark.parametrize("method", list(CALLS))
def test_one_llm_start_and_end_per_routed_call(
    length_router: Router, legacy: Any, events: Any, single_event_llm: type[MockFunctionCallingLLM], method: str
) -> None:
    # Routes built without handlers: the router's callback manager must reach them.
    routes: dict[str, LLM] = {"big": single_event_llm(), "small": single_event_llm()}
    llm = RouterkitLLM(routes=routes, router=length_router, callback_manager=CallbackManager([legacy]))
    CALLS[method](llm)
    assert dict(legacy.counts) == {"llm_start": 1, "llm_end": 1}
    assert events.llm_events() == {**_llm_events(method), "RoutingDecisionEvent": 1}
    (decision_event,) = [e for e in events.events if isinstance(e, RoutingDecisionEvent)]
    assert (decision_event.route, decision_event.reason) == ("small", "router")
    assert decision_event.decision is not None and decision_event.decision.model == "small"


@pytest.mark.parametrize("method", list(CALLS))
@pytest.mark.parametrize("route_class", [MockLLM, MockFunctionCallingLLM], ids=lambda c: c.__name__)
def test_routing_adds_and_loses_no_event_of_the_route(
    length_router: Router, legacy: Any, events: Any, method: str, route_class: type[LLM]
) -> None:
    # The library's mocks nest some calls (MockLLM.chat calls its own complete): whatever a route
    # records when called directly, it records the same through the router, plus one decision event.
    direct = route_class(callback_manager=CallbackManager([legacy]))
    CALLS[method](direct)
    direct_legacy, direct_events = dict(legacy.counts), events.llm_events()
    legacy.counts.clear()
    events.counts.clear()

    routes: dict[str, LLM] = {"big": route_class(), "small": route_class()}
    CALLS[method](RouterkitLLM(routes=routes, router=length_router, callback_manager=CallbackManager([legacy])))
    assert dict(legacy.counts) == direct_legacy
    assert events.llm_events() == {**direct_events, "RoutingDecisionEvent": 1}


def test_a_route_with_its_own_handlers_keeps_them(length_router: Router, legacy: Any) -> None:
    own = type(legacy)()
    routes: dict[str, LLM] = {"big": MockLLM(), "small": MockLLM(callback_manager=CallbackManager([own]))}
    llm = RouterkitLLM(routes=routes, router=length_router, callback_manager=CallbackManager([legacy]))
    llm.complete("hi there")
    assert dict(own.counts) == {"llm_start": 1, "llm_end": 1}
    assert dict(legacy.counts) == {}  # not doubled into the router's handlers
    llm.complete(LONG)
    assert dict(legacy.counts) == {"llm_start": 1, "llm_end": 1}


def test_a_new_router_callback_manager_reaches_the_routes_on_the_next_call(length_router: Router, legacy: Any) -> None:
    llm = RouterkitLLM(routes={"big": MockLLM(), "small": MockLLM()}, router=length_router)
    llm.complete("hi there")
    llm.callback_manager = CallbackManager([legacy])  # what `Settings.llm` does on every access
    llm.complete("hi there")
    assert dict(legacy.counts) == {"llm_start": 1, "llm_end": 1}


@pytest.mark.usefixtures("settings_sandbox")
def test_as_settings_llm_in_a_query_engine(
    length_router: Router, legacy: Any, events: Any, single_event_llm: type[MockFunctionCallingLLM]
) -> None:
    Settings.callback_manager = CallbackManager([legacy])
    Settings.embed_model = MockEmbedding(embed_dim=8)
    # Function-calling mocks answer a completion with its prompt, and record one event per call.
    Settings.llm = RouterkitLLM(routes={"big": single_event_llm(), "small": single_event_llm()}, router=length_router)
    documents = [
        Document(text="routerkit routes each request to a model."),
        Document(text="LlamaIndex builds indexes."),
    ]
    engine = VectorStoreIndex.from_documents(documents).as_query_engine()

    answer = engine.query("What does routerkit do?")
    assert "What does routerkit do?" in str(answer) and "routerkit routes each request" in str(answer)
    assert (legacy.counts["llm_start"], legacy.counts["llm_end"]) == (1, 1)
    assert [legacy.counts[f"{step}_start"] for step in ("query", "retrieve", "synthesize")] == [1, 1, 1]
    # `predict` runs once, on the router (the synthesizer's LLM); the route's `complete` once inside it.
    assert events.llm_events() == {
        "LLMPredictStartEvent": 1,
        "LLMPredictEndEvent": 1,
        "LLMCompletionStartEvent": 1,
        "LLMCompletionEndEvent": 1,
        "RoutingDecisionEvent": 1,
    }

    asyncio.run(engine.aquery("And asynchronously?"))
    assert (legacy.counts["llm_start"], legacy.counts["llm_end"]) == (2, 2)
    routes = [e.route for e in events.events if isinstance(e, RoutingDecisionEvent)]
    assert routes == ["small", "small"]


def test_the_decision_event_is_inside_the_routers_span(length_router: Router, events: Any) -> None:
    llm = RouterkitLLM(routes={"big": MockLLM(), "small": MockLLM()}, router=length_router)
    llm.complete("hi there")
    decision = next(e for e in events.events if isinstance(e, RoutingDecisionEvent))
    route_start = next(e for e in events.events if e.class_name() == "LLMCompletionStartEvent")
    assert decision.span_id is not None and decision.span_id.startswith("RouterkitLLM.complete")
    assert route_start.span_id is not None and route_start.span_id.startswith("MockLLM.complete")
