"""The usage ledger: budgets checked before dispatch, usage and cost counted per actual call."""

from __future__ import annotations

import asyncio

import pytest
from routerkit.clients.base import Usage
from routerkit.compose.budget import Budget, UsageLedger
from routerkit.errors import BudgetExceededError, ConfigError, ModelCallError
from routerkit.testing import ScriptedClient

QUESTION = [{"role": "user", "content": "two plus two"}]


def test_counts_calls_tokens_and_cost_per_model() -> None:
    ledger = UsageLedger()
    priced = ScriptedClient("priced", ["four"], usage=Usage(10, 2), prices=(1.0, 2.0))
    unpriced = ScriptedClient("unpriced", ["4"], usage=Usage(3, 1))
    ledger.call(priced, QUESTION)
    ledger.call(priced, QUESTION)
    ledger.call(unpriced, QUESTION)
    assert (ledger.calls, ledger.tokens) == (3, 2 * 12 + 4)
    assert ledger.cost_usd == pytest.approx(2 * (10 * 1.0 + 2 * 2.0) / 1e6)
    assert ledger.by_model["unpriced"].unpriced_calls == 1
    assert ledger.summary()["by_model"]["priced"]["calls"] == 2  # type: ignore[index]


def test_the_call_limit_refuses_before_dispatch() -> None:
    ledger = UsageLedger(Budget(max_calls=2))
    client = ScriptedClient("m", ["a"])
    ledger.call(client, QUESTION)
    ledger.call(client, QUESTION)
    with pytest.raises(BudgetExceededError, match="call 3, over the budget of 2 calls"):
        ledger.call(client, QUESTION)
    assert len(client.calls) == 2  # the refused call was never sent


def test_cost_and_token_limits_stop_the_next_call() -> None:
    client = ScriptedClient("m", ["a"], usage=Usage(500, 500), prices=(1.0, 1.0))
    by_cost = UsageLedger(Budget(max_cost_usd=0.001))
    by_cost.call(client, QUESTION)  # spends exactly $0.001
    with pytest.raises(BudgetExceededError, match=r"\$0.001000 is spent"):
        by_cost.call(client, QUESTION)
    by_tokens = UsageLedger(Budget(max_tokens=1500))
    by_tokens.call(client, QUESTION)
    by_tokens.call(client, QUESTION)
    with pytest.raises(BudgetExceededError, match="2000 tokens are spent"):
        by_tokens.call(client, QUESTION)


def test_failed_calls_count_as_calls_and_failures() -> None:
    ledger = UsageLedger(Budget(max_calls=2))
    client = ScriptedClient("flaky", ["a"], fail_times=1)
    with pytest.raises(ModelCallError):
        ledger.call(client, QUESTION)
    ledger.call(client, QUESTION)
    assert (ledger.calls, ledger.by_model["flaky"].failures) == (2, 1)
    with pytest.raises(BudgetExceededError):
        ledger.call(client, QUESTION)


@pytest.mark.asyncio
async def test_concurrent_calls_cannot_overrun_the_call_limit() -> None:
    ledger = UsageLedger(Budget(max_calls=3))
    client = ScriptedClient("m", ["a"])
    outcomes = await asyncio.gather(*(ledger.acall(client, QUESTION) for _ in range(5)), return_exceptions=True)
    refused = [outcome for outcome in outcomes if isinstance(outcome, BudgetExceededError)]
    assert (len(refused), len(client.calls), ledger.calls) == (2, 3, 3)


@pytest.mark.parametrize("field", ["max_calls", "max_tokens", "max_cost_usd"])
def test_a_negative_limit_is_a_config_error(field: str) -> None:
    with pytest.raises(ConfigError, match=f"Budget.{field}"):
        Budget(**{field: -1})  # type: ignore[arg-type]
