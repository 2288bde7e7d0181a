"""`RouterkitDecision`: a runnable that returns the router's `Decision` alone, for branching in LCEL."""

from __future__ import annotations

from typing import Any

from langchain_core.language_models import LanguageModelInput
from langchain_core.runnables import RunnableConfig, RunnableSerializable
from pydantic import ConfigDict, Field
from routerkit.errors import ConfigError
from routerkit.routers.base import Router
from routerkit.routers.decision import Decision
from routerkit.routers.inputs import prompt_text
from routerkit.routers.policies import Policy

from langchain_routerkit._messages import router_prompt, to_messages
from langchain_routerkit._settings import check_known_parameters, check_router_and_policy, effective_policy

__all__ = ["RouterkitDecision"]

Prompt = list[dict[str, str]]


class RouterkitDecision(RunnableSerializable[LanguageModelInput, Decision]):
    """Ask a router which model should answer, and return its `routerkit.Decision` (no model is called).

    Use it where you branch yourself, e.g. with `RunnableBranch` on `decision.model`, or to log
    decisions. It takes what a chat model takes: a string, messages or a `PromptValue`. `batch` scores
    all inputs in one router call.

    Example:
        >>> decide = RouterkitDecision(router="mf")  # doctest: +SKIP
        >>> decide.invoke("Prove that sqrt(2) is irrational.").model  # doctest: +SKIP
        'gpt-4-1106-preview'

    Args:
        router: a `routerkit.Router`, or a name for `routerkit.load`.
        policy: how scores become a choice (default: the router's own).
        threshold: shorthand for `policy=routerkit.Threshold(threshold)`; configurable per call with
            `configurable_fields`.

    Raises:
        ConfigError: for a router that is neither a router nor a name, a policy that is not a
            `routerkit.Policy`, or both `policy` and `threshold`.
        UnknownNameError: for a router name that is not registered.
    """

    router: Router = Field(exclude=True)
    policy: Policy | None = None
    threshold: float | None = Field(default=None, ge=0.0, le=1.0)

    model_config = ConfigDict(arbitrary_types_allowed=True, extra="forbid")

    def __init__(self, **data: Any) -> None:
        check_known_parameters(type(self).__name__, data, type(self).model_fields)
        check_router_and_policy(data)
        super().__init__(**data)
        effective_policy(self.policy, self.threshold)

    def invoke(self, input: LanguageModelInput, config: RunnableConfig | None = None, **kwargs: Any) -> Decision:
        """The router's decision for `input`, traced as one chain run."""
        return self._call_with_config(self._decide, input, config)

    async def ainvoke(self, input: LanguageModelInput, config: RunnableConfig | None = None, **kwargs: Any) -> Decision:
        """Async `invoke`: the router scores in a worker thread."""
        return await self._acall_with_config(self._adecide, input, config)

    def batch(
        self,
        inputs: list[LanguageModelInput],
        config: RunnableConfig | list[RunnableConfig] | None = None,
        *,
        return_exceptions: bool = False,
        **kwargs: Any,
    ) -> list[Decision]:
        """Decisions for all `inputs` from one router call; a bad input fails alone."""
        if not inputs:
            return []
        return self._batch_with_config(self._decide_many, inputs, config, return_exceptions=return_exceptions)

    async def abatch(
        self,
        inputs: list[LanguageModelInput],
        config: RunnableConfig | list[RunnableConfig] | None = None,
        *,
        return_exceptions: bool = False,
        **kwargs: Any,
    ) -> list[Decision]:
        """Async `batch`."""
        if not inputs:
            return []
        return await self._abatch_with_config(self._adecide_many, inputs, config, return_exceptions=return_exceptions)

    def _decide(self, model_input: LanguageModelInput) -> Decision:
        return self.router.route(_prompt(model_input), effective_policy(self.policy, self.threshold))

    async def _adecide(self, model_input: LanguageModelInput) -> Decision:
        return await self.router.aroute(_prompt(model_input), effective_policy(self.policy, self.threshold))

    def _decide_many(self, inputs: list[LanguageModelInput]) -> list[Exception | Decision]:
        prompts = _prompts(inputs)
        valid = _valid(prompts)
        policy = effective_policy(self.policy, self.threshold)
        decisions = self.router.route_batch(list(valid.values()), policy) if valid else []
        return _merge(prompts, list(valid), decisions)

    async def _adecide_many(self, inputs: list[LanguageModelInput]) -> list[Exception | Decision]:
        prompts = _prompts(inputs)
        valid = _valid(prompts)
        policy = effective_policy(self.policy, self.threshold)
        decisions = await self.router.aroute_batch(list(valid.values()), policy) if valid else []
        return _merge(prompts, list(valid), decisions)


def _prompt(model_input: LanguageModelInput) -> Prompt:
    prompt = router_prompt(to_messages(model_input))
    prompt_text(prompt)  # raise for an empty prompt here, with the core's message
    return prompt


def _prompts(inputs: list[LanguageModelInput]) -> list[Prompt | Exception]:
    prompts: list[Prompt | Exception] = []
    for model_input in inputs:
        try:
            prompts.append(_prompt(model_input))
        except ConfigError as exc:
            prompts.append(exc)
    return prompts


def _valid(prompts: list[Prompt | Exception]) -> dict[int, Prompt]:
    return {i: prompt for i, prompt in enumerate(prompts) if not isinstance(prompt, Exception)}


def _merge(
    prompts: list[Prompt | Exception], valid: list[int], decisions: list[Decision]
) -> list[Exception | Decision]:
    by_index = dict(zip(valid, decisions, strict=True))
    return [prompt if isinstance(prompt, Exception) else by_index[i] for i, prompt in enumerate(prompts)]
