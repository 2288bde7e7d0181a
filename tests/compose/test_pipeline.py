"""Whole pipelines: layers in order, concurrency, budgets, failures, reproducibility, the Python API."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from routerkit.clients.base import ChatMessages, Completion, Usage
from routerkit.compose.budget import Budget, UsageLedger
from routerkit.compose.candidates import State
from routerkit.compose.operators import Fuse, Generate
from routerkit.compose.operators_judges import Critique, Rank, Verify
from routerkit.compose.operators_tests import EvalTests, GenTests
from routerkit.compose.pipeline import (
    Pipeline,
    PipelineBudgetExceededError,
    PipelineCallError,
    PipelineResult,
)
from routerkit.compose.prompts import read_prompt
from routerkit.errors import BudgetExceededError, ConfigError, ModelCallError
from routerkit.testing import ScriptedClient

QUESTION = "What is 2 + 2?"


def team_answer(messages: ChatMessages) -> str:
    """A judge/fuser stand-in: critiques name the response, ranks put '4' first, the fuser majority-votes."""
    prompt = read_prompt(messages)
    numbered = list(enumerate(prompt.responses, start=1))
    if prompt.component == "critic":
        return "\n\n".join(f"[{n}] Strengths: short. Weaknesses: says {text!r}." for n, text in numbered)
    if prompt.component == "ranker":
        return " > ".join(f"[{n}]" for n, text in sorted(numbered, key=lambda item: item[1] != "4"))
    if prompt.component == "fuser":
        return Counter(prompt.responses).most_common(1)[0][0]
    if prompt.component == "verifier":
        return "[Correct]" if prompt.responses[0] == "4" else "[Incorrect]"
    return "4"


def config(*layers: list[dict[str, Any]], **top: Any) -> dict[str, Any]:
    return {"version": 1, "name": "t", **top, "layers": list(layers)}


def quickstart(**top: Any) -> dict[str, Any]:
    return config(
        [
            {"type": "generator", "model": "gpt-4o", "samples": 3, "temperature": 0.7},
            {"type": "generator", "model": "llama", "samples": 2},
        ],
        [{"type": "critic", "model": "gpt-4o"}],
        [{"type": "ranker", "model": "gpt-4o", "top_k": 3}],
        [{"type": "fuser", "model": "gpt-4o"}],
        **top,
    )


def clients(**extra: ScriptedClient) -> dict[str, ScriptedClient]:
    return {
        "gpt-4o": ScriptedClient("gpt-4o", team_answer, prices=(2.5, 10.0)),
        "llama": ScriptedClient("llama", ["5", "four"], prices=(0.5, 0.5)),
        **extra,
    }


def test_a_config_runs_layer_by_layer_to_one_answer() -> None:
    models = clients()
    result = Pipeline.from_config(quickstart(), models).run(QUESTION)
    assert isinstance(result, PipelineResult)
    assert result.answer == "4" and result.selected.id == "L3.0.gpt-4o#0" and not result.fell_back
    assert result.calls == 8 and len(models["gpt-4o"].calls) == 6 and len(models["llama"].calls) == 2
    assert result.cost_usd == pytest.approx(result.ledger.cost_usd) and result.cost_usd > 0
    assert [report.calls for report in result.layers] == [5, 1, 1, 1]
    assert result.layers[0].operators == ("L0.0.generator", "L0.1.generator")
    generated = result.layers[0].state.candidates
    assert [c.id for c in generated] == [
        "L0.0.gpt-4o#0",
        "L0.0.gpt-4o#1",
        "L0.0.gpt-4o#2",
        "L0.1.llama#0",
        "L0.1.llama#1",
    ]
    ranked = result.layers[2].state.candidates
    assert [c.annotations["rank"] for c in ranked] == [1, 2, 3]
    assert result.selected.parents == tuple(c.id for c in ranked)
    summary = result.summary()
    assert summary["calls"] == 8 and summary["answer_from"] == "L3.0.gpt-4o#0" and len(summary["layers"]) == 4  # type: ignore[arg-type]


def test_critiques_follow_their_candidates_through_a_reordering_ranker() -> None:
    models = clients()
    result = Pipeline.from_config(quickstart(), models).run(QUESTION)
    # The ranker moved the '4's ahead of '5' and 'four': every candidate still carries its own critique.
    for candidate in result.layers[2].state.candidates:
        assert candidate.annotations["critique"] == f"Strengths: short. Weaknesses: says {candidate.text!r}."
    fuser_prompt = read_prompt(models["gpt-4o"].calls[-1].messages)
    assert fuser_prompt.component == "fuser"
    for number, text in enumerate(fuser_prompt.responses, start=1):
        assert fuser_prompt.critiques[number] == f"Strengths: short. Weaknesses: says {text!r}."


def test_a_failing_model_is_skipped_and_the_run_goes_on() -> None:
    models = clients(llama=ScriptedClient("llama", ["5"], fail_times=2))
    result = Pipeline.from_config(quickstart(), models).run(QUESTION)
    failed = [c for c in result.layers[0].state.candidates if c.status == "error"]
    assert [c.id for c in failed] == ["L0.1.llama#0", "L0.1.llama#1"]
    assert result.answer == "4" and result.ledger.by_model["llama"].failures == 2
    critic_prompt = read_prompt(models["gpt-4o"].calls[3].messages)
    assert critic_prompt.component == "critic" and critic_prompt.responses == ("4", "4", "4")


def test_a_failing_model_with_on_error_fail_stops_the_run_and_reports_the_spend() -> None:
    layers = quickstart()["layers"]
    layers[0][1]["on_error"] = "fail"
    models = clients(llama=ScriptedClient("llama", ["5"], fail_times=1))
    with pytest.raises(PipelineCallError) as caught:
        Pipeline.from_config(config(*layers), models).run(QUESTION)
    error = caught.value
    assert isinstance(error, ModelCallError) and "stopped in layer 0" in str(error)
    assert error.ledger.calls == 5 and error.ledger.by_model["llama"].failures == 1  # the others finished
    assert error.layers == () and error.state.candidates == ()


def test_the_answer_falls_back_to_an_earlier_layer_when_the_last_one_fails() -> None:
    models = clients(fuser=ScriptedClient("fuser", ["x"], fail_times=1))
    layers = quickstart()["layers"]
    layers[3][0]["model"] = "fuser"
    result = Pipeline.from_config(config(*layers), models).run(QUESTION)
    assert result.state.candidates[0].status == "error" and result.fell_back
    assert result.selected.id == "L0.0.gpt-4o#0" and result.selected.annotations["rank"] == 1


def test_no_usable_answer_anywhere_is_an_error() -> None:
    down = {name: ScriptedClient(name, ["x"], fail_times=9) for name in ("a", "b")}
    pipeline = Pipeline([[Generate("a", samples=2)], [Fuse("b")]], down)
    with pytest.raises(PipelineCallError, match=r"No layer left a usable answer \(L1\.0\.b#0: no usable candidate"):
        pipeline.run(QUESTION)


# --- budget -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "budget",
    [pytest.param({"max_cost_usd": 0.0045}, id="cost"), pytest.param({"max_tokens": 5000}, id="tokens")],
)
def test_the_budget_stops_the_run_before_the_next_call(budget: dict[str, float]) -> None:
    # Each generation costs 1000 tokens and $0.001: the 5 generations fit, the critic's call does not.
    priced = {"usage": Usage(1000, 0), "prices": (1.0, 0.0)}
    models = {
        "gpt-4o": ScriptedClient("gpt-4o", ["4"], **priced),  # type: ignore[arg-type]
        "llama": ScriptedClient("llama", ["5"], **priced),  # type: ignore[arg-type]
        "judge": ScriptedClient("judge", team_answer),
    }
    layers = quickstart()["layers"]
    for layer in layers[1:]:
        layer[0]["model"] = "judge"
    pipeline = Pipeline.from_config(config(*layers, budget=budget), models)
    with pytest.raises(PipelineBudgetExceededError) as caught:
        pipeline.run(QUESTION)
    error = caught.value
    assert isinstance(error, BudgetExceededError) and "stopped in layer 1 after 5 calls, 5000 tokens" in str(error)
    assert models["judge"].calls == []  # the critic's call was refused, never sent
    assert error.ledger.calls == 5 and error.ledger.cost_usd == pytest.approx(0.005)
    assert len(error.state.candidates) == 5 and [r.index for r in error.layers] == [0]


def test_a_shared_ledger_stops_the_run_at_its_exact_call_limit() -> None:
    models = clients()
    ledger = UsageLedger(Budget(max_calls=6))  # the pipeline alone could make 8
    with pytest.raises(PipelineBudgetExceededError, match="call 7, over the budget of 6 calls"):
        Pipeline.from_config(quickstart(), models).run(QUESTION, ledger=ledger)
    assert ledger.calls == 6 and len(models["gpt-4o"].calls) == 4  # 3 samples + the critic; no ranker call
    assert read_prompt(models["gpt-4o"].calls[-1].messages).component == "critic"


def test_a_layer_over_the_budget_lets_the_calls_already_sent_finish() -> None:
    model = ScriptedClient("m", ["x"])
    ledger = UsageLedger(Budget(max_calls=3))
    pipeline = Pipeline([[Generate("m", samples=5)], [Fuse("m")]], {"m": model})
    with pytest.raises(PipelineBudgetExceededError) as caught:
        pipeline.run(QUESTION, ledger=ledger)
    assert len(model.calls) == 3 and caught.value.ledger.calls == 3


def test_a_pipeline_whose_worst_case_exceeds_the_budget_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"the worst case is 8 calls \(per layer: 5, 1, 1, 1\)"):
        Pipeline.from_config(quickstart(budget={"max_calls": 7}), clients())
    with pytest.raises(ConfigError, match="the worst case is 3 calls"):
        Pipeline([[Generate("a", samples=2)], [Fuse("a")]], clients(), budget=Budget(max_calls=2))


# --- reproducibility and concurrency ------------------------------------------------------------------


@dataclass
class InFlight:
    now: int = 0
    peak: int = 0


class Slow:
    """A client whose answer is scripted at dispatch, then delivered after a delay; it counts calls in flight."""

    def __init__(self, inner: ScriptedClient, delays: random.Random | float, in_flight: InFlight) -> None:
        self.inner, self.name, self.delays, self.in_flight = inner, inner.name, delays, in_flight

    async def acomplete(self, messages: ChatMessages, **options: object) -> Completion:
        self.in_flight.now += 1
        self.in_flight.peak = max(self.in_flight.peak, self.in_flight.now)
        try:
            completion = await self.inner.acomplete(messages, **options)
            delay = self.delays.random() / 50 if isinstance(self.delays, random.Random) else self.delays
            await asyncio.sleep(delay)
            return completion
        finally:
            self.in_flight.now -= 1

    def complete(self, messages: ChatMessages, **options: object) -> Completion:
        return self.inner.complete(messages, **options)

    def stream(self, messages: ChatMessages, **options: object) -> Iterator[str]:
        return self.inner.stream(messages, **options)

    def astream(self, messages: ChatMessages, **options: object) -> AsyncIterator[str]:
        return self.inner.astream(messages, **options)


def slow_clients(delays: random.Random | float, in_flight: InFlight | None = None) -> dict[str, Slow]:
    shared = in_flight or InFlight()
    return {
        "gpt-4o": Slow(ScriptedClient("gpt-4o", team_answer, prices=(2.5, 10.0)), delays, shared),
        "llama": Slow(ScriptedClient("llama", ["5", "four", "4"], prices=(0.5, 0.5)), delays, shared),
    }


@pytest.mark.asyncio
async def test_same_config_and_seed_give_the_same_result_and_call_log_whatever_the_timing() -> None:
    runs = []
    for timing in (1, 2):  # different random delays: the calls finish in different orders
        models = slow_clients(random.Random(timing))
        result = await Pipeline.from_config(quickstart(seed=11, pass_seed=True), models).arun(QUESTION)
        calls = {name: [(c.messages, c.options) for c in model.inner.calls] for name, model in models.items()}
        runs.append((result.answer, result.state, [r.state for r in result.layers], result.ledger.summary(), calls))
    assert runs[0] == runs[1]
    seeds = [options["seed"] for _, options in runs[0][4]["gpt-4o"]]
    assert len(set(seeds)) == len(seeds)  # every call its own seed
    other = slow_clients(0.0)
    await Pipeline.from_config(quickstart(seed=12, pass_seed=True), other).arun(QUESTION)
    assert [c.options["seed"] for c in other["gpt-4o"].inner.calls] != seeds


@pytest.mark.asyncio
async def test_the_calls_of_a_layer_overlap_up_to_max_concurrency() -> None:
    in_flight = InFlight()
    await Pipeline.from_config(quickstart(), slow_clients(0.02, in_flight)).arun(QUESTION)
    assert in_flight.peak == 5  # the 3 + 2 generations were all in flight together
    limited = InFlight()
    await Pipeline.from_config(quickstart(max_concurrency=2), slow_clients(0.02, limited)).arun(QUESTION)
    assert limited.peak == 2


@pytest.mark.asyncio
async def test_a_layer_takes_about_as_long_as_its_slowest_call() -> None:
    result = await Pipeline.from_config(quickstart(), slow_clients(0.05)).arun(QUESTION)
    assert result.layers[0].seconds < 0.2  # 5 calls of 50 ms one after another would take 0.25 s
    assert result.layers[1].seconds >= 0.05


# --- the Python objects API --------------------------------------------------------------------------


def test_operators_build_the_same_pipeline_as_a_config() -> None:
    local = ScriptedClient("llama", ["5", "four"], prices=(0.5, 0.5))
    models = clients()
    by_objects = Pipeline(
        [
            [Generate("gpt-4o", samples=3, temperature=0.7), Generate(local, samples=2)],
            [Critique("gpt-4o")],
            [Rank("gpt-4o", top_k=3)],
            [Fuse("gpt-4o")],
        ],
        {"gpt-4o": models["gpt-4o"]},
        name="t",
    )
    assert by_objects.config == Pipeline.from_config(quickstart(), clients()).config
    result = by_objects.run(QUESTION)
    assert result.answer == "4" and len(local.calls) == 2
    assert "generator+generator → critic → ranker → fuser; worst case 8 calls" in repr(by_objects)


def test_unit_test_and_verifier_operators_in_a_pipeline() -> None:
    def coder(messages: ChatMessages) -> str:
        prompt = read_prompt(messages)
        if prompt.component == "unit_test_generator":
            return "1. answers 4\n2. is a number"
        if prompt.component == "unit_test_evaluator":
            good = prompt.responses[0] == "4"
            return f"[1] {'pass' if good else 'fail'}\n[2] pass"
        return team_answer(messages)

    models = {"judge": ScriptedClient("judge", coder), "gen": ScriptedClient("gen", ["5", "4", "4", "four"])}
    pipeline = Pipeline(
        [[GenTests("judge", num_tests=2)], [Generate("gen", samples=4)], [Verify("judge")], [EvalTests("judge")]],
        models,
    )
    result = pipeline.run(QUESTION)
    assert result.answer == "4" and result.selected.id == "L1.0.gen#1"
    assert result.state.unit_tests == ("answers 4", "is a number")
    assert result.selected.annotations["verdict"] is True and result.selected.annotations["tests_passed"] == 2
    assert result.calls == 1 + 4 + 4 + 2 and pipeline.worst_case_calls == 13


def test_python_api_errors_name_the_problem() -> None:
    with pytest.raises(ConfigError, match=r"`layers\[0\]` is a Generate, not a list of operators"):
        Pipeline([Generate("a"), Fuse("a")], clients())  # type: ignore[list-item]
    with pytest.raises(ConfigError, match=r"`layers\[0\]\[1\]` is 'b', not an operator"):
        Pipeline([[Generate("a"), "b"]], clients())  # type: ignore[list-item]
    with pytest.raises(ConfigError, match=r"`layers\[1\]\[0\]\.model` is 'nope'\. Known models: 'gpt-4o', 'llama'"):
        Pipeline([[Generate("gpt-4o", samples=2)], [Fuse("nope")]], clients())
    with pytest.raises(ConfigError, match="the last layer can leave 2 candidates"):
        Pipeline([[Generate("gpt-4o", samples=2)]], clients())
    with pytest.raises(ConfigError, match="a second, different client named 'x'"):
        Pipeline([[Generate(ScriptedClient("x", ["1"])), Generate(ScriptedClient("x", ["2"]))], [Rank("x", top_k=1)]])


def test_empty_requests_are_refused() -> None:
    pipeline = Pipeline.from_config(quickstart(), clients())
    for bad in ("", "   ", [], [{"role": "system", "content": "Be brief."}]):
        with pytest.raises(ConfigError, match="no non-empty user message"):
            pipeline.run(bad)
    with pytest.raises(ConfigError, match="not one mapping"):
        pipeline.run({"role": "user", "content": QUESTION})  # type: ignore[arg-type]


def test_chat_messages_are_passed_on_and_never_modified() -> None:
    messages = [
        {"role": "system", "content": "Answer with a digit."},
        {"role": "user", "content": "What is 1 + 1?"},
        {"role": "assistant", "content": "2"},
        {"role": "user", "content": QUESTION},
    ]
    snapshot = [dict(m) for m in messages]
    models = clients()
    result = Pipeline.from_config(quickstart(), models).run(messages)
    assert messages == snapshot and result.state.messages == State.start(messages).messages
    assert models["llama"].calls[0].messages == snapshot
    critic_call = models["gpt-4o"].calls[3].messages
    assert [m["role"] for m in critic_call] == ["system", "user", "assistant", "user"]
    assert "Answer with a digit." in critic_call[-1]["content"]


@pytest.mark.asyncio
async def test_batch_runs_many_requests_in_order_with_a_ledger_each() -> None:
    pipeline = Pipeline.from_config(quickstart(), clients())
    results = await pipeline.abatch([QUESTION, "What is 2 + 2, again?"], concurrency=2)
    assert [r.answer for r in results] == ["4", "4"] and [r.calls for r in results] == [8, 8]
    assert results[0].ledger is not results[1].ledger
    mixed = await pipeline.abatch([QUESTION, ""], return_exceptions=True)
    assert isinstance(mixed[0], PipelineResult) and isinstance(mixed[1], ConfigError)
    with pytest.raises(ConfigError, match="no non-empty user message"):
        await pipeline.abatch([QUESTION, ""])
    with pytest.raises(ConfigError, match="`concurrency` must be >= 1"):
        await pipeline.abatch([QUESTION], concurrency=0)


def test_sync_batch() -> None:
    results = Pipeline.from_config(quickstart(), clients()).batch([QUESTION, QUESTION])
    assert [r.answer for r in results if isinstance(r, PipelineResult)] == ["4", "4"]


@pytest.mark.asyncio
async def test_the_sync_twin_refuses_to_run_inside_an_event_loop() -> None:
    with pytest.raises(ConfigError, match=r"use `await pipeline.arun\(...\)`"):
        Pipeline.from_config(quickstart(), clients()).run(QUESTION)
