"""Each operator's happy and failure paths, driven by scripted clients."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from routerkit.clients.base import ChatMessages
from routerkit.compose.budget import Budget, UsageLedger
from routerkit.compose.candidates import Candidate, State
from routerkit.compose.operators import Fuse, Generate, RunContext, call_seed
from routerkit.compose.operators_judges import Critique, Rank, Verify
from routerkit.compose.operators_tests import EvalTests, GenTests
from routerkit.compose.prompts import read_prompt
from routerkit.errors import BudgetExceededError, ConfigError, ModelCallError
from routerkit.testing import ScriptedClient

QUESTION = "What is 2 + 2?"


def context(*clients: ScriptedClient, budget: Budget | None = None, **settings: int | bool) -> RunContext:
    by_name = {client.name: client for client in clients}
    return RunContext(UsageLedger(budget or Budget()), by_name, asyncio.Semaphore(16), **settings)  # type: ignore[arg-type]


def candidate(cid: str, text: str, status: str = "ok", **annotations: object) -> Candidate:
    return Candidate(cid, text, "g", "L0.0.generator", 0, status=status, annotations=annotations)  # type: ignore[arg-type]


def with_candidates(*candidates: Candidate, question: str = QUESTION) -> State:
    return State.start(question).with_candidates(candidates)


def judge(answer: Callable[[ChatMessages], str]) -> ScriptedClient:
    return ScriptedClient("judge", answer)


# --- Generate ---------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_generate_samples_concurrently_with_stable_ids_and_options() -> None:
    model = ScriptedClient("gpt-4o", ["four", "4", "  "], prices=(1.0, 1.0))
    ctx = context(model, seed=7, pass_seed=True, layer=0)
    op = Generate("gpt-4o", samples=3, temperature=0.7, max_tokens=64).placed(0, 1)
    state = await op.run(State.start(QUESTION), ctx)
    assert [c.id for c in state.candidates] == ["L0.1.gpt-4o#0", "L0.1.gpt-4o#1", "L0.1.gpt-4o#2"]
    assert [c.text for c in state.candidates] == ["four", "4", "  "]
    assert [c.status for c in state.candidates] == ["ok", "ok", "empty"]
    assert all(c.operator == "L0.1.generator" and c.model == "gpt-4o" for c in state.candidates)
    assert state.candidates[0].cost_usd is not None and state.candidates[0].usage.output_tokens == 1
    options = [call.options for call in model.calls]
    assert options[0] == {"temperature": 0.7, "max_tokens": 64, "seed": call_seed(7, "L0.1.gpt-4o#0")}
    assert len({o["seed"] for o in options}) == 3  # each sample gets its own seed
    assert model.calls[0].messages == [{"role": "user", "content": QUESTION}]


@pytest.mark.asyncio
async def test_generate_sends_no_options_it_was_not_given() -> None:
    model = ScriptedClient("m", ["x"])
    await Generate("m").run(State.start(QUESTION), context(model))
    assert model.calls[0].options == {}


@pytest.mark.asyncio
async def test_generate_skip_leaves_error_candidates_and_fail_raises() -> None:
    down = ScriptedClient("down", ["x"], fail_times=1)
    state = await Generate("down", samples=2).run(State.start(QUESTION), ctx := context(down))
    first, second = state.candidates
    assert (first.status, second.status) == ("error", "ok")
    assert first.error is not None and "failed call 1 on purpose" in first.error and first.text == ""
    assert ctx.ledger.by_model["down"].failures == 1
    with pytest.raises(ModelCallError):
        await Generate("down", on_error="fail").run(
            State.start(QUESTION), context(ScriptedClient("down", ["x"], fail_times=1))
        )


def test_operator_arguments_are_validated() -> None:
    with pytest.raises(ConfigError, match=r"Invalid arguments to `Generate`: `samples`: Input should be greater"):
        Generate("m", samples=0)
    with pytest.raises(ConfigError, match=r"`Rank`: `top_k`"):
        Rank("m", top_k=0)
    with pytest.raises(ConfigError, match=r"`on_error`: Input should be 'skip' or 'fail'"):
        Critique("m", on_error="retry")  # type: ignore[arg-type]


def test_an_operator_can_take_a_client_object() -> None:
    client = ScriptedClient("local", ["x"])
    op = Generate(client, samples=2)
    assert (op.model, op.client, op.id) == ("local", client, "L0.0.generator")
    assert op.placed(2, 3).id == "L2.3.generator" and op.id == "L0.0.generator"  # placing copies


@pytest.mark.asyncio
async def test_a_model_missing_from_the_context_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"No client for model 'other' \(known: 'm'\)"):
        await Generate("other").run(State.start(QUESTION), context(ScriptedClient("m", ["x"])))


@pytest.mark.asyncio
async def test_the_budget_refuses_samples_before_dispatch_and_lets_sent_ones_finish() -> None:
    model = ScriptedClient("m", ["x"])
    ctx = context(model, budget=Budget(max_calls=2))
    with pytest.raises(BudgetExceededError):
        await Generate("m", samples=4).run(State.start(QUESTION), ctx)
    assert len(model.calls) == 2 and ctx.ledger.calls == 2


# --- Fuse -------------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_fuse_numbers_usable_candidates_with_their_own_critiques() -> None:
    fuser = ScriptedClient("f", ["fused one", "fused two"])
    state = with_candidates(
        candidate("c1", "three", critique="wrong sum"),
        candidate("c2", "", status="error"),
        candidate("c3", "four"),
        candidate("c4", "4", critique="right, terse"),
    )
    out = await Fuse("f", samples=2, temperature=0.0).placed(1, 0).run(state, context(fuser, layer=1))
    assert [c.id for c in out.candidates] == ["L1.0.f#0", "L1.0.f#1"]
    assert [c.text for c in out.candidates] == ["fused one", "fused two"]
    assert all(c.parents == ("c1", "c3", "c4") and c.operator == "L1.0.fuser" for c in out.candidates)
    seen = read_prompt(fuser.calls[0].messages)
    assert seen.component == "fuser" and seen.query == QUESTION
    assert seen.responses == ("three", "four", "4")
    assert dict(seen.critiques) == {1: "wrong sum", 3: "right, terse"}  # c3 has none: nothing shifted onto it
    assert fuser.calls[0].options == {"temperature": 0.0}


@pytest.mark.asyncio
async def test_fuse_context_guard_drops_the_last_candidates_and_says_so() -> None:
    fuser = ScriptedClient("f", ["merged"])
    state = with_candidates(candidate("best", "a" * 40), candidate("next", "b" * 40), candidate("last", "c" * 40))
    out = await Fuse("f", max_input_chars=100).run(state, context(fuser))
    assert out.candidates[0].parents == ("best", "next")
    assert out.candidates[0].annotations["dropped_inputs"] == ("last",)
    assert read_prompt(fuser.calls[0].messages).responses == ("a" * 40, "b" * 40)


@pytest.mark.asyncio
async def test_fuse_cuts_a_first_candidate_longer_than_the_cap() -> None:
    fuser = ScriptedClient("f", ["merged"])
    out = await Fuse("f", max_input_chars=10).run(
        with_candidates(candidate("long", "x" * 50), candidate("b", "y")), context(fuser)
    )
    assert read_prompt(fuser.calls[0].messages).responses == ("x" * 10,)
    assert out.candidates[0].annotations == {"truncated_input": "long", "dropped_inputs": ("b",)}


@pytest.mark.asyncio
async def test_fuse_with_nothing_usable_makes_no_call() -> None:
    fuser = ScriptedClient("f", ["merged"])
    state = with_candidates(candidate("c1", "", status="error"))
    out = await Fuse("f").run(state, context(fuser))
    assert out.candidates[0].status == "error" and "no usable candidate to fuse" in (out.candidates[0].error or "")
    assert fuser.calls == []
    with pytest.raises(ModelCallError, match="no usable candidate to fuse"):
        await Fuse("f", on_error="fail").run(state, context(fuser))


@pytest.mark.asyncio
async def test_fuse_skip_and_fail_on_a_failed_call() -> None:
    state = with_candidates(candidate("c1", "4"))
    out = await Fuse("f").run(state, context(ScriptedClient("f", ["x"], fail_times=1)))
    assert out.candidates[0].status == "error" and out.candidates[0].parents == ("c1",)
    with pytest.raises(ModelCallError):
        await Fuse("f", on_error="fail").run(state, context(ScriptedClient("f", ["x"], fail_times=1)))


# --- Rank -------------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_rank_keeps_the_top_k_in_the_models_order() -> None:
    ranker = judge(lambda messages: "Answer: [3] > [1] > [2]\nBecause [2] is wrong.")
    state = with_candidates(candidate("a", "A"), candidate("b", "B"), candidate("c", "C"))
    out = await Rank("judge", top_k=2).run(state, context(ranker))
    assert [(c.id, c.annotations["rank"]) for c in out.candidates] == [("c", 1), ("a", 2)]
    assert "rank_note" not in out.candidates[0].annotations


@pytest.mark.asyncio
async def test_rank_repairs_and_records_an_incomplete_ranking() -> None:
    ranker = judge(lambda messages: "[2] > [2] > [7] > [4-3]")
    state = with_candidates(*(candidate(f"c{i}", f"text {i}") for i in range(1, 6)))
    out = await Rank("judge", top_k=5).run(state, context(ranker))
    assert [c.id for c in out.candidates] == ["c2", "c4", "c3", "c1", "c5"]
    assert out.candidates[0].annotations["rank_note"] == "appended unranked [1], [5]; ignored unknown [7]"


@pytest.mark.asyncio
async def test_rank_keeps_the_original_order_when_it_cannot_read_or_call() -> None:
    state = with_candidates(candidate("a", "A"), candidate("b", "B", status="empty"), candidate("c", "C"))
    unreadable = await Rank("judge", top_k=2).run(state, context(judge(lambda m: "They are all fine.")))
    assert [c.id for c in unreadable.candidates] == ["a", "c"]  # the empty one is dropped
    assert "could not be read" in str(unreadable.candidates[0].annotations["rank_note"])
    down = ScriptedClient("judge", ["[2] > [1]"], fail_times=1)
    failed = await Rank("judge").run(state, context(down))
    assert [c.id for c in failed.candidates] == ["a", "c"]
    assert "the ranker's call failed" in str(failed.candidates[1].annotations["rank_note"])
    with pytest.raises(ModelCallError):
        await Rank("judge", on_error="fail").run(state, context(ScriptedClient("judge", ["x"], fail_times=1)))


@pytest.mark.asyncio
async def test_rank_needs_no_call_for_one_candidate() -> None:
    ranker = judge(lambda messages: "[1]")
    out = await Rank("judge").run(with_candidates(candidate("a", "A")), context(ranker))
    assert out.candidates[0].annotations["rank"] == 1 and ranker.calls == []


@pytest.mark.asyncio
async def test_rank_shows_each_candidate_its_own_critique() -> None:
    ranker = judge(lambda messages: "[1] > [2]")
    state = with_candidates(candidate("a", "A"), candidate("b", "B", critique="B is vague"))
    await Rank("judge").run(state, context(ranker))
    assert dict(read_prompt(ranker.calls[0].messages).critiques) == {2: "B is vague"}


# --- Critique ---------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_critique_maps_blocks_to_candidates_by_number_never_by_position() -> None:
    answer = "**[3]** Strengths: right. Weaknesses: terse.\n\n[1]: Strengths: none. Weaknesses: wrong.\n\n[9] stray"
    state = with_candidates(
        candidate("x", "three"), candidate("broken", "", status="error"), candidate("y", "five"), candidate("z", "4")
    )
    out = await Critique("judge").run(state, context(judge(lambda messages: answer)))
    by_id = {c.id: c.annotations.get("critique") for c in out.candidates}
    # usable candidates are numbered x=1, y=2, z=3; y has no block and stays without a critique
    assert by_id == {
        "x": "Strengths: none. Weaknesses: wrong.",
        "broken": None,
        "y": None,
        "z": "Strengths: right. Weaknesses: terse.",
    }
    assert [c.id for c in out.candidates] == ["x", "broken", "y", "z"]


@pytest.mark.asyncio
async def test_critique_skip_leaves_candidates_unannotated_and_fail_raises() -> None:
    state = with_candidates(candidate("x", "three"))
    out = await Critique("judge").run(state, context(ScriptedClient("judge", ["[1] ok"], fail_times=1)))
    assert out == state
    with pytest.raises(ModelCallError):
        await Critique("judge", on_error="fail").run(state, context(ScriptedClient("judge", ["[1] ok"], fail_times=1)))


@pytest.mark.asyncio
async def test_critique_of_nothing_makes_no_call() -> None:
    critic = judge(lambda messages: "[1] ok")
    state = with_candidates(candidate("e", "", status="error"))
    assert await Critique("judge").run(state, context(critic)) == state and critic.calls == []


# --- Verify -----------------------------------------------------------------------------------------


def verdict_by_answer(right: str) -> Callable[[ChatMessages], str]:
    def answer(messages: ChatMessages) -> str:
        response = read_prompt(messages).responses[0]
        return "Let me check.\n[Correct]" if response == right else "Hmm.\n[Incorrect]"

    return answer


@pytest.mark.asyncio
async def test_verify_keeps_the_correct_candidates() -> None:
    verifier = judge(verdict_by_answer("4"))
    state = with_candidates(candidate("a", "5"), candidate("b", "4"), candidate("c", "4"))
    out = await Verify("judge").placed(2, 0).run(state, context(verifier))
    assert [(c.id, c.annotations["verdict"]) for c in out.candidates] == [("b", True), ("c", True)]
    assert len(verifier.calls) == 3


@pytest.mark.asyncio
async def test_verify_keeps_all_and_marks_them_when_none_passes() -> None:
    state = with_candidates(candidate("a", "5"), candidate("b", "6"))
    out = await Verify("judge").run(state, context(judge(verdict_by_answer("4"))))
    assert [c.id for c in out.candidates] == ["a", "b"]
    assert all(
        c.annotations["verdict"] is False and "no candidate was verified" in str(c.annotations["verify_note"])
        for c in out.candidates
    )


@pytest.mark.asyncio
async def test_verify_drops_unchecked_candidates_when_others_pass() -> None:
    verifier = ScriptedClient("judge", ["[Correct]", "no verdict here"], fail_times=1)
    state = with_candidates(candidate("a", "4"), candidate("b", "4"), candidate("c", "4"))
    out = await Verify("judge").run(state, context(verifier))
    # a's call failed (skip), b passed, c's answer held no verdict: only b is kept
    assert [c.id for c in out.candidates] == ["b"]
    with pytest.raises(ModelCallError):
        await Verify("judge", on_error="fail").run(state, context(ScriptedClient("judge", ["[Correct]"], fail_times=1)))


# --- unit tests -------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_gen_tests_writes_tests_to_the_state_and_never_to_the_messages() -> None:
    writer = judge(lambda messages: "Here are the tests:\n1. returns 4\n2. is an integer\n3. no words\n4. extra")
    start = State.start([{"role": "system", "content": "Be brief."}, {"role": "user", "content": QUESTION}])
    out = await GenTests("judge", num_tests=3).run(start, context(writer))
    assert out.unit_tests == ("returns 4", "is an integer", "no words")
    assert out.messages == start.messages and out.candidates == start.candidates
    seen = writer.calls[0].messages
    assert seen[0]["content"].startswith("You are the test writer") and "Be brief." in seen[-1]["content"]


@pytest.mark.asyncio
async def test_gen_tests_skip_leaves_no_tests() -> None:
    start = State.start(QUESTION)
    assert await GenTests("judge").run(start, context(ScriptedClient("judge", ["1. x"], fail_times=1))) == start


def passes_by_answer(table: dict[str, str]) -> Callable[[ChatMessages], str]:
    def answer(messages: ChatMessages) -> str:
        return table[read_prompt(messages).responses[0]]

    return answer


@pytest.mark.asyncio
async def test_eval_tests_keeps_the_top_k_by_passes_with_stable_ties() -> None:
    table = {"A": "[1] fail\n[2] fail", "B": "[1] pass\n[2] fail", "C": "[1] pass\n[2] pass", "D": "[1] pass\n[2] fail"}
    evaluator = judge(passes_by_answer(table))
    state = with_candidates(*(candidate(text.lower(), text) for text in "ABCD")).with_unit_tests(["t1", "t2"])
    out = await EvalTests("judge", top_k=3).run(state, context(evaluator))
    assert [(c.id, c.annotations["tests_passed"]) for c in out.candidates] == [("c", 2), ("b", 1), ("d", 1)]
    assert out.candidates[1].annotations["test_results"] == (True, False)
    assert read_prompt(evaluator.calls[0].messages).tests == ("t1", "t2")


@pytest.mark.asyncio
async def test_eval_tests_ranks_a_failed_judgement_below_every_judged_candidate() -> None:
    evaluator = ScriptedClient("judge", ["[1] fail"], fail_times=1)
    state = with_candidates(candidate("a", "A"), candidate("b", "B")).with_unit_tests(["t1"])
    out = await EvalTests("judge", top_k=2).run(state, context(evaluator))
    assert [c.id for c in out.candidates] == ["b", "a"] and "tests_passed" not in out.candidates[1].annotations
    with pytest.raises(ModelCallError):
        await EvalTests("judge", on_error="fail").run(state, context(ScriptedClient("judge", ["x"], fail_times=1)))


@pytest.mark.asyncio
async def test_eval_tests_without_tests_makes_no_call() -> None:
    evaluator = judge(lambda messages: "[1] pass")
    out = await EvalTests("judge", top_k=1).run(
        with_candidates(candidate("a", "A"), candidate("b", "B")), context(evaluator)
    )
    assert [c.id for c in out.candidates] == ["a"] and "no unit tests" in str(
        out.candidates[0].annotations["tests_note"]
    )
    assert evaluator.calls == []
