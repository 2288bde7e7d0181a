"""routerkit's compositions as LangChain runnables: `RouterkitCascade` and `RouterkitPipeline`.

Both take what a chat model takes (a string, messages or a `PromptValue`) and return an `AIMessage`
whose `response_metadata["routerkit"]` says how the answer was made (which model, whether the cascade
deferred, calls and cost). Their models can be LangChain chat models: the core resolves them to
`ChatModelClient`s through this package's `resolve_client` plugin.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any

from langchain_core.language_models import LanguageModelInput
from langchain_core.messages import AIMessage, AIMessageChunk
from langchain_core.runnables import RunnableConfig, RunnableSerializable
from pydantic import ConfigDict, Field
from routerkit.compose.budget import Budget
from routerkit.compose.cascade import Cascade
from routerkit.compose.cascade_stats import CascadeResult
from routerkit.compose.confidence import ConfidenceEstimator
from routerkit.compose.deferral import DeferralPolicy
from routerkit.compose.pipeline import Pipeline, PipelineResult

from langchain_routerkit._messages import router_prompt, to_messages

__all__ = ["RouterkitCascade", "RouterkitPipeline"]

Messages = list[dict[str, str]]


def _messages(model_input: LanguageModelInput) -> Messages:
    return router_prompt(to_messages(model_input))


def _cascade_metadata(result: CascadeResult) -> dict[str, Any]:
    return {
        "model": result.model,
        "deferred": result.deferred,
        "confidence": result.confidence,
        "threshold": result.threshold,
        "strategies_used": [list(used) for used in result.strategies_used],
        "strategy_written": result.strategy_written.id if result.strategy_written else None,
        "calls": result.calls,
        "strong_calls": result.strong_calls,
        "tokens": result.tokens,
        "cost_usd": result.cost_usd,
    }


def _cascade_message(result: CascadeResult) -> AIMessage:
    metadata = {"model_name": result.model, "routerkit": _cascade_metadata(result)}
    return AIMessage(content=result.answer, response_metadata=metadata)


class RouterkitCascade(RunnableSerializable[LanguageModelInput, AIMessage]):
    """A routerkit `Cascade` as a runnable: the weak model answers, the strong one only when needed.

    Build it from two chat models with `from_models`, or wrap a `routerkit.compose.Cascade` you made.
    The cascade learns as it goes (strategies written on deferred queries help later ones), so `batch`
    and `abatch` answer their inputs **in order**, one after another. `stream` is not token-incremental
    until the cascade has decided: the weak answer is held back until its confidence is known.

    Example:
        >>> from routerkit.compose import DeferralPolicy, SelfVerifyConfidence  # doctest: +SKIP
        >>> chain = prompt | RouterkitCascade.from_models(  # doctest: +SKIP
        ...     weak=ChatOpenAI(model="gpt-4o-mini"), strong=ChatOpenAI(model="gpt-4o"),
        ...     confidence=SelfVerifyConfidence(), deferral=DeferralPolicy.fixed(0.7))

    Args:
        cascade: the `routerkit.compose.Cascade` to run.
    """

    cascade: Cascade = Field(exclude=True)

    model_config = ConfigDict(arbitrary_types_allowed=True, extra="forbid")

    @classmethod
    def from_models(
        cls,
        weak: object,
        strong: object,
        *,
        confidence: ConfidenceEstimator,
        deferral: DeferralPolicy,
        **options: Any,
    ) -> RouterkitCascade:
        """A cascade of two models (LangChain chat models or any `ModelClient`); `options` go to `Cascade`."""
        return cls(cascade=Cascade(weak, strong, confidence, deferral, **options))

    def invoke(self, input: LanguageModelInput, config: RunnableConfig | None = None, **kwargs: Any) -> AIMessage:
        """The cascade's answer to `input`, traced as one chain run."""
        return self._call_with_config(self._run, input, config)

    async def ainvoke(
        self, input: LanguageModelInput, config: RunnableConfig | None = None, **kwargs: Any
    ) -> AIMessage:
        """Async `invoke`."""
        return await self._acall_with_config(self._arun, input, config)

    def batch(
        self,
        inputs: list[LanguageModelInput],
        config: RunnableConfig | list[RunnableConfig] | None = None,
        *,
        return_exceptions: bool = False,
        **kwargs: Any,
    ) -> list[AIMessage]:
        """The answers to `inputs`, one after another in order (later queries may use earlier strategies)."""
        configs = config if isinstance(config, list) else [config] * len(inputs)
        return [self._one(item, cfg, return_exceptions) for item, cfg in zip(inputs, configs, strict=True)]

    async def abatch(
        self,
        inputs: list[LanguageModelInput],
        config: RunnableConfig | list[RunnableConfig] | None = None,
        *,
        return_exceptions: bool = False,
        **kwargs: Any,
    ) -> list[AIMessage]:
        """Async `batch`: still in order, one query at a time."""
        configs = config if isinstance(config, list) else [config] * len(inputs)
        return [await self._aone(item, cfg, return_exceptions) for item, cfg in zip(inputs, configs, strict=True)]

    def stream(
        self, input: LanguageModelInput, config: RunnableConfig | None = None, **kwargs: Any
    ) -> Iterator[AIMessage]:
        """The answer's `AIMessageChunk`s once the cascade has decided; the last chunk carries the metadata."""
        yield from self._transform_stream_with_config(iter([input]), self._chunks, config)

    async def astream(
        self, input: LanguageModelInput, config: RunnableConfig | None = None, **kwargs: Any
    ) -> AsyncIterator[AIMessage]:
        """Async `stream`."""

        async def one() -> AsyncIterator[LanguageModelInput]:
            yield input

        async for chunk in self._atransform_stream_with_config(one(), self._achunks, config):
            yield chunk

    def _one(self, item: LanguageModelInput, config: RunnableConfig | None, keep_errors: bool) -> Any:
        try:
            return self.invoke(item, config)
        except Exception as exc:
            if keep_errors:
                return exc
            raise

    async def _aone(self, item: LanguageModelInput, config: RunnableConfig | None, keep_errors: bool) -> Any:
        try:
            return await self.ainvoke(item, config)
        except Exception as exc:
            if keep_errors:
                return exc
            raise

    def _run(self, model_input: LanguageModelInput) -> AIMessage:
        return _cascade_message(self.cascade.run(_messages(model_input)))

    async def _arun(self, model_input: LanguageModelInput) -> AIMessage:
        return _cascade_message(await self.cascade.arun(_messages(model_input)))

    def _chunks(self, inputs: Iterator[LanguageModelInput]) -> Iterator[AIMessageChunk]:
        for model_input in inputs:
            stream = self.cascade.stream(_messages(model_input))
            for text in stream:
                yield AIMessageChunk(content=text)
            if stream.result is not None:
                yield _final_chunk(stream.result)

    async def _achunks(self, inputs: AsyncIterator[LanguageModelInput]) -> AsyncIterator[AIMessageChunk]:
        async for model_input in inputs:
            stream = self.cascade.astream(_messages(model_input))
            async for text in stream:
                yield AIMessageChunk(content=text)
            if stream.result is not None:
                yield _final_chunk(stream.result)


def _final_chunk(result: CascadeResult) -> AIMessageChunk:
    metadata = {"model_name": result.model, "routerkit": _cascade_metadata(result)}
    return AIMessageChunk(content="", response_metadata=metadata, chunk_position="last")


class RouterkitPipeline(RunnableSerializable[LanguageModelInput, AIMessage]):
    """A routerkit `Pipeline` (Archon layers: generate, critique, rank, fuse, ...) as a runnable.

    Build it from a config and a mapping of model names to chat models with `from_config`, or wrap a
    `routerkit.compose.Pipeline`. Each run gets its own budget and ledger; `response_metadata["routerkit"]`
    carries the run's summary (calls, tokens, cost per model, per-layer time, the answer's candidate id).

    Example:
        >>> models = {"gpt-4o": ChatOpenAI(model="gpt-4o")}  # doctest: +SKIP
        >>> RouterkitPipeline.from_config("archon.yaml", models=models)  # doctest: +SKIP

    Args:
        pipeline: the `routerkit.compose.Pipeline` to run.
    """

    pipeline: Pipeline = Field(exclude=True)

    model_config = ConfigDict(arbitrary_types_allowed=True, extra="forbid")

    @classmethod
    def from_config(
        cls, config: Mapping[str, Any] | str, *, models: Mapping[str, object], budget: Budget | None = None
    ) -> RouterkitPipeline:
        """A pipeline from a config (a mapping, or the path of a JSON/YAML file) over `models` by name."""
        if isinstance(config, str):
            return cls(pipeline=Pipeline.load(config, models, budget=budget))
        return cls(pipeline=Pipeline.from_config(config, models, budget=budget))

    def invoke(self, input: LanguageModelInput, config: RunnableConfig | None = None, **kwargs: Any) -> AIMessage:
        """The pipeline's answer to `input`, traced as one chain run."""
        return self._call_with_config(self._run, input, config)

    async def ainvoke(
        self, input: LanguageModelInput, config: RunnableConfig | None = None, **kwargs: Any
    ) -> AIMessage:
        """Async `invoke`: the calls inside each layer run concurrently."""
        return await self._acall_with_config(self._arun, input, config)

    def _run(self, model_input: LanguageModelInput) -> AIMessage:
        return _pipeline_message(self.pipeline.run(_messages(model_input)))

    async def _arun(self, model_input: LanguageModelInput) -> AIMessage:
        return _pipeline_message(await self.pipeline.arun(_messages(model_input)))


def _pipeline_message(result: PipelineResult) -> AIMessage:
    metadata = {"model_name": result.selected.model or "", "routerkit": result.summary()}
    return AIMessage(content=result.answer, response_metadata=metadata)
