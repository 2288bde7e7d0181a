"""`Cascade`: the Inter-Cascade. The weak model answers first, helped by strategies the strong model wrote.

For each query:

1. **Retrieve.** With a `StrategyStore`, the `k` strategies whose queries are most similar (cosine ≥
   `min_similarity`) are put before the question in the weak model's prompt (`augment_messages`).
2. **Answer and estimate.** The weak model answers; a `ConfidenceEstimator` rates the answer. A router's
   estimate needs no answer, so it is taken first, and a query it defers skips the weak call
   (`skip_weak_when_deferred`). A weak call that fails, or an empty answer, has confidence 0.
3. **Defer.** Below the `DeferralPolicy` threshold the strong model answers instead and writes a strategy
   (`strategy_mode`, see `routerkit.compose.strategy_prompts`), which the store keeps for later queries.

Failures: a failing weak model defers (the strong model is there for exactly the queries the weak one
cannot answer); a failing strong model raises `ModelCallError`, since the weak answer was judged not good
enough to return; a failing *strategy-writing* call (separate-call mode) keeps the answer and stores
nothing. Every call goes through the cascade's `UsageLedger`, which refuses calls beyond the `Budget`
before they are sent; each result also carries its own query's calls, tokens and cost.

The logic is written once, as a generator of steps (model calls, estimates, store operations) that a
sync driver runs with `complete` and an async driver with `acomplete` (`routerkit.compose._cascade_steps`),
so `run` and `arun` cannot drift.
"""

from __future__ import annotations

import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from routerkit.clients.base import ChatMessages, Completion, ModelClient, resolve_client
from routerkit.compose._cascade_steps import (
    Flow,
    Prompt,
    QueryLedger,
    Scorer,
    Step,
    adrive,
    as_messages,
    batch_inputs,
    blocking,
    check_parts,
    check_retrieval,
    checked_confidence,
    checked_list,
    drive,
    query_of,
    score_of,
    streamed,
)
from routerkit.compose.budget import Budget, UsageLedger
from routerkit.compose.cascade_stats import CascadeResult, CascadeStats, StrategyStatus
from routerkit.compose.confidence import ConfidenceEstimator, SelfVerifyConfidence
from routerkit.compose.deferral import DeferralPolicy
from routerkit.compose.strategies import Strategy, StrategyStore
from routerkit.compose.strategy_prompts import (
    StrategyMode,
    augment_messages,
    parse_strategy_reply,
    same_call_messages,
    separate_call_messages,
)
from routerkit.errors import ConfigError, ModelCallError

__all__ = ["AsyncCascadeStream", "Cascade", "CascadeStream", "Prompt", "Scorer"]


@dataclass
class _Draft:
    """What is known about one query so far; the flow fills it in."""

    messages: list[dict[str, str]]
    query: str
    weak_messages: list[dict[str, str]]
    used: tuple[tuple[str, float], ...] = ()
    retrieval_ms: float = 0.0
    weak: Completion | None = None
    weak_error: str | None = None
    confidence: float = 0.0
    deferred: bool = False
    skipped_weak: bool = False
    answer: str = ""
    answered_by: str = ""
    strategy_status: StrategyStatus = "not_deferred"
    strategy_written: Strategy | None = None


class Cascade:
    """A weak→strong cascade whose strong model teaches the weak one through a `StrategyStore`.

    Args:
        weak: the cheap model that answers first (a `ModelClient` or anything `resolve_client` accepts).
        strong: the model deferred to, which also writes strategies.
        confidence: how sure the weak model is (`RouterConfidence`, `SelfVerifyConfidence` — bound to the
            weak model when it has no client — `LogprobConfidence`, or your own).
        deferral: the threshold policy (`DeferralPolicy.fixed(0.6)` or `.calibrate(...)`).
        store: where strategies are kept and retrieved; None makes a plain cascade (no strategies written).
        k: strategies retrieved per query.
        min_similarity: the cosine floor for retrieval.
        max_strategy_chars: the character budget for strategies in the weak prompt.
        strategy_mode: `"separate_call"` (default; the answer comes from the user's own messages, then a
            second strong call writes the strategy) or `"same_call"` (one call answers and writes).
        skip_weak_when_deferred: with an estimator that needs no answer (a router), skip the weak call
            when the estimate already defers.
        scorer: `scorer(answer, reference)` in [0, 1]; used when a query comes with a reference.
        budget: limits on the cascade's calls, tokens and cost over its lifetime.
        weak_options: call options for the weak model (e.g. `{"logprobs": True}` for `LogprobConfidence`).
        strong_options: call options for the strong model's calls (answer and strategy).
        source: the provenance tag of the strategies this cascade writes.
        keep_results: keep only the last this many results (and so `stats` over them); None keeps all.
            Set it for a long-running service, whose results would otherwise grow without end.

    Raises:
        ConfigError: for an invalid argument (the message names it).
    """

    def __init__(
        self,
        weak: object,
        strong: object,
        confidence: ConfidenceEstimator,
        deferral: DeferralPolicy,
        *,
        store: StrategyStore | None = None,
        k: int = 2,
        min_similarity: float = 0.5,
        max_strategy_chars: int = 1500,
        strategy_mode: StrategyMode = "separate_call",
        skip_weak_when_deferred: bool = True,
        scorer: Scorer | None = None,
        budget: Budget | None = None,
        weak_options: Mapping[str, object] | None = None,
        strong_options: Mapping[str, object] | None = None,
        source: str = "cascade",
        keep_results: int | None = None,
    ) -> None:
        self.weak, self.strong = resolve_client(weak), resolve_client(strong)
        check_parts(self.weak, self.strong, confidence, deferral, store, strategy_mode, scorer)
        check_retrieval(k, min_similarity, max_strategy_chars)
        if isinstance(confidence, SelfVerifyConfidence) and confidence.client is None:
            confidence = confidence.using(self.weak)
        self.confidence = confidence
        self.deferral = deferral
        """The deferral policy; assign a newly calibrated one to change it."""
        self.store = store
        self.k, self.min_similarity, self.max_strategy_chars = k, float(min_similarity), max_strategy_chars
        self.strategy_mode: StrategyMode = strategy_mode
        self.skip_weak_when_deferred = skip_weak_when_deferred
        self.scorer = scorer
        self.weak_options, self.strong_options = dict(weak_options or {}), dict(strong_options or {})
        self.source = source
        self.ledger = UsageLedger(budget or Budget())
        """Every call of this cascade (queries and `confidences`), checked against the budget."""
        if keep_results is not None and (isinstance(keep_results, bool) or keep_results < 1):
            raise ConfigError(f"`keep_results` must be None or an integer >= 1, got {keep_results!r}.")
        self.results: deque[CascadeResult] = deque(maxlen=keep_results)
        """One result per answered query, in the order they finished (the last `keep_results`)."""

    def __repr__(self) -> str:
        """The two models and the threshold."""
        return f"Cascade(weak={self.weak.name!r}, strong={self.strong.name!r}, threshold={self.deferral.threshold})"

    @property
    def stats(self) -> CascadeStats:
        """Metrics over every query this cascade answered, in order (see `CascadeStats`)."""
        return CascadeStats(tuple(self.results))

    # -- answering ----------------------------------------------------------------------------------

    def run(self, prompt: Prompt, reference: str | None = None) -> CascadeResult:
        """Answer one query (sync: calls the clients' `complete`).

        Raises:
            ConfigError: for a malformed prompt, or an estimator that needs something it did not get.
            BudgetExceededError: before a call the budget does not allow.
            ModelCallError: if the strong model fails on a deferred query.
        """
        return drive(self._flow(as_messages(prompt), reference, self._query_ledger()))

    async def arun(self, prompt: Prompt, reference: str | None = None) -> CascadeResult:
        """Async twin of `run` (calls the clients' `acomplete`)."""
        return await adrive(self._flow(as_messages(prompt), reference, self._query_ledger()))

    def batch(self, prompts: Sequence[Prompt], references: Sequence[str | None] | None = None) -> list[CascadeResult]:
        """Answer queries one after another, in order.

        Sequential on purpose: a strategy written for one query can help the next, so the order is part
        of the outcome (as in a live stream of traffic), and runs are reproducible.
        """
        messages, refs = batch_inputs(prompts, references)
        return [self.run(m, r) for m, r in zip(messages, refs, strict=True)]

    async def abatch(
        self, prompts: Sequence[Prompt], references: Sequence[str | None] | None = None
    ) -> list[CascadeResult]:
        """Async twin of `batch`: sequential, in order, for the same reason."""
        messages, refs = batch_inputs(prompts, references)
        return [await self.arun(m, r) for m, r in zip(messages, refs, strict=True)]

    def stream(self, prompt: Prompt, reference: str | None = None) -> CascadeStream:
        """The chosen answer as text chunks; `.result` is set when the iteration ends.

        Not token-incremental for the weak model: its answer is buffered until the deferral decision and
        comes as one chunk. A deferred query streams the strong model's call as it arrives, except in
        `"same_call"` mode, where the reply mixes answer and strategy and is sent as one chunk once parsed.
        """
        messages = as_messages(prompt)
        return CascadeStream(lambda stream: self._chunks(messages, reference, stream))

    def astream(self, prompt: Prompt, reference: str | None = None) -> AsyncCascadeStream:
        """Async twin of `stream`."""
        messages = as_messages(prompt)
        return AsyncCascadeStream(lambda stream: self._achunks(messages, reference, stream))

    def confidences(self, prompts: Sequence[Prompt]) -> list[float]:
        """The estimator's confidence for each prompt, for `DeferralPolicy.calibrate`.

        Calls the weak model (with retrieved strategies, if there is a store, without counting hits) and
        the estimator, never the strong model. The calls are in `ledger`, not in `results`.
        """
        return [drive(self._measure(as_messages(prompt))) for prompt in checked_list(prompts, "prompts")]

    async def aconfidences(self, prompts: Sequence[Prompt]) -> list[float]:
        """Async twin of `confidences` (sequential)."""
        return [await adrive(self._measure(as_messages(prompt))) for prompt in checked_list(prompts, "prompts")]

    # -- the flow (one query) -----------------------------------------------------------------------

    def _flow(self, messages: list[dict[str, str]], reference: str | None, ledger: QueryLedger) -> Flow[CascadeResult]:
        draft = yield from self._decide(messages, ledger)
        if draft.deferred:
            yield from self._escalate(draft, ledger)
        return self._finish(draft, reference, ledger)

    def _decide(self, messages: list[dict[str, str]], ledger: UsageLedger) -> Flow[_Draft]:
        draft = _Draft(messages, query_of(messages), [dict(m) for m in messages])
        if not self.confidence.needs_answer:
            draft.confidence = yield self._estimate(messages, None, ledger)
            if self.skip_weak_when_deferred and self.deferral.defer(draft.confidence):
                draft.deferred = draft.skipped_weak = True
                return draft
        yield from self._answer_weakly(draft, ledger, count_hits=True)
        draft.deferred = draft.weak_error is not None or self.deferral.defer(draft.confidence)
        if not draft.deferred and draft.weak is not None:
            draft.answer, draft.answered_by = draft.weak.text, self.weak.name
        return draft

    def _answer_weakly(self, draft: _Draft, ledger: UsageLedger, *, count_hits: bool) -> Flow[None]:
        if self.store is not None:
            yield self._retrieve(draft, self.store, count_hits)
        try:
            draft.weak = yield self._call(ledger, self.weak, draft.weak_messages, self.weak_options)
        except ModelCallError as exc:
            draft.weak_error, draft.confidence = str(exc), 0.0
            return
        if not draft.weak.text.strip():
            draft.weak_error, draft.confidence = "the weak model's answer was empty", 0.0
        elif self.confidence.needs_answer:
            draft.confidence = yield self._estimate(draft.messages, draft.weak, ledger)

    def _retrieve(self, draft: _Draft, store: StrategyStore, count_hits: bool) -> Step[None]:
        def work() -> None:
            started = time.perf_counter()
            found = store.search(draft.query, self.k, self.min_similarity, count_hits=False)
            draft.weak_messages, used = augment_messages(
                draft.messages, [strategy for strategy, _ in found], max_chars=self.max_strategy_chars
            )
            if count_hits and used:
                store.record_hits(used)
            draft.used = tuple((strategy.id, similarity) for strategy, similarity in found if strategy.id in used)
            draft.retrieval_ms = (time.perf_counter() - started) * 1000.0

        return blocking(work)

    def _escalate(self, draft: _Draft, ledger: UsageLedger) -> Flow[None]:
        draft.answered_by = self.strong.name
        if self.store is None:
            draft.strategy_status = "no_store"
            draft.answer = (yield from self._strong_call(draft, draft.messages, ledger)).text
        elif self.strategy_mode == "same_call":
            reply = parse_strategy_reply(
                (yield from self._strong_call(draft, same_call_messages(draft.messages), ledger)).text
            )
            draft.answer = reply.answer
            yield from self._keep(draft, self.store, reply.strategy)
        else:
            draft.answer = (yield from self._strong_call(draft, draft.messages, ledger)).text
            yield from self._teach(draft, self.store, ledger)

    def _strong_call(self, draft: _Draft, messages: ChatMessages, ledger: UsageLedger) -> Flow[Completion]:
        try:
            completion: Completion = yield self._call(ledger, self.strong, messages, self.strong_options)
        except ModelCallError as exc:
            raise self._strong_failed(draft, exc) from exc
        return completion

    def _teach(self, draft: _Draft, store: StrategyStore, ledger: UsageLedger) -> Flow[None]:
        """Separate-call mode: ask the strong model for a strategy for the answer it gave."""
        request = separate_call_messages(draft.query, draft.answer)
        try:
            written: Completion = yield self._call(ledger, self.strong, request, self.strong_options)
        except ModelCallError:
            draft.strategy_status = "write_failed"  # the answer stands; only the lesson is lost
            return
        yield from self._keep(draft, store, parse_strategy_reply(written.text).strategy)

    def _keep(self, draft: _Draft, store: StrategyStore, strategy: str | None) -> Flow[None]:
        if strategy is None:
            draft.strategy_status = "parse_failed"
            return
        chosen = uuid.uuid4().hex
        stored: Strategy = yield blocking(
            lambda: store.add(
                draft.query, strategy, draft.answer, self.strong.name, source=self.source, strategy_id=chosen
            )
        )
        if stored.id == chosen:
            draft.strategy_status, draft.strategy_written = "written", stored
        else:
            draft.strategy_status = "duplicate"

    def _measure(self, messages: list[dict[str, str]]) -> Flow[float]:
        draft = _Draft(messages, query_of(messages), [dict(m) for m in messages])
        if not self.confidence.needs_answer:
            confidence: float = yield self._estimate(messages, None, self.ledger)
            return confidence
        yield from self._answer_weakly(draft, self.ledger, count_hits=False)
        return draft.confidence

    def _finish(self, draft: _Draft, reference: str | None, ledger: QueryLedger) -> CascadeResult:
        strong = ledger.by_model.get(self.strong.name)
        result = CascadeResult(
            query=draft.query,
            answer=draft.answer,
            model=draft.answered_by,
            deferred=draft.deferred,
            confidence=draft.confidence,
            threshold=self.deferral.threshold,
            weak_answer=None if draft.weak is None else draft.weak.text,
            weak_error=draft.weak_error,
            skipped_weak=draft.skipped_weak,
            strategies_used=draft.used,
            strategy_written=draft.strategy_written,
            strategy_status=draft.strategy_status,
            calls=ledger.calls,
            strong_calls=0 if strong is None else strong.calls,
            tokens=ledger.tokens,
            cost_usd=ledger.cost_usd,
            unpriced_calls=sum(usage.unpriced_calls for usage in ledger.by_model.values()),
            retrieval_ms=draft.retrieval_ms,
            score=None if reference is None or self.scorer is None else score_of(self.scorer, draft.answer, reference),
        )
        self.results.append(result)
        return result

    # -- steps ----------------------------------------------------------------------------------------

    def _query_ledger(self) -> QueryLedger:
        return QueryLedger(run=self.ledger)

    @staticmethod
    def _call(
        ledger: UsageLedger, client: ModelClient, messages: ChatMessages, options: dict[str, object]
    ) -> Step[Completion]:
        return Step(lambda: ledger.call(client, messages, **options), lambda: ledger.acall(client, messages, **options))

    def _estimate(self, messages: ChatMessages, completion: Completion | None, ledger: UsageLedger) -> Step[float]:
        estimator = self.confidence

        async def estimate() -> float:
            return checked_confidence(await estimator.aconfidence(messages, completion, ledger), estimator)

        return Step(lambda: checked_confidence(estimator.confidence(messages, completion, ledger), estimator), estimate)

    def _strong_failed(self, draft: _Draft, exc: ModelCallError) -> ModelCallError:
        why = draft.weak_error or f"confidence {draft.confidence:.3f} < threshold {self.deferral.threshold:.3f}"
        return ModelCallError(
            f"The strong model {self.strong.name!r} failed on a deferred query ({why}), so there is no answer "
            f"good enough to return: {exc}"
        )

    # -- streaming --------------------------------------------------------------------------------------

    def _streams_strong(self, draft: _Draft) -> bool:
        return draft.deferred and (self.store is None or self.strategy_mode == "separate_call")

    def _chunks(self, messages: list[dict[str, str]], reference: str | None, stream: CascadeStream) -> Iterator[str]:
        ledger = self._query_ledger()
        draft = drive(self._decide(messages, ledger))
        if self._streams_strong(draft):
            draft.answered_by = self.strong.name
            yield from self._stream_strong(draft, ledger)
            if self.store is None:
                draft.strategy_status = "no_store"
            else:
                drive(self._teach(draft, self.store, ledger))
        else:
            if draft.deferred:
                drive(self._escalate(draft, ledger))
            yield draft.answer
        stream.result = self._finish(draft, reference, ledger)

    async def _achunks(
        self, messages: list[dict[str, str]], reference: str | None, stream: AsyncCascadeStream
    ) -> AsyncIterator[str]:
        ledger = self._query_ledger()
        draft = await adrive(self._decide(messages, ledger))
        if self._streams_strong(draft):
            draft.answered_by = self.strong.name
            async for chunk in self._astream_strong(draft, ledger):
                yield chunk
            if self.store is None:
                draft.strategy_status = "no_store"
            else:
                await adrive(self._teach(draft, self.store, ledger))
        else:
            if draft.deferred:
                await adrive(self._escalate(draft, ledger))
            yield draft.answer
        stream.result = self._finish(draft, reference, ledger)

    def _stream_strong(self, draft: _Draft, ledger: UsageLedger) -> Iterator[str]:
        name, parts = self.strong.name, []
        ledger.reserve(name)
        try:
            chunks = self.strong.stream(draft.messages, **self.strong_options)
            for chunk in chunks:
                parts.append(chunk)
                yield chunk
        except ModelCallError as exc:
            ledger.record(name, None)
            raise self._strong_failed(draft, exc) from exc
        except BaseException:
            ledger.record(name, None)  # stopped early: the call was made, what it used is unknown
            raise
        draft.answer = "".join(parts)
        ledger.record(name, streamed(chunks, name, draft.answer))

    async def _astream_strong(self, draft: _Draft, ledger: UsageLedger) -> AsyncIterator[str]:
        name, parts = self.strong.name, []
        ledger.reserve(name)
        try:
            chunks = self.strong.astream(draft.messages, **self.strong_options)
            async for chunk in chunks:
                parts.append(chunk)
                yield chunk
        except ModelCallError as exc:
            ledger.record(name, None)
            raise self._strong_failed(draft, exc) from exc
        except BaseException:
            ledger.record(name, None)
            raise
        draft.answer = "".join(parts)
        ledger.record(name, streamed(chunks, name, draft.answer))


class CascadeStream:
    """The chunks of a cascade's answer (sync); `result` is the `CascadeResult` once they are exhausted."""

    def __init__(self, start: Callable[[CascadeStream], Iterator[str]]) -> None:
        self.result: CascadeResult | None = None
        """Set when the last chunk has been read."""
        self._chunks = start(self)

    def __iter__(self) -> CascadeStream:
        """The stream is its own iterator."""
        return self

    def __next__(self) -> str:
        """The next chunk of text."""
        return next(self._chunks)


class AsyncCascadeStream:
    """Async twin of `CascadeStream`."""

    def __init__(self, start: Callable[[AsyncCascadeStream], AsyncIterator[str]]) -> None:
        self.result: CascadeResult | None = None
        """Set when the last chunk has been read."""
        self._chunks = start(self)

    def __aiter__(self) -> AsyncCascadeStream:
        """The stream is its own iterator."""
        return self

    async def __anext__(self) -> str:
        """The next chunk of text."""
        return await self._chunks.__anext__()
