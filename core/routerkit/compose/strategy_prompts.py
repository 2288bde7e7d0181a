"""The prompts of the Inter-Cascade: how the strong model writes a strategy, and how strategies reach the weak one.

**Writing.** On a deferred query the strong model returns its answer *and* a short reusable strategy:
the general idea and steps that would let a weaker model solve similar problems, without this problem's
numbers or its final answer. Two modes:

- `"same_call"`: the user's question is followed by `SAME_CALL_PROMPT`; the reply has an `ANSWER:` and a
  `STRATEGY:` section. One strong call, but the answer is constrained by the tagged format and cannot be
  streamed as it is written.
- `"separate_call"`: the strong model answers the user's messages unchanged, then a second call with
  `SEPARATE_CALL_PROMPT` (question + that answer) writes the `STRATEGY:` section. The answer is
  untouched and streamable; the price is a second strong call that sends the question and answer again.

`parse_strategy_reply` reads the sections tolerantly (any case, markdown bold or heading markers). A reply
without a non-empty `STRATEGY:` section stores nothing; in `"same_call"` mode the whole reply (or what
precedes `STRATEGY:`) is still the answer.

**Injecting.** `augment_messages` prefixes the last user turn with the retrieved strategies, most similar
first, within a character budget (`STRATEGY_BLOCK`). The user turn rather than a system message because
every chat template has a user turn (some weak models have no system role) and a system prompt the caller
set stays exactly as it was.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from routerkit.clients.base import ChatMessages
from routerkit.compose.strategies import Strategy
from routerkit.errors import ConfigError

__all__ = [
    "SAME_CALL_PROMPT",
    "SEPARATE_CALL_PROMPT",
    "STRATEGY_BLOCK",
    "StrategyMode",
    "StrategyReply",
    "augment_messages",
    "parse_strategy_reply",
    "same_call_messages",
    "separate_call_messages",
]

StrategyMode = Literal["same_call", "separate_call"]

_GUIDANCE = """\
The STRATEGY is for a weaker model that will meet similar problems later. Write the general method: the
key idea and the steps, in at most 5 short lines. Do not include this problem's specific numbers, names
or final answer."""

SAME_CALL_PROMPT = (
    """\


---
Answer the problem above. Then write a reusable STRATEGY.
"""
    + _GUIDANCE
    + """

Reply in exactly this format:
ANSWER:
<your answer to the problem>
STRATEGY:
<the reusable strategy>"""
)
"""Appended to the last user turn in `"same_call"` mode."""

SEPARATE_CALL_PROMPT = (
    """\
A weaker model could not answer the problem below confidently. Here are the problem and a correct
answer to it.

Problem:
{question}

Answer:
{answer}

Write a reusable STRATEGY.
"""
    + _GUIDANCE
    + """

Reply in exactly this format:
STRATEGY:
<the reusable strategy>"""
)
"""The one user message of the follow-up call in `"separate_call"` mode; `{question}` and `{answer}` are
filled in."""

STRATEGY_BLOCK = """\
Strategies that solved similar problems (use them if they apply; the details of this problem may differ):
{strategies}

Problem:
{question}"""
"""How `augment_messages` rewrites the last user turn; each strategy is `[Strategy n] <text>`."""

# A tag opens a line, may be dressed in markdown, and ends with a colon or the end of the line.
_TAG = re.compile(r"^[ \t>#*_]*(ANSWER|STRATEGY)[ \t*_]*(?::|$)[ \t*_]*", re.IGNORECASE | re.MULTILINE)


@dataclass(frozen=True)
class StrategyReply:
    """What a strategy-writing reply held."""

    answer: str
    """The answer section (in `"same_call"` mode; the whole reply when it has no sections)."""
    strategy: str | None
    """The strategy section, or None when it is missing or empty (then nothing is stored)."""


def parse_strategy_reply(text: str) -> StrategyReply:
    """Split a reply into its `ANSWER:` and `STRATEGY:` sections.

    Tags are found at the start of a line, in any case, with optional markdown (`**ANSWER:**`,
    `## Strategy`), ending with a colon or the line. The first `ANSWER` and the first `STRATEGY`
    section count. With no `ANSWER` tag the answer is what precedes `STRATEGY` (or the whole reply if
    neither tag is there).
    """
    sections: dict[str, str] = {}
    tags = list(_TAG.finditer(text))
    for index, tag in enumerate(tags):
        end = tags[index + 1].start() if index + 1 < len(tags) else len(text)
        sections.setdefault(tag.group(1).upper(), text[tag.end() : end].strip())
    before = text[: tags[0].start()] if tags else text
    answer = sections.get("ANSWER", before.strip())
    return StrategyReply(answer=answer or text.strip(), strategy=sections.get("STRATEGY") or None)


def same_call_messages(messages: ChatMessages) -> list[dict[str, str]]:
    """The user's messages with `SAME_CALL_PROMPT` appended to the last user turn."""
    return _with_last_user(messages, lambda content: content + SAME_CALL_PROMPT)


def separate_call_messages(question: str, answer: str) -> list[dict[str, str]]:
    """The follow-up call of `"separate_call"` mode: one user message asking for the strategy."""
    text = SEPARATE_CALL_PROMPT.replace("{question}", question).replace("{answer}", answer)
    return [{"role": "user", "content": text}]


def augment_messages(
    messages: ChatMessages, strategies: Sequence[Strategy], *, max_chars: int = 1500
) -> tuple[list[dict[str, str]], tuple[str, ...]]:
    """Prefix the last user turn with `strategies` (most similar first), at most `max_chars` of them.

    Whole strategies are added in order while they fit in `max_chars` characters; if even the first does
    not fit it is cut to the budget (ending with "…") rather than dropped.

    Returns:
        The new messages (copies; the caller's are not changed) and the ids of the strategies included,
        which are all a caller should count as used.

    Raises:
        ConfigError: if `max_chars` < 1.
    """
    if isinstance(max_chars, bool) or not isinstance(max_chars, int) or max_chars < 1:
        raise ConfigError(f"`max_chars` must be a positive number of characters, got {max_chars!r}.")
    texts, used = _fit(strategies, max_chars)
    if not used:
        return [dict(message) for message in messages], ()
    block = "\n".join(f"[Strategy {n}] {text}" for n, text in enumerate(texts, start=1))
    rewritten = _with_last_user(
        messages, lambda content: STRATEGY_BLOCK.replace("{strategies}", block).replace("{question}", content)
    )
    return rewritten, used


def _fit(strategies: Sequence[Strategy], max_chars: int) -> tuple[list[str], tuple[str, ...]]:
    texts: list[str] = []
    used: list[str] = []
    left = max_chars
    for strategy in strategies:
        text = strategy.strategy.strip()
        if len(text) > left:
            if texts:
                break
            text = text[: max_chars - 1].rstrip() + "…"
        texts.append(text)
        used.append(strategy.id)
        left -= len(text)
    return texts, tuple(used)


def _with_last_user(messages: ChatMessages, change: Callable[[str], str]) -> list[dict[str, str]]:
    copies = [dict(message) for message in messages]
    for message in reversed(copies):
        if message.get("role") == "user":
            message["content"] = change(message.get("content", ""))
            return copies
    raise ConfigError(f"The messages have no user turn (roles: {[m.get('role') for m in copies]!r}).")
