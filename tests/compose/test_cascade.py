"""The Inter-Cascade end to end, with scripted weak and strong models and the real MiniLM encoder."""

from __future__ import annotations

import contextlib
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from routerkit.clients.base import ChatMessages, Completion
from routerkit.compose.budget import Budget, UsageLedger
from routerkit.compose.cascade import Cascade
from routerkit.compose.cascade_stats import CascadeResult
from routerkit.compose.confidence import LogprobConfidence, RouterConfidence, SelfVerifyConfidence
from routerkit.compose.deferral import DeferralPolicy
from routerkit.compose.strategies import StrategyStore
from routerkit.compose.strategy_prompts import SAME_CALL_PROMPT
from routerkit.errors import BudgetExceededError, ConfigError, ModelCallError
from routerkit.routers.baselines import LengthRouter
from routerkit.routers.registry import load_encoder
from routerkit.runtime.encoder import Encoder
from routerkit.testing import ScriptedClient

APPLES = "Tom has 3 apples and buys 5 more. How many apples does he have now?"
PEARS = "Anna has 7 pears and buys 5 more. How many pears does she have now?"
APPLES_REWORDED = "Tom has 3 apples and buys 5 more. How many apples does Tom have now?"
CAPITAL = "What is the capital of France?"
STRATEGY = "Add the amount bought to the amount at the start."


def weak_script(messages: ChatMessages) -> str:
    """A weak model that solves the word problems only when a strategy is in its prompt."""
    content = messages[-1]["content"]
    if "[Strategy 1]" in content:
        return "12"
    return "Paris" if "capital" in content else "not sure"


def weak_logprobs(text: str) -> tuple[float, ...]:
    return (-2.0, -2.0) if text == "not sure" else (-0.05,)  # confidence 0.14 or 0.95


def strong_script(messages: ChatMessages) -> str:
    content = messages[-1]["content"]
    if content.startswith("A weaker model could not answer"):
        return f"STRATEGY:\n{STRATEGY}"
    if content.endswith(SAME_CALL_PROMPT.rstrip()[-40:]):
        return f"ANSWER:\n8\nSTRATEGY:\n{STRATEGY}"
    return "The answer is 8."


@dataclass
class Setup:
    cascade: Cascade
    weak: ScriptedClient
    strong: ScriptedClient


@pytest.fixture(scope="module")
def encoder() -> Encoder:
    return load_encoder("minilm_l6")


@pytest.fixture
def store(encoder: Encoder) -> StrategyStore:
    return StrategyStore(embedder=encoder)


def make(
    store: StrategyStore | None = None,
    *,
    weak: ScriptedClient | None = None,
    strong: ScriptedClient | None = None,
    **options: object,
) -> Setup:
    weak = weak or ScriptedClient("weak", weak_script, logprobs=weak_logprobs, prices=(1.0, 2.0))
    strong = strong or ScriptedClient("strong", strong_script, prices=(10.0, 30.0))
    settings: dict[str, object] = {"confidence": LogprobConfidence(), "deferral": DeferralPolicy.fixed(0.5)}
    settings.update(options)
    return Setup(Cascade(weak, strong, store=store, **settings), weak, strong)  # type: ignore[arg-type]


def exact(answer: str, reference: str) -> float:
    return float(reference in answer)


# -- deferral and no deferral ------------------------------------------------------------------------


def test_a_confident_weak_answer_is_returned_and_the_strong_model_never_called() -> None:
    setup = make()
    result = setup.cascade.run(CAPITAL)
    assert (result.answer, result.model, result.deferred) == ("Paris", "weak", False)
    assert result.confidence == pytest.approx(0.951, abs=1e-3) and result.strategy_status == "not_deferred"
    assert setup.strong.calls == [] and (result.calls, result.strong_calls) == (1, 0)


def test_a_deferred_query_is_answered_by_the_strong_model_which_writes_a_strategy(store: StrategyStore) -> None:
    setup = make(store)
    result = setup.cascade.run(APPLES)
    assert (result.answer, result.model, result.deferred, result.weak_answer) == (
        "The answer is 8.",
        "strong",
        True,
        "not sure",
    )
    answer_call, writer_call = setup.strong.calls
    assert answer_call.messages == [{"role": "user", "content": APPLES}]  # the user's request, unchanged
    assert (
        APPLES in writer_call.messages[0]["content"]
        and "Answer:\nThe answer is 8." in writer_call.messages[0]["content"]
    )
    assert result.strategy_status == "written" and result.strategy_written is not None
    assert [(s.id, s.query, s.strategy, s.answer, s.model) for s in store] == [
        (result.strategy_written.id, APPLES, STRATEGY, "The answer is 8.", "strong")
    ]
    assert (result.calls, result.strong_calls) == (3, 2)


def test_same_call_mode_answers_and_writes_in_one_call(store: StrategyStore) -> None:
    setup = make(store, strategy_mode="same_call")
    result = setup.cascade.run(APPLES)
    (call,) = setup.strong.calls
    assert call.messages[0]["content"] == APPLES + SAME_CALL_PROMPT
    assert result.answer == "8"  # the ANSWER section only, not the strategy
    assert result.strategy_written is not None and result.strategy_written.strategy == STRATEGY


def test_without_a_store_no_strategy_is_asked_for() -> None:
    setup = make()
    result = setup.cascade.run(APPLES)
    assert len(setup.strong.calls) == 1 and result.strategy_status == "no_store"


# -- strategies: written, retrieved, injected --------------------------------------------------------


def test_a_strategy_written_on_one_query_is_injected_for_a_similar_one_only(store: StrategyStore) -> None:
    setup = make(store)
    first = setup.cascade.run(APPLES)
    assert first.strategy_written is not None

    second = setup.cascade.run(PEARS)
    weak_prompt = setup.weak.calls[-1].messages[-1]["content"]
    assert STRATEGY in weak_prompt and weak_prompt.endswith(PEARS)
    ((used_id, similarity),) = second.strategies_used
    assert used_id == first.strategy_written.id and 0.5 <= similarity < 0.95
    assert (second.answer, second.model, second.deferred) == ("12", "weak", False)
    assert len(setup.strong.calls) == 2  # only the first query's answer and strategy

    third = setup.cascade.run(CAPITAL)
    assert STRATEGY not in setup.weak.calls[-1].messages[-1]["content"]  # below the similarity floor
    assert third.strategies_used == () and store.strategies()[0].hits == 1


def test_a_reply_without_a_strategy_keeps_the_answer_and_stores_nothing(store: StrategyStore) -> None:
    strong = ScriptedClient("strong", ["8", "I would just add them up."])
    setup = make(store, strong=strong)
    result = setup.cascade.run(APPLES)
    assert result.answer == "8" and result.strategy_status == "parse_failed" and len(store) == 0
    assert setup.cascade.stats.strategy_parse_failures == 1


def test_same_call_without_tags_returns_the_whole_reply(store: StrategyStore) -> None:
    setup = make(store, strong=ScriptedClient("strong", ["It is 8."]), strategy_mode="same_call")
    result = setup.cascade.run(APPLES)
    assert (result.answer, result.strategy_status, len(store)) == ("It is 8.", "parse_failed", 0)


def test_a_near_duplicate_query_does_not_add_a_second_strategy(store: StrategyStore) -> None:
    always_unsure = ScriptedClient("weak", ["not sure"], logprobs=(-3.0,))
    setup = make(store, weak=always_unsure)
    first, second = setup.cascade.batch([APPLES, APPLES_REWORDED])
    assert (first.strategy_status, second.strategy_status) == ("written", "duplicate")
    assert len(store) == 1 and setup.cascade.stats.strategy_duplicates == 1


def test_a_failing_strategy_call_keeps_the_answer(store: StrategyStore) -> None:
    def strong_fails_to_teach(messages: ChatMessages) -> str:
        if messages[-1]["content"].startswith("A weaker model"):
            raise ModelCallError("upstream 503")
        return "8"

    setup = make(store, strong=ScriptedClient("strong", strong_fails_to_teach))
    result = setup.cascade.run(APPLES)
    assert (result.answer, result.strategy_status, len(store)) == ("8", "write_failed", 0)
    assert setup.cascade.ledger.by_model["strong"].failures == 1


# -- failures and budgets ----------------------------------------------------------------------------


def test_a_failing_weak_model_defers_to_the_strong_one() -> None:
    flaky = ScriptedClient("weak", weak_script, fail_times=1, logprobs=weak_logprobs)
    setup = make(weak=flaky)
    result = setup.cascade.run(CAPITAL)
    assert (result.model, result.deferred, result.confidence) == ("strong", True, 0.0)
    assert result.weak_error is not None and "failed call 1" in result.weak_error
    assert setup.cascade.ledger.by_model["weak"].failures == 1 and setup.cascade.stats.weak_failures == 1


def test_an_empty_weak_answer_defers() -> None:
    setup = make(weak=ScriptedClient("weak", ["  "], logprobs=(-0.01,)))
    result = setup.cascade.run(CAPITAL)
    assert result.deferred and result.weak_error == "the weak model's answer was empty"


def test_a_failing_strong_model_raises_with_the_reason_for_deferring() -> None:
    setup = make(strong=ScriptedClient("strong", ["8"], fail_times=1))
    with pytest.raises(ModelCallError, match=r"'strong' failed on a deferred query \(confidence 0.135 < threshold"):
        setup.cascade.run(APPLES)
    assert not setup.cascade.results and setup.cascade.ledger.by_model["strong"].failures == 1


@pytest.mark.parametrize(
    ("max_calls", "weak_calls"), [pytest.param(0, 0, id="before-weak"), pytest.param(1, 1, id="before-strong")]
)
def test_the_budget_stops_the_cascade_before_a_call(max_calls: int, weak_calls: int) -> None:
    setup = make(budget=Budget(max_calls=max_calls))
    with pytest.raises(BudgetExceededError):
        setup.cascade.run(APPLES)
    assert (len(setup.weak.calls), len(setup.strong.calls)) == (weak_calls, 0)


def test_logprob_confidence_on_a_client_without_logprobs_says_what_to_do() -> None:
    setup = make(weak=ScriptedClient("weak", ["Paris"]))
    with pytest.raises(ConfigError, match="weak_options"):
        setup.cascade.run(CAPITAL)


# -- confidence estimators in the cascade ------------------------------------------------------------


def test_a_router_that_defers_skips_the_weak_call() -> None:
    setup = make(confidence=RouterConfidence(LengthRouter(scale=40.0)))  # long prompts look hard
    deferred = setup.cascade.run(APPLES)
    assert deferred.skipped_weak and deferred.deferred and setup.weak.calls == []
    assert deferred.confidence == pytest.approx(40.0 / (len(APPLES) + 40.0))
    kept = setup.cascade.run(CAPITAL)
    assert (kept.model, kept.skipped_weak, len(setup.weak.calls)) == ("weak", False, 1)


def test_a_router_can_still_let_the_weak_model_answer_first() -> None:
    setup = make(confidence=RouterConfidence(LengthRouter(scale=40.0)), skip_weak_when_deferred=False)
    result = setup.cascade.run(APPLES)
    assert (result.weak_answer, result.model, result.skipped_weak) == ("not sure", "strong", False)


def test_self_verification_asks_the_weak_model_by_default() -> None:
    weak = ScriptedClient("weak", ["Paris", "P: 0.9"])
    setup = make(weak=weak, confidence=SelfVerifyConfidence())
    result = setup.cascade.run(CAPITAL)
    assert (result.answer, result.calls) == ("Paris", 2) and result.confidence == pytest.approx(0.9)
    assert "Proposed answer:\nParis" in weak.calls[1].messages[0]["content"]


def test_an_estimator_outside_zero_one_is_refused() -> None:
    @dataclass
    class Broken:
        needs_answer: bool = True

        def confidence(self, messages: ChatMessages, completion: Completion | None, ledger: UsageLedger) -> float:
            return 1.5

        async def aconfidence(
            self, messages: ChatMessages, completion: Completion | None, ledger: UsageLedger
        ) -> float:
            return 1.5

    with pytest.raises(ConfigError, match=r"Broken returned the confidence 1\.5"):
        make(confidence=Broken()).cascade.run(CAPITAL)


def test_calibrated_threshold_hits_the_target_deferral_rate() -> None:
    prompts = [f"Question number {i}: what is {i} squared?" for i in range(10)]
    confidence_of = {f"answer {i}": -0.1 * (i + 1) for i in range(10)}  # a different confidence per prompt

    def answer(messages: ChatMessages) -> str:
        return f"answer {messages[-1]['content'].split()[2].rstrip(':')}"

    weak = ScriptedClient("weak", answer, logprobs=lambda text: (confidence_of[text],))
    setup = make(weak=weak)
    confidences = setup.cascade.confidences(prompts)
    assert setup.strong.calls == [] and not setup.cascade.results  # measuring calls only the weak model
    setup.cascade.deferral = DeferralPolicy.calibrate(confidences, target_rate=0.3)
    results = setup.cascade.batch(prompts)
    assert sum(r.deferred for r in results) == 3 and setup.cascade.stats.strong_call_rate == pytest.approx(0.3)


# -- async and sync twins ----------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_async_run_matches_sync_run(encoder: Encoder) -> None:
    def outcome(results: list[CascadeResult]) -> list[tuple[object, ...]]:
        return [(r.answer, r.model, r.deferred, r.strategy_status, len(r.strategies_used), r.calls) for r in results]

    sync = make(StrategyStore(embedder=encoder))
    asynchronous = make(StrategyStore(embedder=encoder))
    expected = outcome(sync.cascade.batch([APPLES, PEARS, CAPITAL]))
    assert outcome(await asynchronous.cascade.abatch([APPLES, PEARS, CAPITAL])) == expected
    assert {call.method for call in asynchronous.weak.calls + asynchronous.strong.calls} == {"acomplete"}
    assert {call.method for call in sync.weak.calls + sync.strong.calls} == {"complete"}
    assert (await asynchronous.cascade.arun(PEARS)).strategies_used


def test_batch_scores_against_references_in_order(store: StrategyStore) -> None:
    setup = make(store, scorer=exact)
    results = setup.cascade.batch([APPLES, PEARS, CAPITAL], ["8", "12", "Paris"])
    assert [r.score for r in results] == [1.0, 1.0, 1.0] and setup.cascade.stats.accuracy == 1.0
    with pytest.raises(ConfigError, match="3 prompts but 1 references"):
        setup.cascade.batch([APPLES, PEARS, CAPITAL], ["8"])


# -- streaming ---------------------------------------------------------------------------------------


def test_a_kept_weak_answer_streams_as_one_buffered_chunk() -> None:
    setup = make()
    stream = setup.cascade.stream(CAPITAL)
    assert stream.result is None
    assert list(stream) == ["Paris"]
    assert stream.result is not None and stream.result.model == "weak"


def test_a_deferred_answer_streams_the_strong_call_then_writes_the_strategy(store: StrategyStore) -> None:
    setup = make(store)
    stream = setup.cascade.stream(APPLES)
    assert list(stream) == ["The ", "answer ", "is ", "8."]
    assert [call.method for call in setup.strong.calls] == ["stream", "complete"]
    assert stream.result is not None and stream.result.strategy_status == "written" and len(store) == 1
    assert setup.cascade.ledger.by_model["strong"].calls == 2 and stream.result.strong_calls == 2


def test_same_call_mode_streams_the_parsed_answer_in_one_chunk(store: StrategyStore) -> None:
    setup = make(store, strategy_mode="same_call")
    assert list(setup.cascade.stream(APPLES)) == ["8"]
    assert [call.method for call in setup.strong.calls] == ["complete"]


@pytest.mark.asyncio
async def test_async_stream_twin(store: StrategyStore) -> None:
    setup = make(store)
    stream = setup.cascade.astream(APPLES)
    assert [chunk async for chunk in stream] == ["The ", "answer ", "is ", "8."]
    assert stream.result is not None and stream.result.strategy_status == "written"
    kept = setup.cascade.astream(PEARS)
    assert [chunk async for chunk in kept] == ["12"]
    assert [call.method for call in setup.strong.calls] == ["astream", "acomplete"]


def test_a_failing_strong_stream_raises_and_counts_the_call() -> None:
    setup = make(strong=ScriptedClient("strong", ["8"], fail_times=1))
    with pytest.raises(ModelCallError, match="deferred query"):
        list(setup.cascade.stream(APPLES))
    assert setup.cascade.ledger.by_model["strong"].failures == 1


# -- metrics -----------------------------------------------------------------------------------------


def test_stats_are_real_counts_and_show_change_over_time(store: StrategyStore) -> None:
    setup = make(store, scorer=exact)
    queries = [
        APPLES,
        "Ben has 4 bananas and buys 6 more. How many bananas does he have now?",
        PEARS,
        "Mia has 2 oranges and buys 9 more. How many oranges does she have now?",
    ]
    setup.cascade.batch(queries, ["8", "10", "12", "11"])
    stats = setup.cascade.stats
    assert (stats.queries, stats.deferrals, stats.store_hits, stats.strategies_written) == (4, 1, 3, 1)
    assert stats.strong_calls == setup.cascade.ledger.by_model["strong"].calls == 2
    assert stats.calls == setup.cascade.ledger.calls and stats.tokens == setup.cascade.ledger.tokens
    assert stats.cost_usd == pytest.approx(setup.cascade.ledger.cost_usd) and stats.unpriced_calls == 0
    assert stats.accuracy == pytest.approx(0.5)  # the strong "8" for the apples; the weak "12" only for the pears

    early, late = stats.windows(2)
    assert (early.strong_call_rate, late.strong_call_rate) == (0.5, 0.0)
    assert (early.store_hit_rate, late.store_hit_rate) == (0.5, 1.0)
    assert early.cost_per_query > late.cost_per_query
    table = stats.table(window=2).splitlines()
    assert table[0].startswith("| queries | strong-call rate | store hits")
    assert table[2].startswith("| 1–2 | 50% | 50% | 1 |") and table[3].startswith("| 3–4 | 0% | 100% | 0 |")
    assert table[4].startswith("| all | 25% | 75% | 1 |") and table[4].endswith("| 50% |")
    assert stats.summary()["strategies_written"] == 1


def test_each_result_carries_its_own_usage(store: StrategyStore) -> None:
    setup = make(store)
    before = setup.cascade.ledger.cost_usd
    result = setup.cascade.run(APPLES)
    assert result.cost_usd == pytest.approx(setup.cascade.ledger.cost_usd - before) and result.cost_usd > 0
    assert result.tokens == setup.cascade.ledger.tokens


def test_keep_results_bounds_the_history() -> None:
    setup = make(keep_results=2)
    setup.cascade.batch([CAPITAL, APPLES, CAPITAL])
    assert [r.model for r in setup.cascade.results] == ["strong", "weak"] and setup.cascade.stats.queries == 2


def test_stats_table_marks_unknown_costs() -> None:
    setup = make(weak=ScriptedClient("weak", ["Paris"], logprobs=(-0.01,)), strong=ScriptedClient("strong", ["x"]))
    setup.cascade.run(CAPITAL)
    assert "| — |" in setup.cascade.stats.table() and setup.cascade.stats.unpriced_calls == 1


# -- inputs ------------------------------------------------------------------------------------------


def test_chat_messages_keep_their_system_prompt() -> None:
    setup = make()
    messages = [{"role": "system", "content": "Answer in one word."}, {"role": "user", "content": CAPITAL}]
    result = setup.cascade.run(messages)
    assert result.query == CAPITAL and setup.weak.calls[0].messages == messages


BAD: list[tuple[str, Callable[[], object]]] = [
    ("same-names", lambda: make(strong=ScriptedClient("weak", ["x"]))),
    ("deferral", lambda: make(deferral=0.5)),
    ("confidence", lambda: make(confidence="logprobs")),
    ("strategy-mode", lambda: make(strategy_mode="later")),
    ("k", lambda: make(k=0)),
    ("floor", lambda: make(min_similarity=2.0)),
    ("keep-results", lambda: make(keep_results=0)),
    ("empty-prompt", lambda: make().cascade.run("  ")),
    ("no-user-turn", lambda: make().cascade.run([{"role": "system", "content": "x"}])),
    ("not-messages", lambda: make().cascade.run(42)),  # type: ignore[arg-type]
    ("bare-string-batch", lambda: make().cascade.batch(CAPITAL)),
]


@pytest.mark.parametrize("build", [pytest.param(build, id=name) for name, build in BAD])
def test_bad_arguments_are_config_errors(build: Callable[[], object]) -> None:
    with pytest.raises(ConfigError):
        build()


# -- the docs ----------------------------------------------------------------------------------------

DOCS = Path(__file__).resolve().parents[2] / "docs" / "cascade.md"
BLOCKS = re.compile(r"^```(python|text)\n(.*?)^```", re.DOTALL | re.MULTILINE)


def test_the_docs_show_what_their_examples_print() -> None:
    """Each ```text block right after a ```python block on docs/cascade.md is that block's exact output."""
    blocks = BLOCKS.findall(DOCS.read_text(encoding="utf-8"))
    namespace: dict[str, object] = {"__name__": "docs_cascade"}
    compared = 0
    for index, (kind, code) in enumerate(blocks):
        if kind != "python":
            continue
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            exec(compile(code, f"cascade.md#{index}", "exec"), namespace)
        if index + 1 < len(blocks) and blocks[index + 1][0] == "text":
            assert printed.getvalue() == blocks[index + 1][1], f"the output shown after block {index} is stale"
            compared += 1
    assert compared == 6
