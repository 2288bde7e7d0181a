"""`RouterkitCascade` and `RouterkitPipeline`: routerkit's compositions of LangChain chat models."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import AIMessage, AIMessageChunk
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_routerkit import RouterkitCascade, RouterkitPipeline
from routerkit.clients import ChatMessages, Completion
from routerkit.compose.budget import UsageLedger
from routerkit.compose.deferral import DeferralPolicy
from routerkit.errors import ConfigError

SURE, UNSURE = "I am sure: 4", "maybe 5?"


class AnswerSaysSure:
    """Confident exactly when the weak answer says it is sure (a deterministic stand-in estimator)."""

    needs_answer = True

    def confidence(self, messages: ChatMessages, completion: Completion | None, ledger: UsageLedger) -> float:
        return 1.0 if completion is not None and "sure" in completion.text else 0.0

    async def aconfidence(self, messages: ChatMessages, completion: Completion | None, ledger: UsageLedger) -> float:
        return self.confidence(messages, completion, ledger)


def _cascade(fake: Any, weak_reply: str) -> tuple[RouterkitCascade, Any, Any]:
    weak, strong = fake(model_name="weak-model", reply=weak_reply), fake(model_name="strong-model", reply="4, surely")
    runnable = RouterkitCascade.from_models(
        weak, strong, confidence=AnswerSaysSure(), deferral=DeferralPolicy.fixed(0.5)
    )
    return runnable, weak, strong


def test_a_confident_weak_answer_is_returned_and_the_strong_model_is_not_called(fake: Any) -> None:
    cascade, weak, strong = _cascade(fake, SURE)
    message = cascade.invoke("What is 2 + 2?")
    assert isinstance(message, AIMessage)
    assert message.content == SURE
    info = message.response_metadata["routerkit"]
    assert (info["model"], info["deferred"], info["strong_calls"]) == ("weak-model", False, 0)
    assert (len(weak.calls), len(strong.calls)) == (1, 0)


def test_an_unsure_weak_answer_is_deferred_to_the_strong_model(fake: Any) -> None:
    cascade, weak, strong = _cascade(fake, UNSURE)
    message = cascade.invoke([("system", "Be brief."), ("human", "What is 2 + 2?")])
    assert message.content == "4, surely"
    assert message.response_metadata["model_name"] == "strong-model"
    assert message.response_metadata["routerkit"]["deferred"] is True
    assert weak.calls[0]["messages"][-1].content == "What is 2 + 2?"
    assert strong.calls[0]["messages"][0].content == "Be brief."


def test_the_cascade_composes_in_lcel_and_traces_its_model_calls_under_its_run(fake: Any, counter: Any) -> None:
    cascade, _, _ = _cascade(fake, UNSURE)
    chain = ChatPromptTemplate.from_messages([("human", "Add {a} and {b}.")]) | cascade | StrOutputParser()
    assert chain.invoke({"a": 2, "b": 2}, config={"callbacks": [counter]}) == "4, surely"
    cascade_runs = {run for run, name in counter.chains.items() if name == "RouterkitCascade"}
    assert len(cascade_runs) == 1
    assert [start["parent"] for start in counter.chat_starts] == [*cascade_runs, *cascade_runs]


def test_batch_answers_in_order_and_can_return_errors(fake: Any) -> None:
    cascade, weak, _ = _cascade(fake, SURE)
    answers = cascade.batch(["one", "", "three"], return_exceptions=True)
    assert [a.content if isinstance(a, AIMessage) else type(a).__name__ for a in answers] == [
        SURE,
        "ConfigError",
        SURE,
    ]
    assert [call["messages"][-1].content for call in weak.calls] == ["one", "three"]
    with pytest.raises(ConfigError):
        cascade.batch(["one", ""])


def test_stream_yields_the_answer_then_a_last_chunk_with_the_metadata(fake: Any) -> None:
    cascade, _, _ = _cascade(fake, UNSURE)
    chunks = list(cascade.stream("What is 2 + 2?"))
    assert all(isinstance(chunk, AIMessageChunk) for chunk in chunks)
    assert "".join(str(chunk.content) for chunk in chunks) == "4, surely"
    assert chunks[-1].response_metadata["routerkit"]["deferred"] is True


@pytest.mark.asyncio
async def test_async_twins(fake: Any) -> None:
    cascade, _, strong = _cascade(fake, UNSURE)
    assert (await cascade.ainvoke("2 + 2?")).content == "4, surely"
    assert [m.content for m in await cascade.abatch(["a", "b"])] == ["4, surely", "4, surely"]
    chunks = [chunk async for chunk in cascade.astream("2 + 2?")]
    assert "".join(str(chunk.content) for chunk in chunks) == "4, surely"
    assert len(strong.calls) >= 4


CONFIG = {
    "version": 1,
    "name": "two-generators-one-fuser",
    "layers": [
        [{"type": "generator", "model": "small", "samples": 2}, {"type": "generator", "model": "medium"}],
        [{"type": "fuser", "model": "large"}],
    ],
}


def _pipeline(fake: Any) -> tuple[RouterkitPipeline, dict[str, Any]]:
    models = {name: fake(model_name=name, reply=f"{name} says 4") for name in ("small", "medium", "large")}
    return RouterkitPipeline.from_config(CONFIG, models=models), models


def test_a_pipeline_of_chat_models_fuses_their_answers(fake: Any) -> None:
    pipeline, models = _pipeline(fake)
    message = pipeline.invoke("What is 2 + 2?")
    assert message.content == "large says 4"
    assert message.response_metadata["routerkit"]["calls"] == 4
    fuser_prompt = models["large"].calls[0]["messages"][-1].content
    assert "small says 4" in fuser_prompt and "medium says 4" in fuser_prompt
    assert [len(model.calls) for model in models.values()] == [2, 1, 1]


@pytest.mark.asyncio
async def test_a_pipeline_runs_async_and_from_a_yaml_file(fake: Any, tmp_path: Any) -> None:
    yaml = pytest.importorskip("yaml")
    path = tmp_path / "pipeline.yaml"
    path.write_text(yaml.safe_dump(CONFIG))
    models = {name: fake(model_name=name, reply=f"{name} says 4") for name in ("small", "medium", "large")}
    pipeline = RouterkitPipeline.from_config(str(path), models=models)
    chain = pipeline | StrOutputParser()
    assert await chain.ainvoke("What is 2 + 2?") == "large says 4"
