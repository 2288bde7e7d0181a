"""`ChatRouterkit.batch` / `abatch`: score every input in one router call, then one `batch` per route.

Each input still gets its own chain run with the route's call as its child, exactly as `invoke` would; a
bad input (empty prompt, unknown forced route, a route that fails) fails alone.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from langchain_core.language_models import LanguageModelInput
from langchain_core.runnables import RunnableConfig
from langchain_core.runnables.config import get_config_list, get_executor_for_config
from routerkit.errors import ConfigError, UnknownNameError
from routerkit.routers.decision import Decision
from routerkit.routers.inputs import prompt_text

from langchain_routerkit import _calls, _runs
from langchain_routerkit._capabilities import pop_deferred
from langchain_routerkit._messages import router_prompt, tag, to_messages

if TYPE_CHECKING:
    from langchain_core.callbacks import AsyncCallbackManagerForChainRun, CallbackManagerForChainRun

    from langchain_routerkit._chat_model import ChatRouterkit

__all__ = ["abatch", "batch"]

Group = list[tuple[int, _calls.Call]]
"""The calls that go to one route, with their input indices."""


class _Batch:
    """The inputs of one batch call and their outcomes (an answer, an exception, or None while pending)."""

    def __init__(
        self,
        model: ChatRouterkit,
        inputs: Sequence[LanguageModelInput],
        config: RunnableConfig | list[RunnableConfig] | None,
        kwargs: dict[str, Any],
    ) -> None:
        self.model = model
        self.configs = get_config_list(config, len(inputs))
        self.messages = [to_messages(item) for item in inputs]
        self.stop = kwargs.pop("stop", None)
        self.deferred = pop_deferred(kwargs)
        self.kwargs = kwargs
        self.outcomes: list[Any] = [None] * len(inputs)

    def split(self) -> tuple[list[int], dict[int, Decision | str]]:
        """Indices the router must score, and the forced routes; a bad input gets its error now."""
        pending: list[int] = []
        forced: dict[int, Decision | str] = {}
        for i, (config, messages) in enumerate(zip(self.configs, self.messages, strict=True)):
            try:
                route = _calls.forced_route(self.model, config)
                if route is not None:
                    forced[i] = route
                    continue
                prompt_text(router_prompt(messages))  # checked one by one, so one bad prompt fails alone
                pending.append(i)
            except (ConfigError, UnknownNameError) as exc:
                self.outcomes[i] = exc
        return pending, forced

    def prompts(self, indices: list[int]) -> list[list[dict[str, str]]]:
        """The router's view of the inputs at `indices`."""
        return [router_prompt(self.messages[i]) for i in indices]

    def groups(self, targets: dict[int, Decision | str], runs: Sequence[Any]) -> list[Group]:
        """Prepare each call, grouped by route (calls to one route share its runnable and options)."""
        by_route: dict[str, Group] = {}
        for i, chosen in sorted(targets.items()):
            try:
                call = _calls.prepare(
                    self.model,
                    chosen,
                    self.deferred,
                    self.configs[i],
                    runs[i].get_child(),
                    self.stop,
                    dict(self.kwargs),
                )
            except ConfigError as exc:
                self.outcomes[i] = exc
                continue
            by_route.setdefault(call.choice.route, []).append((i, call))
        return list(by_route.values())

    def run(self, group: Group) -> list[Any]:
        """One route's `batch` over its share of the inputs."""
        first = group[0][1]
        inputs = [self.messages[i] for i, _ in group]
        return first.runnable.batch(inputs, [c.config for _, c in group], return_exceptions=True, **first.kwargs)

    async def arun(self, group: Group) -> list[Any]:
        """One route's `abatch` over its share of the inputs."""
        first = group[0][1]
        inputs = [self.messages[i] for i, _ in group]
        configs = [c.config for _, c in group]
        return await first.runnable.abatch(inputs, configs, return_exceptions=True, **first.kwargs)

    def record(self, group: Group, results: Sequence[Any]) -> None:
        """Store a route's results, tagging answers with their choice."""
        for (i, call), result in zip(group, results, strict=True):
            self.outcomes[i] = result if isinstance(result, Exception) else tag(result, call.choice)

    def result(self, return_exceptions: bool) -> list[Any]:
        """The outcomes, or the first error when the caller did not ask for exceptions."""
        if not return_exceptions:
            for outcome in self.outcomes:
                if isinstance(outcome, Exception):
                    raise outcome
        return self.outcomes


def batch(
    model: ChatRouterkit,
    inputs: Sequence[LanguageModelInput],
    config: RunnableConfig | list[RunnableConfig] | None,
    return_exceptions: bool,
    kwargs: dict[str, Any],
) -> list[Any]:
    """Run `inputs` through `model`: one router call for all, then each route's `batch` on its share."""
    if not inputs:
        return []
    state = _Batch(model, inputs, config, kwargs)
    runs = [_runs.start(model, c, m) for c, m in zip(state.configs, state.messages, strict=True)]
    try:
        pending, targets = state.split()
        if pending:
            decisions = model.router.route_batch(state.prompts(pending), _calls.policy_of(model))
            targets.update(zip(pending, decisions, strict=True))
        groups = state.groups(targets, runs)
        with get_executor_for_config(state.configs[0]) as executor:
            for group, results in zip(groups, executor.map(state.run, groups), strict=True):
                state.record(group, results)
    except BaseException as exc:
        _fail_all(runs, exc)
        raise
    _end(runs, state.outcomes)
    return state.result(return_exceptions)


async def abatch(
    model: ChatRouterkit,
    inputs: Sequence[LanguageModelInput],
    config: RunnableConfig | list[RunnableConfig] | None,
    return_exceptions: bool,
    kwargs: dict[str, Any],
) -> list[Any]:
    """Async `batch`: the router scores in a worker thread, the routes run concurrently."""
    if not inputs:
        return []
    state = _Batch(model, inputs, config, kwargs)
    runs = [await _runs.astart(model, c, m) for c, m in zip(state.configs, state.messages, strict=True)]
    try:
        pending, targets = state.split()
        if pending:
            decisions = await model.router.aroute_batch(state.prompts(pending), _calls.policy_of(model))
            targets.update(zip(pending, decisions, strict=True))
        groups = state.groups(targets, runs)
        for group, results in zip(groups, await asyncio.gather(*map(state.arun, groups)), strict=True):
            state.record(group, results)
    except BaseException as exc:
        await asyncio.gather(*(run.on_chain_error(exc) for run in runs))
        raise
    await _aend(runs, state.outcomes)
    return state.result(return_exceptions)


def _fail_all(runs: Sequence[CallbackManagerForChainRun], exc: BaseException) -> None:
    for run in runs:
        run.on_chain_error(exc)


def _end(runs: Sequence[CallbackManagerForChainRun], outcomes: Sequence[Any]) -> None:
    for run, outcome in zip(runs, outcomes, strict=True):
        if isinstance(outcome, BaseException):
            run.on_chain_error(outcome)
        else:
            run.on_chain_end(outcome)


async def _aend(runs: Sequence[AsyncCallbackManagerForChainRun], outcomes: Sequence[Any]) -> None:
    for run, outcome in zip(runs, outcomes, strict=True):
        if isinstance(outcome, BaseException):
            await run.on_chain_error(outcome)
        else:
            await run.on_chain_end(outcome)
