"""Pipeline operators: the base class, the run context, and the candidate producers `Generate` and `Fuse`.

An operator is one component of a layer. `await operator.run(state, ctx)` returns a new `State`; every
model call goes through `ctx.complete`, which waits for the run's concurrency semaphore and then calls
the model through the run's `UsageLedger` (budget checked before dispatch, usage counted per call).

`on_error` decides what a failed call (`ModelCallError`) does: with `skip` a producer leaves a candidate
with `status="error"` and the error text, and a judge leaves its candidates un-annotated, and the run
goes on; with `fail` the error stops the run. `BudgetExceededError` always stops the run.

The judges (`Rank`, `Critique`, `Verify`) are in `routerkit.compose.operators_judges`, the unit-test
operators (`GenTests`, `EvalTests`) in `routerkit.compose.operators_tests`.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import logging
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeVar, cast

from pydantic import BaseModel, ValidationError
from typing_extensions import Self

from routerkit.clients.base import ChatMessages, Completion, ModelClient, resolve_client
from routerkit.compose.budget import UsageLedger
from routerkit.compose.candidates import Candidate, CandidateStatus, State
from routerkit.compose.config import ComponentBase, FuserConfig, GeneratorConfig, OnError
from routerkit.compose.prompts import component_messages, fuser_prompt
from routerkit.errors import ConfigError, ModelCallError

__all__ = [
    "Failed",
    "Fuse",
    "Generate",
    "Operator",
    "RunContext",
    "build_component",
    "call_seed",
    "critique_of",
    "gather_all",
    "resolve_model",
]

logger = logging.getLogger(__name__)

T = TypeVar("T")
C = TypeVar("C", bound=BaseModel)


async def gather_all(awaitables: Iterable[Awaitable[T]]) -> list[T]:
    """Await all of them concurrently; once every one has settled, raise the first exception (in order).

    Unlike a bare `asyncio.gather`, calls already dispatched are never orphaned when one fails: they
    finish and are counted in the ledger before the error propagates.
    """
    results = await asyncio.gather(*awaitables, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return cast("list[T]", results)


def call_seed(seed: int, key: str) -> int:
    """The `seed` option of one call: stable across runs, different for each call id and pipeline seed
    (so the samples of one generator do not all get the same seed)."""
    digest = hashlib.sha256(f"{seed}:{key}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


@dataclass(frozen=True)
class Failed:
    """A call that failed under `on_error="skip"`: a value, not an exception, so `gather_all` goes on."""

    reason: str

    def __str__(self) -> str:
        """The failure's message."""
        return self.reason


@dataclass(frozen=True)
class RunContext:
    """What an operator needs from the run: the ledger, the clients, the concurrency gate, the seed."""

    ledger: UsageLedger
    clients: Mapping[str, ModelClient]
    """Clients by the model names the operators use."""
    semaphore: asyncio.Semaphore
    """Bounds the calls in flight across the whole run."""
    seed: int = 0
    pass_seed: bool = False
    """Send `call_seed(seed, key)` as each call's `seed` option."""
    layer: int = 0
    """The index of the layer being run."""

    def at_layer(self, layer: int) -> RunContext:
        """The same context for layer `layer`."""
        return replace(self, layer=layer)

    async def complete(
        self,
        model: str,
        messages: ChatMessages,
        *,
        key: str,
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> Completion:
        """Call `model` within the budget and the concurrency limit.

        Args:
            model: A key of `clients`.
            messages: The call's messages.
            key: The call's id (a candidate id, or an operator id): seeds the call's `seed` option.
            temperature: Sent when not None.
            max_tokens: Sent when not None.

        Raises:
            ConfigError: if `model` is not in `clients`.
            BudgetExceededError: before dispatch, if the budget does not allow the call.
            ModelCallError: if the call failed.
        """
        client = self.clients.get(model)
        if client is None:
            known = ", ".join(repr(name) for name in sorted(self.clients)) or "none"
            raise ConfigError(f"No client for model {model!r} (known: {known}). Add it to the `clients` mapping.")
        options: dict[str, object] = {}
        if temperature is not None:
            options["temperature"] = temperature
        if max_tokens is not None:
            options["max_tokens"] = max_tokens
        if self.pass_seed:
            options["seed"] = call_seed(self.seed, key)
        async with self.semaphore:
            return await self.ledger.acall(client, messages, **options)


class Operator(ABC):
    """One component of a pipeline layer: `await run(state, ctx) -> State`.

    Operators are built from a component config (`Operator.config`, a `routerkit.compose.config` model),
    so the Python objects and the JSON/YAML configs describe pipelines the same way and share the
    construction rules. `requires`, `produces` and `uses` come from the config class.
    """

    config: ComponentBase

    def __init__(self, config: ComponentBase, *, client: ModelClient | None = None) -> None:
        """Wrap `config`; `client`, when given, is the model's client (else the pipeline's `clients`)."""
        self.config = config
        self.client = client
        self.layer = 0
        self.index = 0

    def __repr__(self) -> str:
        """Type, id and the config's non-default keys."""
        keys = self.config.model_dump(exclude_defaults=True, exclude={"type"})
        return f"{type(self).__name__}(id={self.id!r}, {', '.join(f'{k}={v!r}' for k, v in keys.items())})"

    @property
    def id(self) -> str:
        """`L{layer}.{index}.{type}`, from its place in the pipeline."""
        return f"L{self.layer}.{self.index}.{self.config.type}"

    @property
    def model(self) -> str:
        """The name of the model it calls."""
        return self.config.model

    @property
    def requires(self) -> frozenset[str]:
        """What an earlier layer must have produced (`candidates`, `unit_tests`)."""
        return self.config.requires

    @property
    def produces(self) -> frozenset[str]:
        """What it adds (`candidates`, `unit_tests`, or an annotation kind)."""
        return self.config.produces

    @property
    def uses(self) -> frozenset[str]:
        """Annotations it reads when present (`critique`)."""
        return self.config.uses

    def placed(self, layer: int, index: int) -> Self:
        """A copy of it as component `index` of layer `layer` (its id and its candidates' ids say so)."""
        placed = copy.copy(self)
        placed.layer, placed.index = layer, index
        return placed

    def max_calls(self, n_in: int) -> int:
        """The most calls it makes when `n_in` candidates flow in."""
        return self.config.max_calls(n_in)

    @abstractmethod
    async def run(self, state: State, ctx: RunContext) -> State:
        """Return the state after this operator (see each subclass for what it does to the candidates)."""

    def candidate_id(self, ctx: RunContext, sample: int) -> str:
        """The id of its `sample`-th candidate: `L{layer}.{index}.{model}#{sample}`."""
        return f"L{ctx.layer}.{self.index}.{self.model}#{sample}"

    async def _attempt(self, ctx: RunContext, messages: ChatMessages, key: str) -> Completion | Failed:
        """One call; with `on_error="skip"` a failure is returned as `Failed` (and logged) instead of raised."""
        try:
            return await ctx.complete(
                self.model, messages, key=key, temperature=self.config.temperature, max_tokens=self.config.max_tokens
            )
        except ModelCallError as exc:
            if self.config.on_error == "fail":
                raise
            logger.warning("%s: the call %r failed and is skipped: %s", self.id, key, exc)
            return Failed(str(exc))

    def _candidate(
        self,
        ctx: RunContext,
        key: str,
        outcome: Completion | Failed | str,
        *,
        parents: tuple[str, ...] = (),
        annotations: Mapping[str, object] | None = None,
    ) -> Candidate:
        """A candidate from a call's outcome (a string is an error that happened without a call)."""
        base = Candidate(key, "", self.model, self.id, ctx.layer, parents=parents, annotations=dict(annotations or {}))
        if isinstance(outcome, Completion):
            status: CandidateStatus = "ok" if outcome.text.strip() else "empty"
            return replace(base, text=outcome.text, status=status, usage=outcome.usage, cost_usd=outcome.cost_usd)
        return replace(base, status="error", error=str(outcome))


def resolve_model(model: object) -> tuple[str, ModelClient | None]:
    """A model name as given, or the name and client of a model object (a `ModelClient`, or anything
    `resolve_client` accepts)."""
    if isinstance(model, str):
        return model, None
    client = resolve_client(model)
    return client.name, client


def build_component(cls: type[C], operator: str, **fields: Any) -> C:
    """Validate an operator's arguments into its config.

    Raises:
        ConfigError: naming each invalid argument and what is wrong with it.
    """
    try:
        return cls(**fields)
    except ValidationError as exc:
        problems = "; ".join(f"`{'.'.join(map(str, e['loc']))}`: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"Invalid arguments to `{operator}`: {problems}.") from exc


class Generate(Operator):
    """Answers the request `samples` times, concurrently (config type `generator`).

    Its candidates are `L{layer}.{index}.{model}#{sample}`; an empty answer is `status="empty"`, a failed
    call (with `on_error="skip"`) `status="error"`.
    """

    config: GeneratorConfig

    def __init__(
        self,
        model: str | object,
        *,
        samples: int = 1,
        temperature: float | None = None,
        max_tokens: int | None = None,
        on_error: OnError = "skip",
    ) -> None:
        """Generate with `model`: a name in the pipeline's `clients`, or a model object.

        Raises:
            ConfigError: if an argument is invalid (e.g. `samples < 1`).
        """
        name, client = resolve_model(model)
        config = build_component(
            GeneratorConfig,
            "Generate",
            model=name,
            samples=samples,
            temperature=temperature,
            max_tokens=max_tokens,
            on_error=on_error,
        )
        super().__init__(config, client=client)

    async def run(self, state: State, ctx: RunContext) -> State:
        """The state whose candidates are this generator's samples, in sample order."""
        messages = [dict(message) for message in state.messages]
        keys = [self.candidate_id(ctx, sample) for sample in range(self.config.samples)]
        outcomes = await gather_all(self._attempt(ctx, messages, key) for key in keys)
        return state.with_candidates([self._candidate(ctx, k, o) for k, o in zip(keys, outcomes, strict=True)])


class Fuse(Operator):
    """Merges the usable candidates into `samples` new ones (config type `fuser`; MoA's aggregator).

    The prompt numbers the candidates and shows each one's own critique (read from its annotations, so a
    critique can never land on the wrong candidate). The new candidates' `parents` are the fused ids. A
    context guard caps the characters fed in at `max_input_chars`: the last candidates (the lowest-ranked,
    after a ranker) are dropped first and named in the annotation `dropped_inputs`; the first one always
    goes in, cut to the cap if it alone is longer (annotation `truncated_input`).
    """

    config: FuserConfig

    def __init__(
        self,
        model: str | object,
        *,
        samples: int = 1,
        temperature: float | None = None,
        max_tokens: int | None = None,
        max_input_chars: int = 32_000,
        on_error: OnError = "skip",
    ) -> None:
        """Fuse with `model`: a name in the pipeline's `clients`, or a model object.

        Raises:
            ConfigError: if an argument is invalid.
        """
        name, client = resolve_model(model)
        config = build_component(
            FuserConfig,
            "Fuse",
            model=name,
            samples=samples,
            temperature=temperature,
            max_tokens=max_tokens,
            max_input_chars=max_input_chars,
            on_error=on_error,
        )
        super().__init__(config, client=client)

    async def run(self, state: State, ctx: RunContext) -> State:
        """The state whose candidates are the fused ones (the inputs stay reachable through `parents`).

        Raises:
            ModelCallError: with `on_error="fail"`, also when there is no usable candidate to fuse.
        """
        keys = [self.candidate_id(ctx, sample) for sample in range(self.config.samples)]
        inputs, notes = self._fit(state.usable)
        if not inputs:
            reason = "no usable candidate to fuse: every earlier call failed or answered nothing"
            if self.config.on_error == "fail":
                raise ModelCallError(f"{self.id}: {reason}.")
            return state.with_candidates([self._candidate(ctx, key, reason) for key in keys])
        texts = [text for _, text in inputs]
        prompt = fuser_prompt(state.query, texts, [critique_of(candidate) for candidate, _ in inputs])
        messages = component_messages(state.messages, "fuser", prompt)
        outcomes = await gather_all(self._attempt(ctx, messages, key) for key in keys)
        parents = tuple(candidate.id for candidate, _ in inputs)
        return state.with_candidates(
            [
                self._candidate(ctx, k, o, parents=parents, annotations=notes)
                for k, o in zip(keys, outcomes, strict=True)
            ]
        )

    def _fit(self, candidates: Sequence[Candidate]) -> tuple[list[tuple[Candidate, str]], dict[str, object]]:
        """The candidates (and texts) that fit in `max_input_chars`, and notes on what was cut."""
        room, kept = self.config.max_input_chars, []
        notes: dict[str, object] = {}
        for index, candidate in enumerate(candidates):
            size = len(candidate.text) + len(critique_of(candidate) or "")
            if size <= room:
                kept.append((candidate, candidate.text))
                room -= size
                continue
            if not kept:  # the first (best-ranked) candidate always goes in, cut to the cap
                kept.append((candidate, candidate.text[:room]))
                notes["truncated_input"] = candidate.id
                index += 1
            dropped = tuple(c.id for c in candidates[index:])
            if dropped:
                notes["dropped_inputs"] = dropped
                logger.info("%s: the context guard dropped %d candidates: %s", self.id, len(dropped), dropped)
            break
        return kept, notes


def critique_of(candidate: Candidate) -> str | None:
    """The candidate's own `critique` annotation, if it has one."""
    critique = candidate.annotations.get("critique")
    return critique if isinstance(critique, str) else None
