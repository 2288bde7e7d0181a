"""The components' prompts and the tolerant parsers of what models answer."""

from __future__ import annotations

import pytest
from routerkit.compose.prompts import (
    SYSTEM_PROMPTS,
    component_messages,
    critic_prompt,
    fuser_prompt,
    parse_critiques,
    parse_ranking,
    parse_test_results,
    parse_unit_tests,
    parse_verdict,
    ranker_prompt,
    read_prompt,
    unit_test_evaluator_prompt,
    unit_test_generator_prompt,
    verifier_prompt,
)

QUERY = "Sort [3, 1, 2] in Python."


@pytest.mark.parametrize(
    ("answer", "order", "note"),
    [
        pytest.param("[2] > [1] > [3]", (2, 1, 3), None, id="clean"),
        pytest.param("Answer: [3] > [1] > [2]\nReason: [1] and [2] are longer.", (3, 1, 2), None, id="explained"),
        pytest.param("[3-1]", (3, 2, 1), None, id="descending-range"),
        pytest.param("[2] > [4 - 5] > [1]", (2, 4, 5, 1, 3), "appended unranked [3]", id="range-and-missing"),
        pytest.param("[2] > [2] > [1] > [1]", (2, 1, 3, 4, 5), "appended unranked [3], [4], [5]", id="duplicates"),
        pytest.param(
            "[9] > [2] > [0]",
            (2, 1, 3, 4, 5),
            "appended unranked [1], [3], [4], [5]; ignored unknown [9], [0]",
            id="unknown",
        ),
        pytest.param("[ 5 ]>[4]>[3]>[2]>[1]", (5, 4, 3, 2, 1), None, id="spaces"),
    ],
)
def test_parse_ranking_repairs_what_models_get_wrong(answer: str, order: tuple[int, ...], note: str | None) -> None:
    n = len(order)
    ranking = parse_ranking(answer, n)
    assert (ranking.order, ranking.parsed, ranking.note) == (order, True, note)


def test_an_unreadable_ranking_keeps_the_original_order() -> None:
    ranking = parse_ranking("They are all good answers.", 3)
    assert (ranking.order, ranking.parsed) == ((1, 2, 3), False)
    assert ranking.note == "the ranking could not be read; the original order was kept"
    assert parse_ranking("[7] > [8]", 2).parsed is False


def test_parse_critiques_keys_blocks_by_number() -> None:
    answer = (
        "Here is my evaluation.\n\n"
        "**[2]** Strengths: correct.\nWeaknesses: no explanation.\n\n"
        "Response [1]: Strengths: explains. Weaknesses: wrong result.\n\n"
        "### Critique of [4]\nStrengths: short. Weaknesses: none.\n\n"
        "[2] Strengths: a second block for [2] is ignored.\n"
        "[5]\n\n"
        "[7] out of range"
    )
    assert parse_critiques(answer, 5) == {
        2: "Strengths: correct.\nWeaknesses: no explanation.",
        1: "Strengths: explains. Weaknesses: wrong result.",
        4: "Strengths: short. Weaknesses: none.",
    }  # [3] has no block and [5]'s is empty: neither gets a neighbour's critique
    assert parse_critiques("No numbered blocks at all.", 3) == {}


@pytest.mark.parametrize(
    ("answer", "verdict"),
    [
        pytest.param("Looks right.\n[Correct]", True, id="correct"),
        pytest.param("At first [Correct]? No: 2 is missing.\n[Incorrect]", False, id="last-wins"),
        pytest.param("Verdict: **incorrect**", False, id="verdict-word"),
        pytest.param("[ correct ]", True, id="spaces"),
        pytest.param("I cannot tell.", None, id="none"),
    ],
)
def test_parse_verdict(answer: str, verdict: bool | None) -> None:
    assert parse_verdict(answer) is verdict


def test_parse_unit_tests_takes_numbered_lines_up_to_the_count() -> None:
    answer = "Tests:\n1. sorted([3, 1, 2]) == [1, 2, 3]\n2) handles []\n- keeps duplicates\n3: negative numbers"
    assert parse_unit_tests(answer, 3) == ("sorted([3, 1, 2]) == [1, 2, 3]", "handles []", "keeps duplicates")
    assert parse_unit_tests("first check\n\nsecond check", 5) == ("first check", "second check")


def test_parse_test_results_reads_a_line_per_test() -> None:
    answer = "[1] pass\n[2] FAIL: wrong order\nTest 3: passed\n4. fails\n[1] fail (a repeat is ignored)\n[9] pass"
    assert parse_test_results(answer, 5) == (True, False, True, False, None)


def test_component_messages_keep_the_role_and_quote_the_conversations_instructions() -> None:
    conversation = [
        {"role": "system", "content": "Answer in French."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Bonjour"},
        {"role": "user", "content": QUERY},
    ]
    messages = component_messages(conversation, "critic", "PROMPT")
    assert messages[0] == {"role": "system", "content": SYSTEM_PROMPTS["critic"]}
    assert messages[1:3] == conversation[1:3]
    assert messages[3]["role"] == "user"
    assert messages[3]["content"].startswith("The assistant had these instructions:\n<instructions>\nAnswer in French.")
    assert messages[3]["content"].endswith("PROMPT")
    assert component_messages([{"role": "user", "content": QUERY}], "fuser", "P")[1:] == [
        {"role": "user", "content": "P"}
    ]


@pytest.mark.parametrize(
    ("component", "prompt", "responses", "critiques", "tests"),
    [
        pytest.param(
            "fuser",
            fuser_prompt(QUERY, ["a\nb", "c"], [None, "too short"]),
            ("a\nb", "c"),
            {2: "too short"},
            (),
            id="fuser",
        ),
        pytest.param("ranker", ranker_prompt(QUERY, ["a", "b", "c"]), ("a", "b", "c"), {}, (), id="ranker"),
        pytest.param("critic", critic_prompt(QUERY, ["a", "b"]), ("a", "b"), {}, (), id="critic"),
        pytest.param("verifier", verifier_prompt(QUERY, "a"), ("a",), {}, (), id="verifier"),
        pytest.param("unit_test_generator", unit_test_generator_prompt(QUERY, 3), (), {}, (), id="test-writer"),
        pytest.param(
            "unit_test_evaluator",
            unit_test_evaluator_prompt(QUERY, "a", ["t one", "t two"]),
            ("a",),
            {},
            ("t one", "t two"),
            id="test-judge",
        ),
    ],
)
def test_read_prompt_recovers_every_components_parts(
    component: str, prompt: str, responses: tuple[str, ...], critiques: dict[int, str], tests: tuple[str, ...]
) -> None:
    seen = read_prompt(component_messages([{"role": "user", "content": QUERY}], component, prompt))
    assert (seen.component, seen.query, seen.responses, dict(seen.critiques), seen.tests) == (
        component,
        QUERY,
        responses,
        critiques,
        tests,
    )


def test_read_prompt_of_a_generator_call_is_the_user_turn() -> None:
    seen = read_prompt([{"role": "system", "content": "Be brief."}, {"role": "user", "content": QUERY}])
    assert (seen.component, seen.query, seen.responses) == (None, QUERY, ())


def test_prompts_ask_for_the_formats_the_parsers_read() -> None:
    assert "in the form [2] > [1] > [3], using every id from [1] to [3] once" in ranker_prompt(QUERY, ["a", "b", "c"])
    assert "starts on a new line with its id in brackets, e.g. [1]" in critic_prompt(QUERY, ["a"])
    assert "exactly [Correct] or [Incorrect]" in verifier_prompt(QUERY, "a")
    assert "numbered 1. to 4." in unit_test_generator_prompt(QUERY, 4)
    assert '"[1] pass"' in unit_test_evaluator_prompt(QUERY, "a", ["t"])
    with_critiques = fuser_prompt(QUERY, ["a"], ["c"])
    assert "each followed by a critique" in with_critiques and "each followed" not in fuser_prompt(QUERY, ["a"])
