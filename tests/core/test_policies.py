"""Policies, decisions and calibration on artifact-free routers."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
import routerkit
from pydantic import ValidationError
from routerkit import BudgetPerRequest, CostAware, StrongShare, Threshold, calibrate
from routerkit.errors import ConfigError
from routerkit.routers import LengthRouter, RandomRouter

PROMPTS = [f"question {i} " + "word " * (i % 37) for i in range(400)]


def test_threshold_semantics_are_routellm_s() -> None:
    router = LengthRouter(scale=10.0)
    text = "x" * 10  # score exactly 0.5
    assert router.route(text, Threshold(0.5)).role == "strong"  # strong iff score >= t
    assert router.route(text, Threshold(0.5000001)).role == "weak"
    assert router.route(text, Threshold(0.0)).model == router.strong


def test_decision_is_frozen_and_complete() -> None:
    decision = LengthRouter().route([{"role": "user", "content": "hello there"}])
    assert decision.router == "length" and decision.policy == "threshold"
    assert set(decision.scores) == {"strong_win_rate"}
    assert decision.candidates == (decision.model, "mixtral-8x7b-instruct-v0.1") or decision.role == "weak"
    assert decision.expected_cost_usd is not None and decision.latency_ms >= 0
    with pytest.raises(ValidationError):
        decision.model = "other"  # type: ignore[misc]


def test_threshold_outside_unit_interval_is_rejected() -> None:
    with pytest.raises(ValidationError):
        Threshold(1.5)


def test_cost_aware_trades_quality_for_cost() -> None:
    router = LengthRouter()
    long_prompt = "word " * 2000  # p(strong) close to 1
    assert router.route(long_prompt, CostAware(0.0)).role == "strong"
    assert router.route(long_prompt, CostAware(5.0)).role == "weak"


def test_cost_aware_needs_prices() -> None:
    router = LengthRouter(strong="unpriced-a", weak="unpriced-b")
    with pytest.raises(ConfigError, match="needs a price"):
        router.route("hello", CostAware(0.1))


def test_random_router_is_deterministic_and_batch_invariant() -> None:
    router = RandomRouter(seed=3)
    alone = router.scores([PROMPTS[5]])[0, 0]
    batched = router.scores(PROMPTS)[5, 0]
    assert alone == batched
    assert RandomRouter(seed=4).scores([PROMPTS[5]])[0, 0] != alone
    assert 0.4 < float(np.mean(router.scores(PROMPTS) >= 0.5)) < 0.6


@pytest.mark.parametrize("share", [0.0, 0.1, 0.3, 0.5, 0.9, 1.0])
def test_calibrate_hits_the_strong_share(share: float) -> None:
    router = RandomRouter()
    policy = calibrate(router, PROMPTS, target=StrongShare(share))
    realised = np.mean([d.role == "strong" for d in router.route_batch(PROMPTS, policy)])
    assert abs(realised - share) <= 1 / len(PROMPTS) + 1e-9
    assert router.default_policy == Threshold(0.5)  # the router is not mutated


def test_calibrate_keeps_ties_together() -> None:
    router = LengthRouter()
    prompts = ["same length"] * 10 + ["a much longer prompt than the others"] * 10
    policy = calibrate(router, prompts, target=StrongShare(0.75))
    assert np.mean([d.role == "strong" for d in router.route_batch(prompts, policy)]) == 0.5


def test_calibrated_threshold_leaves_room_for_float_noise() -> None:
    """A prompt scored alone may differ from its batch score by ~1e-9; it must not change side."""
    from routerkit.calibration import threshold_for_share

    scores = np.array([0.2, 0.4, 0.6, 0.8])
    threshold = threshold_for_share(scores, 0.5)
    assert 0.4 + 1e-6 < threshold < 0.6 - 1e-6
    assert threshold_for_share(scores, 1.0) <= 0.2 - 1e-6 and threshold_for_share(scores, 0.0) > 0.8 + 1e-6


def test_calibrate_to_budget() -> None:
    router = LengthRouter()
    costs = np.array([router.expected_costs(p) for p in PROMPTS], dtype=float)
    budget = float(costs[:, 1].mean() + 0.3 * (costs[:, 0] - costs[:, 1]).mean())
    policy = calibrate(router, PROMPTS, target=BudgetPerRequest(budget))
    spent = np.mean([d.expected_cost_usd for d in router.route_batch(PROMPTS, policy)])
    assert spent <= budget
    with pytest.raises(ConfigError, match="Raise the budget"):
        calibrate(router, PROMPTS, target=BudgetPerRequest(1e-12))


def test_route_batch_and_async_twins_agree() -> None:
    router = LengthRouter()
    batch = router.route_batch(PROMPTS[:5])
    single = [router.route(p) for p in PROMPTS[:5]]
    assert [d.model for d in batch] == [d.model for d in single]
    assert asyncio.run(router.aroute(PROMPTS[0])).model == single[0].model
    assert [d.model for d in asyncio.run(router.aroute_batch(PROMPTS[:5]))] == [d.model for d in single]


def test_scores_rejects_a_bare_string() -> None:
    with pytest.raises(ConfigError, match="list of prompts"):
        LengthRouter().scores("not a list")  # type: ignore[arg-type]


def test_load_baselines_and_unknown_name(plugins: object) -> None:
    assert isinstance(routerkit.load("random", seed=1), RandomRouter)
    with pytest.raises(routerkit.UnknownNameError, match=r"Unknown router 'mff'\. Available: .*'length'.*'mf'"):
        routerkit.load("mff")
    with pytest.raises(ConfigError, match="must be a string"):
        routerkit.load(3)  # type: ignore[arg-type]
