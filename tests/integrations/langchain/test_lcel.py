"""`ChatRouterkit` inside LCEL: prompt | router | parser, fallbacks, retries, configurable fields, branching."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import ConfigurableField, RunnableBranch, RunnableLambda
from langchain_routerkit import ChatRouterkit, RouterkitDecision

LONG = "Explain, step by step and with proofs, " + "why this matters " * 40
SHORT = "hi there"

Make = Callable[..., ChatRouterkit]


def _prompt() -> ChatPromptTemplate:
    return ChatPromptTemplate.from_messages([("system", "Be brief."), ("human", "{question}")])


def test_prompt_router_parser(make_model: Make) -> None:
    chain = _prompt() | make_model() | StrOutputParser()
    assert chain.invoke({"question": SHORT}) == "small answer"
    assert chain.batch([{"question": SHORT}, {"question": LONG}]) == ["small answer", "big answer"]
    assert "".join(chain.stream({"question": LONG})) == "big answer"

    async def run() -> tuple[str, list[str], str]:
        one = await chain.ainvoke({"question": LONG})
        many = await chain.abatch([{"question": LONG}, {"question": SHORT}])
        streamed = "".join([c async for c in chain.astream({"question": SHORT})])
        return one, many, streamed

    assert asyncio.run(run()) == ("big answer", ["big answer", "small answer"], "small answer")


def test_the_chain_streams_token_by_token(make_model: Make) -> None:
    chain = _prompt() | make_model() | StrOutputParser()
    assert list(chain.stream({"question": SHORT})) == ["small ", "answer", ""]


def test_router_with_fallbacks(make_model: Make, counter: Any) -> None:
    broken = make_model(routes={"big": FakeListChatModel(responses=["x"]), "small": _Failing()})
    backup = FakeListChatModel(responses=["backup"])
    chain = broken.with_fallbacks([backup])
    assert chain.invoke(SHORT, {"callbacks": [counter]}).content == "backup"
    assert isinstance(counter.chain_errors[0], RuntimeError)  # the router's run ended with the route's error
    primary = FakeListChatModel(responses=["x"]).with_fallbacks([make_model()])
    assert primary.invoke(SHORT).content == "x"
    failing_first = _Failing().with_fallbacks([make_model()])
    assert failing_first.invoke(LONG).response_metadata["routerkit_route"] == "big"


def test_router_with_retry(make_model: Make, counter: Any) -> None:
    flaky = _Failing(failures=1)
    model = make_model(routes={"big": FakeListChatModel(responses=["x"]), "small": flaky})
    retried = model.with_retry(stop_after_attempt=2, wait_exponential_jitter=False)
    assert retried.invoke(SHORT, {"callbacks": [counter]}).content == "recovered"
    assert len(counter.router_runs()) == 2  # each attempt routes again, under its own run
    assert len(counter.chat_starts) == 2


def test_threshold_is_configurable_per_call(make_model: Make) -> None:
    model = make_model(threshold=0.5).configurable_fields(
        threshold=ConfigurableField(id="router_threshold", name="Router threshold")
    )
    assert model.invoke(SHORT).response_metadata["routerkit_route"] == "small"
    always_big = model.with_config(configurable={"router_threshold": 0.0})
    assert always_big.invoke(SHORT).response_metadata["routerkit_route"] == "big"
    assert always_big.batch([SHORT, SHORT])[1].response_metadata["routerkit_route"] == "big"
    assert "router_threshold" in str(model.config_schema().model_json_schema())


def test_the_route_is_configurable_in_a_chain(make_model: Make) -> None:
    chain = _prompt() | make_model() | StrOutputParser()
    assert chain.invoke({"question": SHORT}, {"configurable": {"route": "big"}}) == "big answer"


def test_a_decision_drives_a_runnable_branch(router: Any) -> None:
    decide = RouterkitDecision(router=router)
    big = RunnableLambda(lambda x: f"big:{x['question'][:5]}")
    small = RunnableLambda(lambda x: f"small:{x['question'][:5]}")
    branch = RunnableBranch((lambda x: x["decision"].model == "big", big), small)
    chain = {"decision": (lambda x: x["question"]) | decide, "question": lambda x: x["question"]} | branch
    assert chain.invoke({"question": SHORT}) == "small:hi th"
    assert chain.invoke({"question": LONG}) == "big:Expla"


class _Failing(FakeListChatModel):
    """Raises `RuntimeError` for its first `failures` calls (forever when None), then answers."""

    responses: list[str] = ["recovered"]  # noqa: RUF012  # a pydantic field default, not a shared class attribute
    failures: int | None = None
    seen: int = 0

    def _call(self, *args: Any, **kwargs: Any) -> str:
        self.seen += 1
        if self.failures is None or self.seen <= self.failures:
            raise RuntimeError("provider down")
        return super()._call(*args, **kwargs)


@pytest.mark.parametrize("version", ["v2"])  # v1 is deprecated in langchain-core 1.x
def test_astream_events_in_a_chain(make_model: Make, version: str) -> None:
    chain = _prompt() | make_model() | StrOutputParser()

    async def events() -> list[dict[str, Any]]:
        return [e async for e in chain.astream_events({"question": LONG}, version=version)]  # type: ignore[arg-type]

    seen = asyncio.run(events())
    starts = [e for e in seen if e["event"] == "on_chat_model_start"]
    assert len(starts) == 1
    assert starts[0]["metadata"]["routerkit_route"] == "big"
    streamed = "".join(str(e["data"]["chunk"].content) for e in seen if e["event"] == "on_chat_model_stream")
    assert streamed == "big answer"
