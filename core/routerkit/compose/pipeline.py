"""Pipelines: Archon-style layers of operators, run in order, the operators of a layer concurrently.

Build one from a config (`Pipeline.from_config(mapping, clients)`, `Pipeline.load("p.yaml", clients)`)
or from operator objects (`Pipeline([[Generate("a", samples=2), Generate("b")], [Fuse("a")]], clients)`);
both go through the same validation (`routerkit.compose.config`). `await pipeline.arun(prompt)` returns a
`PipelineResult`: the answer, the final `State`, the `UsageLedger`, and a report per layer.

How a layer merges: its operators all read the same input state. A layer of producers (generators or
fusers) outputs their new candidates concatenated in component order (the inputs stay reachable through
`parents` and the layer reports); any other layer has exactly one operator, whose output is the layer's.
The order of candidates therefore never depends on which call answered first.

The answer is the first usable candidate of the last layer. If the last layer has none (its calls failed
under `on_error="skip"`), it is the first usable candidate of the latest layer that has one
(`PipelineResult.fell_back` is then True); if no layer has one, the run raises `PipelineCallError`.
Nothing is picked at random.

When the budget stops a run, `PipelineBudgetExceededError` (a `BudgetExceededError`) carries the ledger
(what was spent), the state before the layer that was stopped and the reports of the finished layers;
`PipelineCallError` (a `ModelCallError`) carries the same for a call that failed under `on_error="fail"`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, overload

from routerkit.clients.base import ChatMessages, ModelClient, resolve_client
from routerkit.compose.budget import Budget, UsageLedger
from routerkit.compose.candidates import Candidate, State
from routerkit.compose.config import ComponentBase, PipelineConfig, load_config, worst_case_calls
from routerkit.compose.operators import Fuse, Generate, Operator, RunContext, gather_all
from routerkit.compose.operators_judges import Critique, Rank, Verify
from routerkit.compose.operators_tests import EvalTests, GenTests
from routerkit.errors import BudgetExceededError, ConfigError, ModelCallError, RouterkitError

__all__ = [
    "OPERATORS",
    "Layer",
    "LayerReport",
    "Pipeline",
    "PipelineBudgetExceededError",
    "PipelineCallError",
    "PipelineResult",
    "operator_from_config",
]

logger = logging.getLogger(__name__)

Prompt = ChatMessages | str

OPERATORS: Mapping[str, Callable[..., Operator]] = {
    "generator": Generate,
    "fuser": Fuse,
    "ranker": Rank,
    "critic": Critique,
    "verifier": Verify,
    "unit_test_generator": GenTests,
    "unit_test_evaluator": EvalTests,
}
"""The operator class of each component `type`."""


def operator_from_config(config: ComponentBase) -> Operator:
    """The operator a component config describes (its model is resolved later, by the pipeline)."""
    return OPERATORS[config.type](**config.model_dump(exclude={"type"}))


@dataclass(frozen=True)
class LayerReport:
    """What one layer did in a run."""

    index: int
    operators: tuple[str, ...]
    """The ids of its operators."""
    seconds: float
    calls: int
    """Calls made by this layer (answered or failed)."""
    state: State
    """The state it handed on."""


class _Stopped(RouterkitError):
    """What a stopped run had done: the ledger, the state before the stopped layer, the finished layers."""

    def __init__(self, message: str, *, ledger: UsageLedger, state: State, layers: tuple[LayerReport, ...]) -> None:
        super().__init__(message)
        self.ledger = ledger
        self.state = state
        self.layers = layers


class PipelineBudgetExceededError(_Stopped, BudgetExceededError):
    """The budget stopped a pipeline run before a call over it was sent.

    `ledger` holds what was spent, `state` the state before the stopped layer, `layers` the reports of
    the layers that finished.
    """


class PipelineCallError(_Stopped, ModelCallError):
    """A call failed under `on_error="fail"`, or no layer left a usable answer.

    `ledger`, `state` and `layers` are as in `PipelineBudgetExceededError`.
    """


@dataclass(frozen=True)
class PipelineResult:
    """The outcome of one run."""

    answer: str
    selected: Candidate
    """The candidate whose text is the answer."""
    state: State
    """The state after the last layer."""
    ledger: UsageLedger
    layers: tuple[LayerReport, ...]
    seconds: float

    @property
    def calls(self) -> int:
        """Model calls made (answered or failed)."""
        return self.ledger.calls

    @property
    def tokens(self) -> int:
        """Input plus output tokens reported by the answered calls."""
        return self.ledger.tokens

    @property
    def cost_usd(self) -> float:
        """USD spent on the calls whose cost is known."""
        return self.ledger.cost_usd

    @property
    def fell_back(self) -> bool:
        """Whether the last layer left no usable answer, so the answer comes from an earlier layer."""
        return all(candidate.id != self.selected.id for candidate in self.state.candidates)

    def summary(self) -> dict[str, object]:
        """The answer's id, the ledger's totals and per-model breakdown, and each layer's time and calls."""
        return {
            "answer_from": self.selected.id,
            "fell_back": self.fell_back,
            "seconds": self.seconds,
            **self.ledger.summary(),
            "layers": [
                {"index": r.index, "operators": r.operators, "seconds": r.seconds, "calls": r.calls}
                for r in self.layers
            ],
        }


@dataclass(frozen=True)
class Layer:
    """Operators that run concurrently on the same input state (see the module docstring for the merge)."""

    index: int
    operators: tuple[Operator, ...]

    async def run(self, state: State, ctx: RunContext) -> State:
        """The state after this layer."""
        ctx = ctx.at_layer(self.index)
        outputs = await gather_all(operator.run(state, ctx) for operator in self.operators)
        if len(outputs) == 1:
            return outputs[0]
        return state.with_candidates([candidate for output in outputs for candidate in output.candidates])


class Pipeline:
    """Layers of operators with a budget; see the module docstring."""

    def __init__(
        self,
        layers: Sequence[Sequence[Operator]],
        clients: Mapping[str, object] | None = None,
        *,
        name: str = "pipeline",
        seed: int = 0,
        pass_seed: bool = False,
        budget: Budget | None = None,
        max_concurrency: int = 16,
    ) -> None:
        """Build a pipeline from operator objects.

        Args:
            layers: A list of layers, each a list of operators (`Generate`, `Fuse`, `Rank`, `Critique`,
                `Verify`, `GenTests`, `EvalTests`).
            clients: Model name → `ModelClient`, or any model `routerkit.clients.resolve_client` accepts;
                needed for every operator built with a model name rather than a model object.
            name: Shown in messages and reports.
            seed: See `PipelineConfig.seed`.
            pass_seed: Send a per-call `seed` option derived from `seed` to the models.
            budget: Limits per run; its `max_calls` is checked against the worst case now.
            max_concurrency: The most calls in flight at once in one run.

        Raises:
            ConfigError: if a construction rule is broken, the worst case exceeds `budget.max_calls`, or a
                model name is not in `clients`; the message names each problem.
        """
        self.config = _config_of(layers, name, seed, pass_seed, budget, max_concurrency)
        self.budget = budget or Budget()
        self.layers = tuple(
            Layer(i, tuple(operator.placed(i, j) for j, operator in enumerate(layer))) for i, layer in enumerate(layers)
        )
        self._clients = _bind_clients(self.layers, clients or {})

    def __repr__(self) -> str:
        """Name, layer shapes and the worst-case calls."""
        shapes = " → ".join("+".join(op.config.type for op in layer.operators) for layer in self.layers)
        return f"Pipeline({self.config.name!r}: {shapes}; worst case {self.worst_case_calls} calls)"

    @classmethod
    def from_config(
        cls, config: Mapping[str, Any] | PipelineConfig, clients: Mapping[str, object], *, budget: Budget | None = None
    ) -> Pipeline:
        """Build a pipeline from a config mapping (or a validated `PipelineConfig`).

        Args:
            config: The config (schema in `routerkit.compose.config`).
            clients: Model name → client (or model object) for every `model` the config names.
            budget: Replaces the config's `budget`.

        Raises:
            ConfigError: naming each invalid key, broken rule or unknown model.
        """
        if not isinstance(config, PipelineConfig):
            if not isinstance(config, Mapping):
                raise ConfigError(f"A pipeline config is a mapping or a `PipelineConfig`, got {type(config).__name__}.")
            config = PipelineConfig.model_validate(config, context={"budget": budget} if budget else None)
        layers = [[operator_from_config(component) for component in layer] for layer in config.layers]
        own = config.budget.to_budget() if config.budget else None
        return cls(
            layers,
            clients,
            name=config.name,
            seed=config.seed,
            pass_seed=config.pass_seed,
            budget=budget or own,
            max_concurrency=config.max_concurrency,
        )

    @classmethod
    def load(cls, path: str | Path, clients: Mapping[str, object], budget: Budget | None = None) -> Pipeline:
        """Build a pipeline from a `.json`, `.yaml` or `.yml` config file.

        Raises:
            ConfigError: if the file is missing, unparsable or invalid (naming the key).
            MissingDependencyError: for YAML when PyYAML (extra `compose`) is not installed.
        """
        return cls.from_config(load_config(path, budget=budget), clients, budget=budget)

    @property
    def worst_case_calls(self) -> int:
        """The most calls one run can make."""
        return worst_case_calls(self.config)

    async def arun(self, messages_or_prompt: Prompt, *, ledger: UsageLedger | None = None) -> PipelineResult:
        """Run every layer on the request and pick the answer.

        Args:
            messages_or_prompt: A prompt string, or chat messages.
            ledger: Count the calls in this ledger (and under its budget) instead of a new one.

        Raises:
            ConfigError: if the request is empty.
            PipelineBudgetExceededError: if the budget stopped the run (no call over it was sent).
            PipelineCallError: if a call failed under `on_error="fail"`, or no layer left a usable answer.
        """
        state = _start(messages_or_prompt)
        ledger = ledger if ledger is not None else UsageLedger(self.budget)
        gate = asyncio.Semaphore(self.config.max_concurrency)
        ctx = RunContext(ledger, self._clients, gate, seed=self.config.seed, pass_seed=self.config.pass_seed)
        reports: list[LayerReport] = []
        started = time.perf_counter()
        for layer in self.layers:
            state = await self._run_layer(layer, state, ctx, reports)
        selected = _select(reports, ledger)
        return PipelineResult(selected.text, selected, state, ledger, tuple(reports), time.perf_counter() - started)

    def run(self, messages_or_prompt: Prompt, *, ledger: UsageLedger | None = None) -> PipelineResult:
        """Sync twin of `arun` (not callable from inside a running event loop: await `arun` there)."""
        _refuse_running_loop("run", "arun")
        return asyncio.run(self.arun(messages_or_prompt, ledger=ledger))

    @overload
    async def abatch(
        self, prompts: Sequence[Prompt], *, concurrency: int = ..., return_exceptions: Literal[False] = ...
    ) -> list[PipelineResult]: ...

    @overload
    async def abatch(
        self, prompts: Sequence[Prompt], *, concurrency: int = ..., return_exceptions: Literal[True]
    ) -> list[PipelineResult | RouterkitError]: ...

    async def abatch(
        self, prompts: Sequence[Prompt], *, concurrency: int = 4, return_exceptions: bool = False
    ) -> list[PipelineResult] | list[PipelineResult | RouterkitError]:
        """Run many requests, at most `concurrency` at a time, each with its own ledger and budget.

        Args:
            prompts: The requests.
            concurrency: The most runs at once (each run also keeps to `max_concurrency` calls).
            return_exceptions: Put a run's `RouterkitError` in its place in the list instead of raising
                it (the other runs finish either way before anything is raised).

        Raises:
            ConfigError: if `concurrency < 1`.
        """
        if concurrency < 1:
            raise ConfigError(f"`concurrency` must be >= 1, got {concurrency!r}.")
        gate = asyncio.Semaphore(concurrency)

        async def one(prompt: Prompt) -> PipelineResult | _Raised:
            async with gate:
                try:
                    return await self.arun(prompt)
                except RouterkitError as exc:  # held as a value, so every other run still finishes
                    return _Raised(exc)

        outcomes = await gather_all(one(prompt) for prompt in prompts)
        errors = [outcome.error for outcome in outcomes if isinstance(outcome, _Raised)]
        if errors and not return_exceptions:
            raise errors[0]
        return [outcome.error if isinstance(outcome, _Raised) else outcome for outcome in outcomes]

    def batch(
        self, prompts: Sequence[Prompt], *, concurrency: int = 4, return_exceptions: bool = False
    ) -> list[PipelineResult | RouterkitError]:
        """Sync twin of `abatch`."""
        _refuse_running_loop("batch", "abatch")
        if return_exceptions:
            return asyncio.run(self.abatch(prompts, concurrency=concurrency, return_exceptions=True))
        return list(asyncio.run(self.abatch(prompts, concurrency=concurrency)))

    async def _run_layer(self, layer: Layer, state: State, ctx: RunContext, reports: list[LayerReport]) -> State:
        began, calls = time.perf_counter(), ctx.ledger.calls
        try:
            output = await layer.run(state, ctx)
        except BudgetExceededError as exc:
            message = f"{exc} {self._stopped_at(layer, ctx.ledger)}"
            raise PipelineBudgetExceededError(message, ledger=ctx.ledger, state=state, layers=tuple(reports)) from exc
        except ModelCallError as exc:
            message = f"{exc} {self._stopped_at(layer, ctx.ledger)}"
            raise PipelineCallError(message, ledger=ctx.ledger, state=state, layers=tuple(reports)) from exc
        ids = tuple(operator.id for operator in layer.operators)
        reports.append(LayerReport(layer.index, ids, time.perf_counter() - began, ctx.ledger.calls - calls, output))
        return output

    def _stopped_at(self, layer: Layer, ledger: UsageLedger) -> str:
        return (
            f"Pipeline {self.config.name!r} stopped in layer {layer.index} after {ledger.calls} calls, "
            f"{ledger.tokens} tokens and ${ledger.cost_usd:.6f}; the error's `ledger` and `state` hold what it did."
        )


@dataclass(frozen=True)
class _Raised:
    error: RouterkitError


def _config_of(
    layers: Sequence[Sequence[Operator]],
    name: str,
    seed: int,
    pass_seed: bool,
    budget: Budget | None,
    max_concurrency: int,
) -> PipelineConfig:
    """The config the operators describe, validated (construction rules, worst case against `budget`)."""
    for i, layer in enumerate(layers):
        if isinstance(layer, Operator) or not isinstance(layer, Sequence):
            raise ConfigError(
                f"`layers[{i}]` is a {type(layer).__name__}, not a list of operators: "
                "write `Pipeline([[Generate(...), Generate(...)], [Fuse(...)]])`."
            )
        for j, operator in enumerate(layer):
            if not isinstance(operator, Operator):
                raise ConfigError(
                    f"`layers[{i}][{j}]` is {operator!r}, not an operator: use `Generate`, `Fuse`, `Rank`, "
                    "`Critique`, `Verify`, `GenTests` or `EvalTests`."
                )
    raw = {
        "version": 1,
        "name": name,
        "seed": seed,
        "pass_seed": pass_seed,
        "max_concurrency": max_concurrency,
        "budget": None if budget is None else vars(budget).copy(),
        "layers": [[operator.config for operator in layer] for layer in layers],
    }
    return PipelineConfig.model_validate(raw)


def _bind_clients(layers: Sequence[Layer], clients: Mapping[str, object]) -> dict[str, ModelClient]:
    """A client for every model the operators name; unknown names are reported all at once."""
    bound: dict[str, ModelClient] = {}
    unknown: list[str] = []
    for layer in layers:
        for operator in layer.operators:
            where = f"`layers[{layer.index}][{operator.index}].model`"
            if operator.client is not None:
                if bound.setdefault(operator.model, operator.client) is not operator.client:
                    raise ConfigError(
                        f"{where} is a second, different client named {operator.model!r}; give each model a "
                        "unique name."
                    )
            elif operator.model in clients:
                bound.setdefault(operator.model, resolve_client(clients[operator.model]))
            elif operator.model not in bound:
                unknown.append(f"{where} is {operator.model!r}")
    if unknown:
        known = ", ".join(repr(name) for name in sorted({*clients, *bound})) or "none"
        raise ConfigError(
            f"Unknown model: {'; '.join(unknown)}. Known models: {known}. Add it to `clients`, or fix the name."
        )
    return bound


def _start(messages_or_prompt: Prompt) -> State:
    if isinstance(messages_or_prompt, Mapping):
        raise ConfigError("Pass chat messages as a list of `{'role': ..., 'content': ...}` mappings, not one mapping.")
    state = State.start(messages_or_prompt)
    if not state.query.strip():
        raise ConfigError(
            "The request has no non-empty user message; pass the question as a string or as chat messages "
            "ending with a user turn."
        )
    return state


def _select(reports: Sequence[LayerReport], ledger: UsageLedger) -> Candidate:
    """The first usable candidate of the latest layer that has one (see the module docstring)."""
    for report in reversed(reports):
        if report.state.usable:
            if report is not reports[-1]:
                logger.warning("The last layer left no usable answer; the answer comes from layer %d", report.index)
            return report.state.usable[0]
    last = reports[-1].state
    errors = "; ".join(f"{c.id}: {c.error or c.status}" for c in last.candidates[:5]) or "no candidates"
    raise PipelineCallError(
        f"No layer left a usable answer ({errors}). Check the models' errors, or use `on_error='fail'` to stop "
        "at the first failure.",
        ledger=ledger,
        state=last,
        layers=tuple(reports),
    )


def _refuse_running_loop(method: str, twin: str) -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    raise ConfigError(f"`Pipeline.{method}` cannot run inside a running event loop; use `await pipeline.{twin}(...)`.")
