"""What an architecture search maximises: a config's score on a dev set, less a price for its calls.

`Objective` builds each candidate config with `Pipeline.from_config` and runs it over a dev set of
`(prompt or messages, reference)` pairs, scoring every answer with a user scorer. `FunctionObjective`
wraps a plain function of the config instead (an evaluation harness of your own). Both:

- maximise `value = score − cost_weight × cost per query − call_weight × calls per query`
  (both weights 0 by default: the score alone);
- reject a point whose worst-case calls per query exceed `max_calls_per_query` as infeasible, without
  running it (a constraint rather than a penalty);
- cache every evaluation by a hash of the compiled config (and the dev-set fidelity), so asking again
  costs nothing.

Multi-fidelity (the paper's protocol): with `subsample=n`, searches evaluate on a seeded subsample of n
dev items and a searcher's `confirm_top` re-evaluates the best configs (never the worst, unlike the
reference code) on the full dev set.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import json
import math
import random
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Generic, TypeVar

from routerkit.clients.base import ChatMessages
from routerkit.compose.search_space import Point, SearchSpace
from routerkit.errors import BudgetExceededError, ConfigError, ModelCallError

__all__ = ["BaseObjective", "DevItem", "Evaluation", "FunctionObjective", "Measurement", "Objective"]

R = TypeVar("R")
DevItem = tuple[str | ChatMessages, R]
"""One dev example: the prompt (a string or chat messages) and the reference the scorer compares with."""
ClientsSource = Mapping[str, object] | Callable[[], Mapping[str, object]]
_MAX_ERROR_MESSAGES = 5


@dataclass(frozen=True)
class Measurement:
    """What running one config over (part of) the dev set gave, before weighting."""

    score: float
    """The mean score over the queries."""
    calls: int = 0
    """Model calls over all the queries."""
    cost_usd: float = 0.0
    """USD over all the queries (calls whose price is unknown count 0)."""
    queries: int = 1
    errors: int = 0
    """Queries whose run failed (a model call error or the budget): each scored 0."""
    error_messages: tuple[str, ...] = ()
    """The first few failures' messages."""


@dataclass(frozen=True)
class Evaluation:
    """One evaluated architecture: its point, its config, its score, calls and cost."""

    point: Point
    config: Mapping[str, object]
    """The pipeline config (schema version 1) that was run."""
    key: str
    """Hash of the config: equal configs share it (and the cache entry)."""
    value: float
    """What the search maximises: `score − cost_weight × cost_per_query − call_weight × calls_per_query`."""
    score: float
    calls: int
    cost_usd: float
    queries: int
    errors: int = 0
    error_messages: tuple[str, ...] = ()
    full: bool = True
    """Whether it ran on the full dev set (False: on the search subsample)."""

    @property
    def calls_per_query(self) -> float:
        """Mean model calls per dev query."""
        return self.calls / self.queries

    @property
    def cost_per_query(self) -> float:
        """Mean USD per dev query."""
        return self.cost_usd / self.queries


class BaseObjective(ABC):
    """Caching, feasibility and weighting around one abstract step, `ameasure(config, full=...)`.

    Subclass it to evaluate configs your own way; `Objective` runs pipelines, `FunctionObjective` calls a
    function.
    """

    def __init__(
        self, *, cost_weight: float = 0.0, call_weight: float = 0.0, max_calls_per_query: int | None = None
    ) -> None:
        """Set how configs are compared.

        Args:
            cost_weight: Value lost per USD spent per query.
            call_weight: Value lost per model call per query.
            max_calls_per_query: A point whose worst-case calls per query exceed this is infeasible: it is
                never run. None: no limit.

        Raises:
            ConfigError: if a weight is negative or not a number, or the call limit is below 1.
        """
        for name, weight in (("cost_weight", cost_weight), ("call_weight", call_weight)):
            if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not weight >= 0:
                raise ConfigError(f"`{name}` must be a number >= 0, got {weight!r}.")
        if max_calls_per_query is not None and (isinstance(max_calls_per_query, bool) or max_calls_per_query < 1):
            raise ConfigError(f"`max_calls_per_query` must be None or an integer >= 1, got {max_calls_per_query!r}.")
        self.cost_weight = float(cost_weight)
        self.call_weight = float(call_weight)
        self.max_calls_per_query = max_calls_per_query
        self.runs = 0
        """Configs actually measured (cache misses), over this objective's lifetime."""
        self._cache: dict[str, Evaluation] = {}

    @property
    def subsampled(self) -> bool:
        """Whether searches evaluate on a subsample of the dev set (then `confirm_top` applies)."""
        return False

    @abstractmethod
    async def ameasure(self, config: Mapping[str, object], *, full: bool) -> Measurement:
        """Run `config` and measure it: on the full dev set, or on the search subsample if not `full`."""

    def check(self, space: SearchSpace) -> None:
        """Fail early if `space` cannot be evaluated here (e.g. it names models this objective lacks)."""
        return None

    def feasible(self, space: SearchSpace, point: Point) -> bool:
        """Whether `point` is a valid point of `space` within `max_calls_per_query`."""
        if space.violations(point):
            return False
        limit = self.max_calls_per_query
        return limit is None or space.worst_case_calls(point) <= limit

    def key(self, config: Mapping[str, object], *, full: bool = True) -> str:
        """The cache key of `config`: a hash of its canonical JSON (the `name` aside) and the fidelity."""
        body = {k: v for k, v in config.items() if k != "name"}
        text = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
        fidelity = "full" if full or not self.subsampled else "sub"
        return hashlib.sha256(f"{fidelity}:{text}".encode()).hexdigest()[:16]

    def cached(self, space: SearchSpace, point: Point, *, full: bool = False) -> Evaluation | None:
        """The cached evaluation of `point`, if it was evaluated at this fidelity."""
        config = space.compile(point)
        return self._cache.get(self.key(config, full=full))

    async def aevaluate(self, space: SearchSpace, point: Point, *, full: bool = False) -> Evaluation:
        """Evaluate `point` (from the cache when it was evaluated before at this fidelity).

        Args:
            space: The space `point` belongs to (it compiles the config).
            point: The architecture.
            full: Evaluate on the full dev set even when searches use a subsample.

        Raises:
            ConfigError: if `point` is pruned from `space` or over `max_calls_per_query`.
        """
        if not self.feasible(space, point):
            raise ConfigError(
                f"The point {point.label()!r} is infeasible: it is pruned from the space or can make more than "
                f"{self.max_calls_per_query} calls per query. Check `objective.feasible(space, point)` first."
            )
        point = space.canonical(point)
        config = space.compile(point)
        full = full or not self.subsampled
        key = self.key(config, full=full)
        if key not in self._cache:
            measured = await self.ameasure(config, full=full)
            self.runs += 1
            self._cache[key] = self._evaluation(point, config, key, measured, full)
        return replace(self._cache[key], point=point)

    def evaluate(self, space: SearchSpace, point: Point, *, full: bool = False) -> Evaluation:
        """Sync twin of `aevaluate` (not from inside a running event loop: await `aevaluate` there)."""
        refuse_running_loop(f"{type(self).__name__}.evaluate", "await objective.aevaluate(...)")
        return asyncio.run(self.aevaluate(space, point, full=full))

    def _evaluation(
        self, point: Point, config: Mapping[str, object], key: str, measured: Measurement, full: bool
    ) -> Evaluation:
        queries = max(measured.queries, 1)
        value = (
            measured.score
            - self.cost_weight * measured.cost_usd / queries
            - self.call_weight * measured.calls / queries
        )
        return Evaluation(
            point=point,
            config=config,
            key=key,
            value=value,
            score=measured.score,
            calls=measured.calls,
            cost_usd=measured.cost_usd,
            queries=queries,
            errors=measured.errors,
            error_messages=measured.error_messages,
            full=full,
        )


class FunctionObjective(BaseObjective):
    """An objective whose measurement is a function of the config (sync or async).

    The function returns a `Measurement`, or just a score (then calls and cost count 0).
    """

    def __init__(
        self,
        function: Callable[[Mapping[str, object]], Measurement | float | Awaitable[Measurement | float]],
        *,
        cost_weight: float = 0.0,
        call_weight: float = 0.0,
        max_calls_per_query: int | None = None,
    ) -> None:
        """Wrap `function`; the keyword arguments are those of `BaseObjective`."""
        super().__init__(cost_weight=cost_weight, call_weight=call_weight, max_calls_per_query=max_calls_per_query)
        self.function = function

    async def ameasure(self, config: Mapping[str, object], *, full: bool) -> Measurement:
        """Call the function on `config` (`full` does not apply: there is no subsample)."""
        result = self.function(config)
        if inspect.isawaitable(result):
            result = await result
        if isinstance(result, Measurement):
            return result
        return Measurement(score=_number(result, "The objective function"))


class Objective(BaseObjective, Generic[R]):
    """Runs each config as a `Pipeline` over a dev set and scores the answers with a user scorer."""

    def __init__(
        self,
        clients: ClientsSource,
        dev_set: Sequence[DevItem[R]],
        scorer: Callable[[str, R], float],
        *,
        cost_weight: float = 0.0,
        call_weight: float = 0.0,
        max_calls_per_query: int | None = None,
        subsample: int | None = None,
        seed: int = 0,
        concurrency: int = 8,
    ) -> None:
        """Set up the evaluation.

        Args:
            clients: The models by name (what `Pipeline.from_config` accepts), or a function returning
                them, called once per evaluated config (for clients that keep per-run state).
            dev_set: `(prompt or messages, reference)` pairs.
            scorer: `scorer(answer, reference)`: a number, higher is better (e.g. 1.0 if correct).
            cost_weight: See `BaseObjective`.
            call_weight: See `BaseObjective`.
            max_calls_per_query: See `BaseObjective`; also the call budget each pipeline run gets.
            subsample: Evaluate searches on this many dev items, drawn with `seed`; None: all of them.
            seed: The compiled configs' seed and the subsample's.
            concurrency: Dev queries run at once.

        Raises:
            ConfigError: if the dev set is empty, `subsample` is not in 1 … its size, or `concurrency` < 1.
        """
        super().__init__(cost_weight=cost_weight, call_weight=call_weight, max_calls_per_query=max_calls_per_query)
        self.dev_set = tuple(dev_set)
        if not self.dev_set:
            raise ConfigError("`dev_set` is empty: give at least one `(prompt, reference)` pair.")
        if subsample is not None and not 1 <= subsample <= len(self.dev_set):
            raise ConfigError(
                f"`subsample` must be in 1 … {len(self.dev_set)} (the dev set's size), got {subsample!r}."
            )
        if concurrency < 1:
            raise ConfigError(f"`concurrency` must be >= 1, got {concurrency!r}.")
        self.clients, self.scorer, self.seed, self.concurrency = clients, scorer, seed, concurrency
        self.subsample = subsample
        picked = sorted(random.Random(seed).sample(range(len(self.dev_set)), subsample)) if subsample else []
        self._subset = tuple(self.dev_set[i] for i in picked)

    @property
    def subsampled(self) -> bool:
        """Whether searches evaluate on a subsample of the dev set."""
        return self.subsample is not None and self.subsample < len(self.dev_set)

    def check(self, space: SearchSpace) -> None:
        """Fail early when `space` names a model that `clients` lacks.

        Raises:
            ConfigError: naming the unknown models and the known ones.
        """
        known = set(self._clients())
        named = {*space.generators, *space.fuser_models}
        named |= {m for m in (space.critic_model, space.ranker_model, space.verifier_model) if m}
        missing = sorted(named - known)
        if missing:
            raise ConfigError(
                f"The search space names models the objective's `clients` lack: {', '.join(map(repr, missing))}. "
                f"Known: {', '.join(map(repr, sorted(known))) or 'none'}. Add them to `clients`."
            )

    async def ameasure(self, config: Mapping[str, object], *, full: bool) -> Measurement:
        """Build the pipeline once and run it over the dev set (or the subsample), `concurrency` at a time."""
        from routerkit.compose.budget import Budget
        from routerkit.compose.pipeline import Pipeline

        budget = None if self.max_calls_per_query is None else Budget(max_calls=self.max_calls_per_query)
        pipeline = Pipeline.from_config(config, self._clients(), budget=budget)
        items = self.dev_set if full or not self.subsampled else self._subset
        gate = asyncio.Semaphore(self.concurrency)

        async def one(prompt: str | ChatMessages, reference: R) -> tuple[float, int, float, str | None]:
            async with gate:
                try:
                    result = await pipeline.arun(prompt)
                except (ModelCallError, BudgetExceededError) as exc:
                    ledger = getattr(exc, "ledger", None)
                    return 0.0, int(getattr(ledger, "calls", 0)), float(getattr(ledger, "cost_usd", 0.0)), str(exc)
            score = _number(self.scorer(result.answer, reference), "The scorer")
            return score, result.calls, result.cost_usd, None

        outcomes = await asyncio.gather(*(one(prompt, reference) for prompt, reference in items))
        errors = tuple(message for *_, message in outcomes if message is not None)
        return Measurement(
            score=sum(o[0] for o in outcomes) / len(outcomes),
            calls=sum(o[1] for o in outcomes),
            cost_usd=sum(o[2] for o in outcomes),
            queries=len(outcomes),
            errors=len(errors),
            error_messages=errors[:_MAX_ERROR_MESSAGES],
        )

    def _clients(self) -> Mapping[str, object]:
        return self.clients() if callable(self.clients) else self.clients


def refuse_running_loop(method: str, instead: str) -> None:
    """Raise if called inside a running event loop, where a sync twin's `asyncio.run` cannot work.

    Raises:
        ConfigError: naming `method` and what to call `instead`.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    raise ConfigError(f"`{method}` cannot run inside a running event loop; use `{instead}` there.")


def _number(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise ConfigError(f"{what} must return a number, got {value!r}.")
    return float(value)
