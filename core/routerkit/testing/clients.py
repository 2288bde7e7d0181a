"""`ScriptedClient`: a deterministic in-memory `ModelClient` for tests.

from routerkit.testing import ScriptedClient

weak = ScriptedClient("weak", ["4", "Paris"], fail_times=1, prices=(0.1, 0.2))
weak.complete([{"role": "user", "content": "2 + 2?"}])  # raises ModelCallError: the scripted failure
weak.complete([{"role": "user", "content": "2 + 2?"}]).text  # "4"
assert [call.method for call in weak.calls] == ["complete", "complete"]
"""

from __future__ import annotations

import math
import re
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from routerkit.clients.base import ChatMessages, Completion, Usage
from routerkit.errors import ConfigError, ModelCallError

__all__ = ["ScriptedCall", "ScriptedClient"]

_WORDS = re.compile(r"\s*\S+\s*|\s+")  # a word with the spaces around it: the chunks join back to the text

Logprobs = Sequence[float] | Callable[[str], Sequence[float] | None]
"""What `ScriptedClient(logprobs=...)` takes: the token log-probabilities of every answer, or a function
from the answer's text to them (None: that answer has none)."""


@dataclass(frozen=True)
class ScriptedCall:
    """One call a `ScriptedClient` received."""

    method: str
    """`"complete"`, `"acomplete"`, `"stream"` or `"astream"`."""
    messages: list[dict[str, str]]
    """A copy of the messages, as given."""
    options: dict[str, object] = field(default_factory=dict)
    """The `**options` of the call."""
    completion: Completion | None = None
    """The answer given, or None when the call failed on purpose."""


class ScriptedClient:
    """A `ModelClient` whose answers are scripted: a list given in turn, or a function of the messages.

    Every call is recorded in `calls`. The first `fail_times` calls raise `ModelCallError` (as an upstream
    that is down would); later ones answer. Streams split the answer into words (with their spaces), so
    the chunks join back to the answer. `stream` and `astream` fail, when scripted to, at the call itself.
    """

    def __init__(
        self,
        name: str,
        answers: list[str] | Callable[[ChatMessages], str],
        *,
        fail_times: int = 0,
        usage: Usage | None = None,
        prices: tuple[float, float] | None = None,
        logprobs: Logprobs | None = None,
    ) -> None:
        """Script the client.

        Args:
            name: The model's name; `Completion.model` carries it.
            answers: The answers, used in turn and starting again at the first when they run out; or a
                function from the messages to the answer.
            fail_times: How many calls (counted from the first) raise `ModelCallError`.
            usage: The usage every answer reports; by default, whitespace-separated words of all the
                messages' contents (input) and of the answer (output).
            prices: USD per million (input, output) tokens, for `Completion.cost_usd`; None leaves it None.
            logprobs: `Completion.logprobs` of every answer (one log-probability per output token), or a
                function from the answer's text to them; None (the default) leaves them None, as a
                client that was not asked for log-probabilities does.

        Raises:
            ConfigError: if `answers` is an empty list, `fail_times` or a price is negative, or a given
                log-probability is NaN or above 0.
        """
        if isinstance(answers, list) and not answers:
            raise ConfigError("`ScriptedClient` needs at least one answer, or a function that returns one.")
        if fail_times < 0:
            raise ConfigError(f"`fail_times` must be >= 0, got {fail_times!r}.")
        if prices is not None and min(prices) < 0:
            raise ConfigError(f"`prices` must be >= 0 USD per million tokens, got {prices!r}.")
        if logprobs is not None and not callable(logprobs):
            logprobs = _checked_logprobs(logprobs)
        self.name = name
        self.answers = answers
        self.fail_times = fail_times
        self.usage = usage
        self.prices = prices
        self.logprobs = logprobs
        self.calls: list[ScriptedCall] = []
        """Every call received, oldest first (including the failed ones)."""

    def __repr__(self) -> str:
        """Name and how many calls it has received."""
        return f"ScriptedClient({self.name!r}, calls={len(self.calls)})"

    def complete(self, messages: ChatMessages, **options: object) -> Completion:
        """The next scripted answer.

        Raises:
            ModelCallError: for each of the first `fail_times` calls.
        """
        return self._answer("complete", messages, options)

    async def acomplete(self, messages: ChatMessages, **options: object) -> Completion:
        """Async twin of `complete`."""
        return self._answer("acomplete", messages, options)

    def stream(self, messages: ChatMessages, **options: object) -> Iterator[str]:
        """The next scripted answer, word by word.

        Raises:
            ModelCallError: for each of the first `fail_times` calls.
        """
        return iter(_words(self._answer("stream", messages, options).text))

    def astream(self, messages: ChatMessages, **options: object) -> AsyncIterator[str]:
        """Async twin of `stream`."""
        return _aiter(_words(self._answer("astream", messages, options).text))

    def _answer(self, method: str, messages: ChatMessages, options: Mapping[str, object]) -> Completion:
        copied = [dict(message) for message in messages]
        number = len(self.calls) + 1
        if number <= self.fail_times:
            self.calls.append(ScriptedCall(method, copied, dict(options)))
            raise ModelCallError(
                f"`ScriptedClient` {self.name!r} failed call {number} on purpose (`fail_times={self.fail_times}`)."
            )
        text = self._text(messages, number - self.fail_times)
        usage = self.usage or Usage(_count(m.get("content", "") for m in messages), len(text.split()))
        completion = Completion(
            text=text, model=self.name, usage=usage, cost_usd=self._cost(usage), logprobs=self._logprobs(text)
        )
        self.calls.append(ScriptedCall(method, copied, dict(options), completion))
        return completion

    def _text(self, messages: ChatMessages, answered: int) -> str:
        if callable(self.answers):
            return self.answers(messages)
        return self.answers[(answered - 1) % len(self.answers)]

    def _cost(self, usage: Usage) -> float | None:
        if self.prices is None or usage.input_tokens is None or usage.output_tokens is None:
            return None
        return (usage.input_tokens * self.prices[0] + usage.output_tokens * self.prices[1]) / 1_000_000

    def _logprobs(self, text: str) -> tuple[float, ...] | None:
        if callable(self.logprobs):
            given = self.logprobs(text)
            return None if given is None else _checked_logprobs(given)
        return None if self.logprobs is None else tuple(self.logprobs)


def _checked_logprobs(values: Sequence[float]) -> tuple[float, ...]:
    checked = tuple(float(value) for value in values)
    if any(math.isnan(value) or value > 0 for value in checked):
        raise ConfigError(f"Log-probabilities must be <= 0 and not NaN, got {checked!r}.")
    return checked


def _count(texts: Iterable[str]) -> int:
    return sum(len(text.split()) for text in texts)


def _words(text: str) -> list[str]:
    return _WORDS.findall(text)


async def _aiter(chunks: list[str]) -> AsyncIterator[str]:
    for chunk in chunks:
        yield chunk
