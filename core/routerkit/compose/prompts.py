"""The pipeline components' prompts, and tolerant parsers for what the models answer.

Every component call sends: a system message naming the component's role, the conversation's earlier
turns (never its system messages, which are quoted inside the prompt instead), and one user message
carrying the component prompt. Candidates appear in prompts as numbered blocks::

    <response id="1">
    ...
    </response>
    <critique id="1">
    ...
    </critique>

and the models refer to them as `[1]`, `[2]`, ... The number is the candidate's position in the list
given to that one prompt; operators map it back to the candidate's id at once, so a critique or a
score always lands on the candidate it is about.

`read_prompt(messages)` turns a component call back into its parts (component, query, responses,
critiques, tests). It is meant for scripted stand-in models (tests, docs) and for logs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from routerkit.clients.base import ChatMessages

__all__ = [
    "SYSTEM_PROMPTS",
    "ComponentPrompt",
    "Ranking",
    "component_messages",
    "critic_prompt",
    "fuser_prompt",
    "parse_critiques",
    "parse_ranking",
    "parse_test_results",
    "parse_unit_tests",
    "parse_verdict",
    "ranker_prompt",
    "read_prompt",
    "unit_test_evaluator_prompt",
    "unit_test_generator_prompt",
    "verifier_prompt",
]

SYSTEM_PROMPTS: Mapping[str, str] = {
    "fuser": "You are the fuser of a team of AI assistants: you merge their responses into one better response.",
    "ranker": "You are the ranker of a team of AI assistants: you order their responses from best to worst.",
    "critic": "You are the critic of a team of AI assistants: you name the strengths and weaknesses of each response.",
    "verifier": "You are the verifier of a team of AI assistants: you check whether a response is correct.",
    "unit_test_generator": "You are the test writer of a team of AI assistants: you write the checks a good "
    "response must pass.",
    "unit_test_evaluator": "You are the test judge of a team of AI assistants: you decide which checks a response "
    "passes.",
}
"""Each component's system message; `read_prompt` recognises a component call by it."""


# --- building prompts -----------------------------------------------------------------------------


def component_messages(messages: ChatMessages, component: str, prompt: str) -> list[dict[str, str]]:
    """The messages of a component call: its system message, the earlier turns, then `prompt`.

    The conversation's own system messages are quoted in the final user message (as the instructions
    the answer had to follow), so a component keeps its role and still sees them. Nothing in
    `messages` is modified.
    """
    last_user = max((i for i, m in enumerate(messages) if m.get("role") == "user"), default=len(messages))
    earlier = [dict(m) for m in messages[:last_user] if m.get("role") != "system"]
    instructions = "\n\n".join(m.get("content", "") for m in messages if m.get("role") == "system")
    if instructions:
        prompt = f"The assistant had these instructions:\n<instructions>\n{instructions}\n</instructions>\n\n{prompt}"
    system = {"role": "system", "content": SYSTEM_PROMPTS[component]}
    return [system, *earlier, {"role": "user", "content": prompt}]


def _responses(texts: Sequence[str], critiques: Sequence[str | None] = ()) -> str:
    blocks = []
    for number, text in enumerate(texts, start=1):
        blocks.append(f'<response id="{number}">\n{text}\n</response>')
        critique = critiques[number - 1] if number <= len(critiques) else None
        if critique:
            blocks.append(f'<critique id="{number}">\n{critique}\n</critique>')
    return "\n".join(blocks)


def _query(query: str) -> str:
    return f"The user's message:\n<query>\n{query}\n</query>"


def fuser_prompt(query: str, texts: Sequence[str], critiques: Sequence[str | None] = ()) -> str:
    """MoA's aggregate-and-synthesise prompt over numbered responses (and their critiques, if any)."""
    with_critiques = ", each followed by a critique of its strengths and weaknesses" if any(critiques) else ""
    return (
        f"You have been given {len(texts)} responses from different AI assistants to the user's latest "
        f"message{with_critiques}. Synthesise them into a single, high-quality response. Evaluate them "
        "critically: some of their information may be biased or wrong. Do not simply copy one of them; give a "
        "refined, accurate and complete reply to the message. Reply with the response only.\n\n"
        f"{_query(query)}\n\nThe responses:\n{_responses(texts, critiques)}"
    )


def ranker_prompt(query: str, texts: Sequence[str], critiques: Sequence[str | None] = ()) -> str:
    """Asks for an ordering of the numbered responses, best first, as `[2] > [1] > [3]`."""
    n = len(texts)
    return (
        f"Rank the {n} responses below to the user's message from best to worst, by how well and how "
        f"accurately each answers it{' (their critiques may help)' if any(critiques) else ''}.\n\n"
        f"{_query(query)}\n\nThe responses:\n{_responses(texts, critiques)}\n\n"
        f"Reply with the ranking only, in the form [2] > [1] > [3], using every id from [1] to [{n}] once."
    )


def critic_prompt(query: str, texts: Sequence[str]) -> str:
    """Asks for a strengths-and-weaknesses block per numbered response, each starting with `[n]`."""
    n = len(texts)
    return (
        f"Evaluate each of the {n} responses below to the user's message.\n\n"
        f"{_query(query)}\n\nThe responses:\n{_responses(texts)}\n\n"
        f"For every response, from [1] to [{n}], write a block that starts on a new line with its id in "
        "brackets, e.g. [1], followed by its strengths and its weaknesses. Cover every response, and give "
        "both strengths and weaknesses even when one side is short."
    )


def verifier_prompt(query: str, text: str) -> str:
    """Asks whether one response is correct, ending with `[Correct]` or `[Incorrect]`."""
    return (
        "Check whether the response below answers the user's message correctly and completely.\n\n"
        f"{_query(query)}\n\nThe response:\n{_responses([text])}\n\n"
        "Reason step by step, then end with a last line that is exactly [Correct] or [Incorrect]."
    )


def unit_test_generator_prompt(query: str, num_tests: int) -> str:
    """Asks for `num_tests` numbered unit tests for the query."""
    return (
        f"Write {num_tests} unit tests for the user's message below: short, independent statements that a "
        "correct and complete response must satisfy (for code, concrete input and expected output).\n\n"
        f"{_query(query)}\n\nWrite one test per line, numbered 1. to {num_tests}., and nothing else."
    )


def unit_test_evaluator_prompt(query: str, text: str, tests: Sequence[str]) -> str:
    """Asks for a pass/fail line per numbered unit test, judged on one response."""
    listed = "\n".join(f"[{number}] {test}" for number, test in enumerate(tests, start=1))
    return (
        f"Judge the response below against each of the {len(tests)} unit tests.\n\n"
        f"{_query(query)}\n\nThe response:\n{_responses([text])}\n\nThe unit tests:\n<tests>\n{listed}\n</tests>\n\n"
        'For each test write one line: its id in brackets, then pass or fail, e.g. "[1] pass". Judge each '
        "test on its own."
    )


# --- reading prompts back (for scripted stand-ins and logs) ----------------------------------------

_BLOCK = re.compile(r'<(response|critique) id="(\d+)">\n(.*?)\n</\1>', re.DOTALL)
_QUERY = re.compile(r"<query>\n(.*?)\n</query>", re.DOTALL)
_TESTS = re.compile(r"<tests>\n(.*?)\n</tests>", re.DOTALL)
_TEST_LINE = re.compile(r"^\[\d+\] (.*)$", re.MULTILINE)


@dataclass(frozen=True)
class ComponentPrompt:
    """The parts of one call's messages, as `read_prompt` found them."""

    component: str | None
    """`fuser`, `ranker`, ... or None for a generator call (the user's own conversation)."""
    query: str
    responses: tuple[str, ...] = ()
    """The numbered responses, in order: `responses[0]` is `[1]`."""
    critiques: Mapping[int, str] = field(default_factory=dict)
    """Critiques by response number (1-based), where the prompt has them."""
    tests: tuple[str, ...] = ()


def read_prompt(messages: ChatMessages) -> ComponentPrompt:
    """Which component made this call, and the query, responses, critiques and tests in its prompt."""
    component = None
    if messages and messages[0].get("role") == "system":
        component = next((k for k, v in SYSTEM_PROMPTS.items() if v == messages[0].get("content")), None)
    last = next((m.get("content", "") for m in reversed(messages) if m.get("role") == "user"), "")
    if component is None:
        return ComponentPrompt(None, last)
    query = _QUERY.search(last)
    responses, critiques = [], {}
    for kind, number, text in _BLOCK.findall(last):
        if kind == "response":
            responses.append(text)
        else:
            critiques[int(number)] = text
    tests = _TESTS.search(last)
    listed = tuple(_TEST_LINE.findall(tests.group(1))) if tests else ()
    return ComponentPrompt(component, query.group(1) if query else "", tuple(responses), critiques, listed)


# --- parsing answers ------------------------------------------------------------------------------

_ID = re.compile(r"\[\s*(\d+)\s*(?:[-–]\s*(\d+)\s*)?\]")


@dataclass(frozen=True)
class Ranking:
    """A ranker's answer, repaired: `order` holds every number 1..n exactly once, best first."""

    order: tuple[int, ...]
    parsed: bool
    """False when the answer held no usable id, so `order` is the original order."""
    appended: tuple[int, ...] = ()
    """Numbers the model left out, appended in their original order."""
    ignored: tuple[str, ...] = ()
    """Ids that named no response (out of range) and were dropped."""

    @property
    def note(self) -> str | None:
        """What was repaired, in words (None when the answer was a clean ranking)."""
        if not self.parsed:
            return "the ranking could not be read; the original order was kept"
        parts = []
        if self.appended:
            parts.append(f"appended unranked {_ids(self.appended)}")
        if self.ignored:
            parts.append(f"ignored unknown {', '.join(self.ignored)}")
        return "; ".join(parts) or None


def _ids(numbers: Sequence[int]) -> str:
    return ", ".join(f"[{n}]" for n in numbers)


def parse_ranking(text: str, n: int) -> Ranking:
    """Read `[2] > [1] > [3]` from `text`, repairing what a model commonly gets wrong.

    Ranges (`[3-5]`) are expanded, duplicates keep their first place, out-of-range ids are ignored and
    numbers left out are appended in their original order. The first line holding `>` between ids is
    preferred (models often explain after the ranking); otherwise every id in the text counts.
    """
    lines = [line for line in text.splitlines() if ">" in line and _ID.search(line)]
    source = lines[0] if lines else text
    order: list[int] = []
    ignored: list[str] = []
    for match in _ID.finditer(source):
        first, last = int(match.group(1)), int(match.group(2) or match.group(1))
        numbers = range(first, last + 1) if first <= last else range(first, last - 1, -1)
        if not any(1 <= number <= n for number in numbers):
            ignored.append(match.group(0))
        order += [number for number in numbers if 1 <= number <= n and number not in order]
    if not order:
        return Ranking(tuple(range(1, n + 1)), parsed=False, ignored=tuple(ignored))
    missing = tuple(number for number in range(1, n + 1) if number not in order)
    return Ranking((*order, *missing), parsed=True, appended=missing, ignored=tuple(ignored))


_CRITIQUE_START = re.compile(
    r"^[ \t#*_>-]*(?:(?:response|critique(?:\s+of)?(?:\s+response)?)\s*)?\[\s*(\d+)\s*\][ \t*_:.-]*",
    re.IGNORECASE | re.MULTILINE,
)


def parse_critiques(text: str, n: int) -> dict[int, str]:
    """Critique blocks by response number: each block starts on a line with `[n]` (also `**[n]**`,
    `Response [n]:`, `Critique of [n]`) and runs to the next block.

    A number that is out of range, repeated (the first block wins) or has an empty block is skipped;
    a response without a block simply has no critique: nothing ever shifts to a neighbour.
    """
    starts = list(_CRITIQUE_START.finditer(text))
    critiques: dict[int, str] = {}
    for index, match in enumerate(starts):
        end = starts[index + 1].start() if index + 1 < len(starts) else len(text)
        number, block = int(match.group(1)), text[match.end() : end].strip()
        if 1 <= number <= n and number not in critiques and block:
            critiques[number] = block
    return critiques


_VERDICT = re.compile(r"\[\s*(correct|incorrect)\s*\]|verdict\s*:\s*\**\s*(correct|incorrect)\b", re.IGNORECASE)


def parse_verdict(text: str) -> bool | None:
    """True for `[Correct]`, False for `[Incorrect]` (the last one wins; `Verdict: correct` also
    counts), None when the answer holds no verdict."""
    matches = _VERDICT.findall(text)
    if not matches:
        return None
    word: str = next(part for part in matches[-1] if part)
    return word.lower() == "correct"


_NUMBERED = re.compile(r"^\s*(?:\d+\s*[.):]|[-*•])\s+(.+?)\s*$", re.MULTILINE)


def parse_unit_tests(text: str, num_tests: int) -> tuple[str, ...]:
    """At most `num_tests` tests: the numbered (or bulleted) lines, else the non-empty lines."""
    tests = _NUMBERED.findall(text) or [line.strip() for line in text.splitlines() if line.strip()]
    return tuple(tests[:num_tests])


_RESULT = re.compile(
    r"^\W*(?:test\s*)?\[?\s*(\d+)\s*\]?\W*?.*?\b(pass(?:ed|es)?|fail(?:ed|s)?)\b", re.IGNORECASE | re.MULTILINE
)


def parse_test_results(text: str, num_tests: int) -> tuple[bool | None, ...]:
    """Pass (True) or fail (False) for each test 1..`num_tests`, from lines like `[1] pass`; None
    where the answer says nothing about a test (the first line about a test wins)."""
    results: list[bool | None] = [None] * num_tests
    for number, word in _RESULT.findall(text):
        index = int(number) - 1
        if 0 <= index < num_tests and results[index] is None:
            results[index] = word.lower().startswith("pass")
    return tuple(results)
