"""Callbacks and tracing see one router chain run per request with exactly one chat-model call under it.

Usage is reported once per call (by the route's own LLM run), so token counters never double-count.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from langchain_core.callbacks import UsageMetadataCallbackHandler
from langchain_core.messages import BaseMessage
from langchain_core.runnables import RunnableConfig, RunnableLambda
from langchain_routerkit import ChatRouterkit

LONG = "Explain, step by step and with proofs, " + "why this matters " * 40
SHORT = "hi there"
PROMPTS = [SHORT, LONG, "hello", "how are you?"]  # 3 small, 1 big

Make = Callable[..., ChatRouterkit]
Call = Callable[[ChatRouterkit, RunnableConfig], list[BaseMessage]]


def _invoke(model: ChatRouterkit, config: RunnableConfig) -> list[BaseMessage]:
    return [model.invoke(p, config) for p in PROMPTS]


def _stream(model: ChatRouterkit, config: RunnableConfig) -> list[BaseMessage]:
    answers = []
    for prompt in PROMPTS:
        chunks = list(model.stream(prompt, config))
        answers.append(sum(chunks[1:], chunks[0]))
    return answers


def _batch(model: ChatRouterkit, config: RunnableConfig) -> list[BaseMessage]:
    return list(model.batch(PROMPTS, config))


def _ainvoke(model: ChatRouterkit, config: RunnableConfig) -> list[BaseMessage]:
    async def run() -> list[BaseMessage]:
        return list(await asyncio.gather(*(model.ainvoke(p, config) for p in PROMPTS)))

    return asyncio.run(run())


def _astream(model: ChatRouterkit, config: RunnableConfig) -> list[BaseMessage]:
    async def one(prompt: str) -> BaseMessage:
        chunks = [c async for c in model.astream(prompt, config)]
        return sum(chunks[1:], chunks[0])

    async def run() -> list[BaseMessage]:
        return [await one(p) for p in PROMPTS]

    return asyncio.run(run())


def _abatch(model: ChatRouterkit, config: RunnableConfig) -> list[BaseMessage]:
    return list(asyncio.run(model.abatch(PROMPTS, config)))


CALLS = pytest.mark.parametrize(
    "call",
    [_invoke, _stream, _batch, _ainvoke, _astream, _abatch],
    ids=["invoke", "stream", "batch", "ainvoke", "astream", "abatch"],
)


@CALLS
def test_one_chat_model_call_per_request_under_the_router_run(make_model: Make, counter: Any, call: Call) -> None:
    answers = call(make_model(), {"callbacks": [counter]})
    assert [str(a.content) for a in answers] == ["small answer", "big answer", "small answer", "small answer"]
    assert len(counter.chat_starts) == len(PROMPTS)
    assert len(counter.llm_ends) == len(PROMPTS)
    routers = counter.router_runs()
    assert len(routers) == len(PROMPTS)
    assert {start["parent"] for start in counter.chat_starts} == routers  # each route call is a child run
    routes = sorted(start["metadata"]["routerkit_route"] for start in counter.chat_starts)
    assert routes == ["big", "small", "small", "small"]
    assert len(counter.chain_ends) == len(PROMPTS) and counter.chain_errors == []


@CALLS
def test_token_usage_is_counted_once(make_model: Make, counter: Any, call: Call) -> None:
    usage = UsageMetadataCallbackHandler()
    call(make_model(), {"callbacks": [counter, usage]})
    assert counter.output_tokens() == 3 * len(PROMPTS)  # the fake reports 7 in / 3 out per call
    assert usage.usage_metadata == {
        "big": {"input_tokens": 7, "output_tokens": 3, "total_tokens": 10},
        "small": {"input_tokens": 21, "output_tokens": 9, "total_tokens": 30},
    }


def test_callbacks_see_the_decision(make_model: Make, counter: Any) -> None:
    make_model().invoke(LONG, {"callbacks": [counter]})
    (start,) = counter.chat_starts
    assert start["metadata"]["routerkit_decision"]["model"] == "big"
    (output,) = counter.chain_ends
    assert output.response_metadata["routerkit_decision"]["role"] == "strong"


def test_run_name_tags_and_metadata_flow_to_the_router_run(make_model: Make, counter: Any) -> None:
    model = make_model()
    model.invoke(SHORT, {"callbacks": [counter], "run_name": "my-router", "metadata": {"user": "u1"}})
    assert list(counter.chains.values()) == ["my-router"]
    assert counter.chat_starts[0]["metadata"]["user"] == "u1"


def test_handlers_on_the_router_itself_see_the_route_call(make_model: Make, counter: Any) -> None:
    model = make_model(callbacks=[counter])
    model.invoke(SHORT)
    assert len(counter.router_runs()) == 1
    assert len(counter.chat_starts) == 1  # the router's own handlers are inherited by its child run
    usage = UsageMetadataCallbackHandler()  # a second handler, given per call to a chain around the router
    (RunnableLambda(lambda x: x) | model).invoke(LONG, {"callbacks": [usage]})
    assert len(counter.chat_starts) == 2
    assert usage.usage_metadata == {"big": {"input_tokens": 7, "output_tokens": 3, "total_tokens": 10}}


def test_a_given_run_id_names_the_router_run(make_model: Make, counter: Any) -> None:
    run_id = uuid.uuid4()
    make_model().invoke(SHORT, {"callbacks": [counter], "run_id": run_id})
    assert counter.router_runs() == {run_id}
    assert counter.chat_starts[0]["parent"] == run_id
