"""Budgets and usage accounting: every model call of a composition goes through `UsageLedger.call`.

The ledger checks the budget **before** a call is dispatched (a call that would go over it raises
`BudgetExceededError` and nothing is sent) and counts usage and cost from each `Completion`, per actual
request: a retried or failed call is counted as the call it was, never guessed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from routerkit.clients.base import ChatMessages, Completion, ModelClient
from routerkit.errors import BudgetExceededError, ConfigError, ModelCallError

__all__ = ["Budget", "ModelUsage", "UsageLedger"]


@dataclass(frozen=True)
class Budget:
    """Limits on one run: calls, tokens (input + output) and USD. None means no limit.

    The call limit is exact (checked before dispatch). Tokens and cost are known only after a call
    answers, so those limits stop the *next* call once they are reached.
    """

    max_calls: int | None = None
    max_tokens: int | None = None
    max_cost_usd: float | None = None

    def __post_init__(self) -> None:
        for name in ("max_calls", "max_tokens", "max_cost_usd"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or value < 0):
                raise ConfigError(f"`Budget.{name}` must be None or a number >= 0, got {value!r}.")


@dataclass
class ModelUsage:
    """What one model was asked and what it cost."""

    calls: int = 0
    failures: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    unpriced_calls: int = 0
    """Answered calls whose cost the client did not know (no prices or no token counts)."""


@dataclass
class UsageLedger:
    """Counts the calls, tokens and cost of one run, and enforces its `Budget`."""

    budget: Budget = field(default_factory=Budget)
    by_model: dict[str, ModelUsage] = field(default_factory=dict)
    _in_flight: int = 0

    @property
    def calls(self) -> int:
        """Calls dispatched, answered or failed (not counting those in flight)."""
        return sum(usage.calls for usage in self.by_model.values())

    @property
    def tokens(self) -> int:
        """Input plus output tokens reported by the answered calls."""
        return sum(usage.input_tokens + usage.output_tokens for usage in self.by_model.values())

    @property
    def cost_usd(self) -> float:
        """USD spent on the answered calls whose cost is known."""
        return sum(usage.cost_usd for usage in self.by_model.values())

    def summary(self) -> Mapping[str, object]:
        """Totals and the per-model breakdown, as plain data (for logs and reports)."""
        return {
            "calls": self.calls,
            "tokens": self.tokens,
            "cost_usd": self.cost_usd,
            "by_model": {name: vars(usage).copy() for name, usage in sorted(self.by_model.items())},
        }

    def reserve(self, model: str) -> None:
        """Claim one call for `model`, or raise if the budget does not allow it.

        Raises:
            BudgetExceededError: if one more call, or the tokens or cost already spent, would break the
                budget; the message names the limit and the usage so far.
        """
        budget, planned = self.budget, self.calls + self._in_flight + 1
        if budget.max_calls is not None and planned > budget.max_calls:
            raise BudgetExceededError(
                f"A call to {model!r} would be call {planned}, over the budget of {budget.max_calls} calls. "
                "Raise `Budget.max_calls`, or use a smaller configuration."
            )
        if budget.max_tokens is not None and self.tokens >= budget.max_tokens:
            raise BudgetExceededError(
                f"{self.tokens} tokens are spent, the budget is {budget.max_tokens}; no call to {model!r} was made."
            )
        if budget.max_cost_usd is not None and self.cost_usd >= budget.max_cost_usd:
            raise BudgetExceededError(
                f"${self.cost_usd:.6f} is spent, the budget is ${budget.max_cost_usd}; no call to {model!r} was made."
            )
        self._in_flight += 1

    def record(self, model: str, completion: Completion | None) -> None:
        """Count a reserved call: answered with `completion`, or failed when it is None."""
        self._in_flight = max(0, self._in_flight - 1)
        usage = self.by_model.setdefault(model, ModelUsage())
        usage.calls += 1
        if completion is None:
            usage.failures += 1
            return
        usage.input_tokens += completion.usage.input_tokens or 0
        usage.output_tokens += completion.usage.output_tokens or 0
        if completion.cost_usd is None:
            usage.unpriced_calls += 1
        else:
            usage.cost_usd += completion.cost_usd

    async def acall(self, client: ModelClient, messages: ChatMessages, **options: object) -> Completion:
        """Call `client` asynchronously within the budget, and count the call.

        Raises:
            BudgetExceededError: before dispatch, if the budget does not allow the call.
            ModelCallError: if the call failed (it is counted as a failure).
        """
        self.reserve(client.name)
        try:
            completion = await client.acomplete(messages, **options)
        except ModelCallError:
            self.record(client.name, None)
            raise
        except BaseException:
            self._in_flight = max(0, self._in_flight - 1)  # cancelled or a bug: not a call that happened
            raise
        self.record(client.name, completion)
        return completion

    def call(self, client: ModelClient, messages: ChatMessages, **options: object) -> Completion:
        """Sync twin of `acall`."""
        self.reserve(client.name)
        try:
            completion = client.complete(messages, **options)
        except ModelCallError:
            self.record(client.name, None)
            raise
        except BaseException:
            self._in_flight = max(0, self._in_flight - 1)
            raise
        self.record(client.name, completion)
        return completion
