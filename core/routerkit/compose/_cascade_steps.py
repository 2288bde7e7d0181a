"""The machinery under `Cascade`: steps and their sync/async drivers, the per-query ledger, input checks.

A cascade's logic is a generator (a `Flow`) that yields `Step`s — a model call, an estimate, a store
operation — each with a sync and an async way to perform it. `drive` performs them with the sync ways,
`adrive` awaits the async ones; either sends the outcome (or throws the exception) back into the flow.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from routerkit.clients.base import ChatMessages, Completion, ModelClient
from routerkit.compose.budget import UsageLedger
from routerkit.compose.confidence import ConfidenceEstimator
from routerkit.compose.deferral import DeferralPolicy
from routerkit.compose.strategies import StrategyStore
from routerkit.errors import ConfigError, ModelCallError

__all__ = [
    "Flow",
    "Prompt",
    "QueryLedger",
    "Scorer",
    "Step",
    "adrive",
    "as_messages",
    "batch_inputs",
    "blocking",
    "check_parts",
    "check_retrieval",
    "checked_confidence",
    "checked_list",
    "drive",
    "query_of",
    "score_of",
    "streamed",
]

Prompt = str | ChatMessages
"""A query: the user's text, or OpenAI-style chat messages (the last user turn is the question)."""
Scorer = Callable[[str, str], float]
"""`scorer(answer, reference) -> float` in [0, 1], e.g. exact match; the mean is the accuracy."""

_T = TypeVar("_T")


@dataclass(frozen=True)
class Step(Generic[_T]):
    """One thing a flow needs done, in a sync and an async way; the driver sends back the outcome."""

    run: Callable[[], _T]
    arun: Callable[[], Awaitable[_T]]


Flow = Generator[Step[Any], Any, _T]


def drive(flow: Flow[_T]) -> _T:
    """Run a flow synchronously: each step's `run`, its value or exception sent back into the flow."""
    value: Any = None
    error: Exception | None = None
    while True:
        try:
            step = flow.send(value) if error is None else flow.throw(error)
        except StopIteration as done:
            result: _T = done.value
            return result
        try:
            value, error = step.run(), None
        except Exception as exc:  # handed to the flow, which decides; uncaught ones propagate from `throw`
            value, error = None, exc


async def adrive(flow: Flow[_T]) -> _T:
    """Async twin of `drive`: each step's `arun` is awaited."""
    value: Any = None
    error: Exception | None = None
    while True:
        try:
            step = flow.send(value) if error is None else flow.throw(error)
        except StopIteration as done:
            result: _T = done.value
            return result
        try:
            value, error = await step.arun(), None
        except Exception as exc:
            value, error = None, exc


def blocking(work: Callable[[], _T]) -> Step[_T]:
    """CPU or disk work (embedding, SQLite): run directly, or in a worker thread under asyncio."""
    return Step(work, lambda: asyncio.to_thread(work))


@dataclass
class QueryLedger(UsageLedger):
    """One query's share of the cascade's ledger: every call is budgeted and counted by `run` as well."""

    run: UsageLedger = field(default_factory=UsageLedger)

    def reserve(self, model: str) -> None:
        """Claim the call on the cascade's ledger (the budget lives there)."""
        self.run.reserve(model)

    def record(self, model: str, completion: Completion | None) -> None:
        """Count the call in both ledgers."""
        self.run.record(model, completion)
        super().record(model, completion)

    async def acall(self, client: ModelClient, messages: ChatMessages, **options: object) -> Completion:
        """Call through the cascade's ledger, then count the call here too."""
        try:
            completion = await self.run.acall(client, messages, **options)
        except ModelCallError:
            super().record(client.name, None)
            raise
        super().record(client.name, completion)
        return completion

    def call(self, client: ModelClient, messages: ChatMessages, **options: object) -> Completion:
        """Sync twin of `acall`."""
        try:
            completion = self.run.call(client, messages, **options)
        except ModelCallError:
            super().record(client.name, None)
            raise
        super().record(client.name, completion)
        return completion


# -- inputs and checks --------------------------------------------------------------------------------


def as_messages(prompt: object) -> list[dict[str, str]]:
    if isinstance(prompt, str):
        if not prompt.strip():
            raise ConfigError("The prompt is empty; pass the user's question.")
        return [{"role": "user", "content": prompt}]
    if isinstance(prompt, Sequence) and prompt and all(isinstance(m, Mapping) for m in prompt):
        messages = [dict(m) for m in prompt]
        if all(isinstance(m.get("role"), str) and isinstance(m.get("content"), str) for m in messages):
            query_of(messages)  # refuses messages without a non-empty user turn
            return messages
    raise ConfigError(
        f"A cascade query must be a string or chat messages with string `role` and `content`, got {prompt!r:.80}. "
        "Pass the question, or [{'role': 'user', 'content': '...'}]."
    )


def query_of(messages: list[dict[str, str]]) -> str:
    for message in reversed(messages):
        if message.get("role") == "user":
            if message.get("content", "").strip():
                return message["content"]
            break
    raise ConfigError(f"The messages need a non-empty last user turn (roles: {[m.get('role') for m in messages]!r}).")


def batch_inputs(
    prompts: Sequence[Prompt], references: Sequence[str | None] | None
) -> tuple[list[list[dict[str, str]]], list[str | None]]:
    messages = [as_messages(prompt) for prompt in checked_list(prompts, "prompts")]
    refs: list[str | None] = [None] * len(messages) if references is None else list(references)
    if len(refs) != len(messages):
        raise ConfigError(f"Got {len(messages)} prompts but {len(refs)} references; give one reference per prompt.")
    return messages, refs


def checked_list(values: Sequence[Prompt], name: str) -> Sequence[Prompt]:
    if isinstance(values, str) or not isinstance(values, Sequence):
        raise ConfigError(f"`{name}` must be a list of queries, got {type(values).__name__}; wrap one in a list.")
    return values


def checked_confidence(value: float, estimator: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
        raise ConfigError(
            f"{type(estimator).__name__} returned the confidence {value!r}; it must be a number in [0, 1]."
        )
    return float(value)


def score_of(scorer: Scorer, answer: str, reference: str) -> float:
    value = scorer(answer, reference)
    if isinstance(value, bool):
        value = float(value)
    if not isinstance(value, int | float) or math.isnan(value):
        raise ConfigError(f"The scorer returned {value!r} for answer {answer!r:.40}; it must return a number.")
    return float(value)


def streamed(chunks: object, model: str, text: str) -> Completion:
    """The streamed call's completion: the client's own (with usage) when its stream has one."""
    completion = getattr(chunks, "completion", None)
    return completion if isinstance(completion, Completion) else Completion(text=text, model=model)


def check_parts(
    weak: ModelClient,
    strong: ModelClient,
    confidence: object,
    deferral: object,
    store: object,
    strategy_mode: str,
    scorer: object,
) -> None:
    if weak.name == strong.name:
        raise ConfigError(
            f"The weak and strong models are both named {weak.name!r}; give them different names so their "
            "calls and costs are counted apart."
        )
    if not isinstance(confidence, ConfidenceEstimator):
        raise ConfigError(
            f"`confidence` must be a ConfidenceEstimator (`needs_answer`, `confidence`, `aconfidence`), got "
            f"{type(confidence).__name__}. Use RouterConfidence, SelfVerifyConfidence or LogprobConfidence."
        )
    if not isinstance(deferral, DeferralPolicy):
        raise ConfigError(f"`deferral` must be a DeferralPolicy, got {deferral!r}; e.g. `DeferralPolicy.fixed(0.6)`.")
    if store is not None and not isinstance(store, StrategyStore):
        raise ConfigError(f"`store` must be a StrategyStore or None, got {type(store).__name__}.")
    if strategy_mode not in ("same_call", "separate_call"):
        raise ConfigError(f"`strategy_mode` must be 'same_call' or 'separate_call', got {strategy_mode!r}.")
    if scorer is not None and not callable(scorer):
        raise ConfigError(f"`scorer` must be a function (answer, reference) -> float, got {type(scorer).__name__}.")


def check_retrieval(k: int, min_similarity: float, max_strategy_chars: int) -> None:
    for name, value, low in (("k", k, 1), ("max_strategy_chars", max_strategy_chars, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ConfigError(f"`{name}` must be an integer >= {low}, got {value!r}.")
    if isinstance(min_similarity, bool) or not isinstance(min_similarity, int | float) or not -1 <= min_similarity <= 1:
        raise ConfigError(f"`min_similarity` must be a cosine in [-1, 1], got {min_similarity!r} (e.g. 0.5).")
