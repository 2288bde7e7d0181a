"""How sure the weak model is: the confidence estimates a `Cascade` compares with its deferral threshold.

An estimator maps a request (and, for most, the weak model's answer) to a number in [0, 1]; the cascade
defers to the strong model when it is below the `DeferralPolicy` threshold. Three are built in:

- `RouterConfidence`: 1 − P(strong wins) from a strong/weak routerkit `Router`. It reads only the prompt,
  so the cascade can decide *before* the weak call and skip it (`Cascade(skip_weak_when_deferred=True)`).
- `SelfVerifyConfidence`: one extra call asks a model (by default the weak one) how likely the answer is
  correct; a reply that cannot be read counts as 0.0 (defer) and is counted in `parse_failures`.
- `LogprobConfidence`: the geometric mean of the answer's token probabilities, exp(mean log-probability),
  from `Completion.logprobs`.

Any object with `needs_answer`, `confidence` and `aconfidence` (the `ConfidenceEstimator` protocol) can
be used instead. Estimators that call a model do so through the ledger they are given, so their calls
are counted and budgeted with the rest.
"""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Literal, Protocol, runtime_checkable

from routerkit.clients.base import ChatMessages, Completion, ModelClient, resolve_client
from routerkit.compose.budget import UsageLedger
from routerkit.errors import ConfigError

if TYPE_CHECKING:
    from routerkit.routers.base import Router

__all__ = [
    "VERIFY_PROMPT",
    "ConfidenceEstimator",
    "LogprobConfidence",
    "RouterConfidence",
    "SelfVerifyConfidence",
    "parse_verdict",
]


@runtime_checkable
class ConfidenceEstimator(Protocol):
    """Estimates how likely the weak model's answer to a request is good enough, in [0, 1]."""

    needs_answer: bool
    """False when the estimate depends on the request alone (then `completion` is None and the cascade
    may decide before calling the weak model)."""

    def confidence(self, messages: ChatMessages, completion: Completion | None, ledger: UsageLedger) -> float:
        """The confidence that `completion` answers `messages` well; model calls go through `ledger`."""
        ...

    async def aconfidence(self, messages: ChatMessages, completion: Completion | None, ledger: UsageLedger) -> float:
        """Async twin of `confidence`."""
        ...


class RouterConfidence:
    """1 − P(strong beats weak) from a strong/weak `Router`: the router's own guess, before any answer.

    Only the prompt (its last user turn) is scored, so the cascade can decide before the weak call; with
    `Cascade(skip_weak_when_deferred=True)` (the default) a query the router sends to the strong model
    costs no weak call at all.

    Args:
        router: a strong/weak router, e.g. `routerkit.load("mf")` or `LengthRouter()`.

    Raises:
        ConfigError: if `router` scores many models rather than a strong/weak pair.
    """

    needs_answer = False

    def __init__(self, router: Router) -> None:
        if not getattr(router, "pairwise", False):
            raise ConfigError(
                f"`RouterConfidence` needs a strong/weak router (one column, P(strong wins)); {router!r} is not. "
                "Load a pairwise router such as `routerkit.load('mf')`."
            )
        self.router = router

    def confidence(self, messages: ChatMessages, completion: Completion | None, ledger: UsageLedger) -> float:
        """1 − the router's P(strong wins) for the last user turn of `messages` (no model call)."""
        return 1.0 - float(self.router.scores([messages])[0, 0])

    async def aconfidence(self, messages: ChatMessages, completion: Completion | None, ledger: UsageLedger) -> float:
        """`confidence` in a worker thread: scoring is CPU-bound and must not block the event loop."""
        return await asyncio.to_thread(self.confidence, messages, completion, ledger)


VERIFY_PROMPT = """\
Here is a question and a proposed answer.

Question:
{question}

Proposed answer:
{answer}

How likely is it that the proposed answer is correct and complete? Reply with one line of the form
P: <a probability between 0 and 1>
and nothing else."""
"""The self-verification prompt; `{question}` and `{answer}` are filled in."""

_LABELLED = re.compile(r"\b(?:p|probability|confidence)\s*[:=]\s*(\d+(?:\.\d+)?)\s*(%?)", re.IGNORECASE)
_FRACTION = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)\s*/\s*(\d+(?:\.\d+)?)(?!\w|\.\d)")
# A bare number counts only with a decimal point or a percent sign: "step 1" is not a probability.
_NUMBER = re.compile(r"(?<![\w.])(\d*\.\d+|\d+(?=\s*%))\s*(%?)(?!\w|\.\d)")
_ALONE = re.compile(r"^\W*([01](?:\.\d+)?)()\W*$")  # the empty group: no percent sign
_YES = re.compile(r"^\W*(yes|true|correct)\b", re.IGNORECASE)
_NO = re.compile(r"^\W*(no|false|incorrect|wrong)\b", re.IGNORECASE)


def parse_verdict(reply: str) -> float | None:
    """Read a probability from a verifier's reply, or None when there is none.

    In order: a labelled value (`P: 0.8`, `confidence = 80%`) or a reply that is just a number; a fraction
    (`4/5`); the first number with a decimal point or a percent sign that is a probability (`0.8`, `80%`;
    a bare integer such as "step 1" is not read); a leading yes / true / correct (1.0) or no / false /
    incorrect / wrong (0.0). Values outside [0, 1] are not probabilities and are skipped.
    """
    labelled = _LABELLED.search(reply) or _ALONE.search(reply)
    if labelled is not None:
        return _probability(labelled.group(1), labelled.group(2))
    fraction = _FRACTION.search(reply)
    if fraction is not None and float(fraction.group(2)) > 0:
        ratio = float(fraction.group(1)) / float(fraction.group(2))
        return ratio if 0.0 <= ratio <= 1.0 else None
    for number, percent in _NUMBER.findall(reply):
        value = _probability(number, percent)
        if value is not None:
            return value
    if _YES.search(reply):
        return 1.0
    return 0.0 if _NO.search(reply) else None


def _probability(number: str, percent: str) -> float | None:
    value = float(number) / (100.0 if percent else 1.0)
    return value if 0.0 <= value <= 1.0 else None


@dataclass
class SelfVerifyConfidence:
    """One extra call: a model rates the answer's correctness; its probability is the confidence.

    A reply with no readable probability (see `parse_verdict`) gives 0.0, so the query is deferred: an
    estimator that cannot tell must not let an unchecked answer through. Such replies are counted in
    `parse_failures` and the last one is kept in `last_unparsed`.

    Args:
        client: the model that verifies (a `ModelClient` or anything `resolve_client` accepts); None means
            the cascade's weak model, bound when the `Cascade` is built.
        prompt: the verification prompt, with `{question}` and `{answer}` placeholders.
        options: call options for the verification call (e.g. `{"temperature": 0}`).
    """

    client: object | None = None
    prompt: str = VERIFY_PROMPT
    options: Mapping[str, object] = field(default_factory=dict)
    parse_failures: int = 0
    last_unparsed: str | None = None
    needs_answer: bool = field(default=True, init=False)

    def __post_init__(self) -> None:
        for placeholder in ("{question}", "{answer}"):
            if placeholder not in self.prompt:
                raise ConfigError(f"The verification prompt has no {placeholder} placeholder; put one where it goes.")
        if self.client is not None:
            self.client = resolve_client(self.client)

    def using(self, client: ModelClient) -> SelfVerifyConfidence:
        """A copy that verifies with `client` (the cascade binds its weak model when `client` is None)."""
        return replace(self, client=client, parse_failures=0, last_unparsed=None)

    def confidence(self, messages: ChatMessages, completion: Completion | None, ledger: UsageLedger) -> float:
        """Ask the verifier (one call through `ledger`) and read its probability."""
        reply = ledger.call(self._client(), self._messages(messages, completion), **self.options)
        return self._read(reply.text)

    async def aconfidence(self, messages: ChatMessages, completion: Completion | None, ledger: UsageLedger) -> float:
        """Async twin of `confidence`."""
        reply = await ledger.acall(self._client(), self._messages(messages, completion), **self.options)
        return self._read(reply.text)

    def _client(self) -> ModelClient:
        if self.client is None:
            raise ConfigError(
                "`SelfVerifyConfidence` has no model to ask: pass `client=`, or use it in a `Cascade`, "
                "which binds its weak model."
            )
        assert isinstance(self.client, ModelClient)  # resolved in __post_init__ or given by `using`
        return self.client

    def _messages(self, messages: ChatMessages, completion: Completion | None) -> list[dict[str, str]]:
        if completion is None:
            raise ConfigError("`SelfVerifyConfidence` rates an answer; it was given none.")
        text = self.prompt.replace("{question}", _last_user_text(messages)).replace("{answer}", completion.text)
        return [{"role": "user", "content": text}]

    def _read(self, reply: str) -> float:
        value = parse_verdict(reply)
        if value is None:
            self.parse_failures += 1
            self.last_unparsed = reply
            return 0.0
        return value


@dataclass(frozen=True)
class LogprobConfidence:
    """The answer's token probabilities, from `Completion.logprobs`: no extra call.

    `reduce="mean"` (the default) gives exp(mean log-probability), the geometric mean of the token
    probabilities: it is normalised for length, so a long answer is not penalised for being long, and
    one unlikely token (often a harmless choice of word or format) lowers it only in proportion.
    `reduce="min"` gives the least likely token's probability: stricter, and more often fooled by such
    tokens, but it catches a single guessed number in an otherwise fluent answer.

    Raises (when called):
        ConfigError: if the weak model's completion carries no log-probabilities; ask its client for them
            (for `OpenAIClient`, `Cascade(weak_options={"logprobs": True})`).
    """

    reduce: Literal["mean", "min"] = "mean"
    needs_answer: bool = field(default=True, init=False)

    def __post_init__(self) -> None:
        if self.reduce not in ("mean", "min"):
            raise ConfigError(f"`LogprobConfidence.reduce` must be 'mean' or 'min', got {self.reduce!r}.")

    def confidence(self, messages: ChatMessages, completion: Completion | None, ledger: UsageLedger) -> float:
        """exp(mean) or exp(min) of the completion's token log-probabilities (no model call)."""
        logprobs = _logprobs_of(completion)
        value = sum(logprobs) / len(logprobs) if self.reduce == "mean" else min(logprobs)
        return min(1.0, math.exp(value))

    async def aconfidence(self, messages: ChatMessages, completion: Completion | None, ledger: UsageLedger) -> float:
        """Async twin of `confidence` (pure arithmetic, no thread needed)."""
        return self.confidence(messages, completion, ledger)


def _logprobs_of(completion: Completion | None) -> tuple[float, ...]:
    if completion is None or not completion.logprobs:
        model = "?" if completion is None else completion.model
        raise ConfigError(
            f"The answer of {model!r} carries no token log-probabilities, which `LogprobConfidence` needs. "
            "Ask the client for them (for `OpenAIClient`: `Cascade(..., weak_options={'logprobs': True})`), "
            "or use `SelfVerifyConfidence` for a model that cannot return them."
        )
    if any(math.isnan(value) for value in completion.logprobs):
        raise ConfigError(f"The answer of {completion.model!r} has NaN log-probabilities; the client is broken.")
    return completion.logprobs


def _last_user_text(messages: ChatMessages) -> str:
    for message in reversed(messages):
        if message.get("role") == "user":
            return message.get("content", "")
    return ""
