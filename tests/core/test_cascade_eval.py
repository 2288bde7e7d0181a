"""routerkit.eval.cascade on four prompts whose curves are worked out by hand in the comments."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from routerkit.errors import ConfigError
from routerkit.eval.bootstrap import bootstrap_ci, bootstrap_resamples, percentile_interval
from routerkit.eval.cascade import (
    CostCurve,
    PairOutcomes,
    accuracy_at_cost,
    cascade_at,
    cascade_curve,
    cost_to_reach,
    envelope,
    oracle_cascade_curve,
    oracle_routing_curve,
    random_cascade_curve,
    random_routing_curve,
    routing_at,
    routing_curve,
    single_model_point,
    threshold_to_reach,
)
from routerkit.eval.logistic import fit_logistic

# Prompt:           0    1    2    3
WEAK_SCORE = [1.0, 0.0, 1.0, 0.0]
STRONG_SCORE = [1.0, 1.0, 0.0, 1.0]
WEAK_COST = [1.0, 2.0, 3.0, 4.0]
STRONG_COST = [10.0, 10.0, 10.0, 10.0]
SCORES = [0.2, 0.9, 0.4, 0.7]  # routing order (highest first): 1, 3, 2, 0


@pytest.fixture
def pair() -> PairOutcomes:
    return PairOutcomes(WEAK_SCORE, STRONG_SCORE, WEAK_COST, STRONG_COST)


def _points(curve: CostCurve) -> list[tuple[float, float, float]]:
    rows = zip(curve.cost, curve.accuracy, curve.strong_rate, strict=True)
    return [(round(c, 9), round(a, 9), round(r, 9)) for c, a, r in rows]


# ----------------------------------------------------------------------------------- the curves


def test_routing_curve_by_hand(pair: PairOutcomes) -> None:
    # k strong calls, highest scores first; cost = (Σ weak cost of the rest + 10 k) / 4.
    assert _points(routing_curve(SCORES, pair)) == [
        (2.5, 0.5, 0.0),  # weak only: (1+2+3+4)/4, (1+0+1+0)/4
        (4.5, 0.75, 0.25),  # + prompt 1 strong: (1+10+3+4)/4, wrong → right
        (6.0, 1.0, 0.5),  # + prompt 3 strong: (1+10+3+10)/4
        (7.75, 0.75, 0.75),  # + prompt 2 strong: strong is wrong there
        (10.0, 0.75, 1.0),  # strong only
    ]
    assert routing_curve(SCORES, pair).threshold.tolist() == [math.inf, 0.9, 0.7, 0.4, 0.2]


def test_cascade_curve_by_hand(pair: PairOutcomes) -> None:
    confidence = [0.9, 0.1, 0.5, 0.3]  # deferral order (least confident first): 1, 3, 2, 0
    curve = cascade_curve(confidence, pair)
    # The weak model is always paid (2.5 a prompt on average); each deferral adds 10 / 4.
    assert _points(curve) == [
        (2.5, 0.5, 0.0),
        (5.0, 0.75, 0.25),
        (7.5, 1.0, 0.5),
        (10.0, 0.75, 0.75),
        (12.5, 0.75, 1.0),
    ]
    assert curve.threshold.tolist() == [-math.inf, 0.3, 0.5, 0.9, math.inf]


def test_cascade_on_one_minus_score_costs_exactly_the_weak_calls_of_the_deferred_prompts(pair: PairOutcomes) -> None:
    routed = routing_curve(SCORES, pair)
    cascaded = cascade_curve(1 - np.asarray(SCORES), pair)
    # Same decisions (prompts 1, 3, 2, 0 in turn), same accuracy; the cascade also paid the weak
    # model on every deferred prompt: cumulative weak costs 0, 2, 2+4, 2+4+3, 2+4+3+1, over 4 prompts.
    assert cascaded.accuracy.tolist() == routed.accuracy.tolist()
    assert cascaded.strong_rate.tolist() == routed.strong_rate.tolist()
    assert (cascaded.cost - routed.cost).tolist() == pytest.approx([0.0, 0.5, 1.5, 2.25, 2.5])


def test_ties_take_the_same_branch() -> None:
    outcomes = PairOutcomes([0, 0, 0, 0], [1, 1, 1, 1], [1, 1, 1, 1], [3, 3, 3, 3])
    routed = routing_curve([0.5, 0.5, 0.1, 0.9], outcomes)
    assert routed.strong_rate.tolist() == [0.0, 0.25, 0.75, 1.0]  # the two 0.5s move together
    assert cascade_curve([0.5, 0.5, 0.1, 0.9], outcomes).strong_rate.tolist() == [0.0, 0.25, 0.75, 1.0]


def test_oracle_curves_by_hand(pair: PairOutcomes) -> None:
    # Routing by gain (0, +1, −1, +1): prompts 1 and 3 first (a tie), then 0 (no gain), then 2.
    assert _points(oracle_routing_curve(pair)) == [
        (2.5, 0.5, 0.0),
        (6.0, 1.0, 0.5),
        (8.25, 1.0, 0.75),  # prompt 0 strong: no gain, (10+10+3+10)/4
        (10.0, 0.75, 1.0),
    ]
    # Deferring exactly the wrong weak answers (1 and 3): 2.5 + 20 / 4.
    assert _points(oracle_cascade_curve(pair)) == [(2.5, 0.5, 0.0), (7.5, 1.0, 0.5), (12.5, 0.75, 1.0)]


def test_random_curves_are_the_expected_straight_lines(pair: PairOutcomes) -> None:
    assert _points(random_routing_curve(pair, points=3)) == [(2.5, 0.5, 0.0), (6.25, 0.625, 0.5), (10.0, 0.75, 1.0)]
    assert _points(random_cascade_curve(pair, points=3)) == [(2.5, 0.5, 0.0), (7.5, 0.625, 0.5), (12.5, 0.75, 1.0)]


def test_single_model_point(pair: PairOutcomes) -> None:
    assert _points(single_model_point(WEAK_SCORE, WEAK_COST, strong=False)) == [(2.5, 0.5, 0.0)]
    assert _points(single_model_point(STRONG_SCORE, STRONG_COST, strong=True)) == [(10.0, 0.75, 1.0)]


# --------------------------------------------------------------------------------- the summaries


def test_envelope_keeps_the_cost_accuracy_frontier(pair: PairOutcomes) -> None:
    front = envelope(routing_curve(SCORES, pair))
    assert _points(front) == [(2.5, 0.5, 0.0), (4.5, 0.75, 0.25), (6.0, 1.0, 0.5)]
    unordered = CostCurve([3.0, 1.0, 2.0, 2.0], [0.9, 0.5, 0.4, 0.7], [1, 0, 0.5, 0.5], [0, 0, 0, 0])
    assert _points(envelope(unordered)) == [(1.0, 0.5, 0.0), (2.0, 0.7, 0.5), (3.0, 0.9, 1.0)]


def test_cost_to_reach_interpolates_on_the_envelope(pair: PairOutcomes) -> None:
    curve = routing_curve(SCORES, pair)
    halfway = cost_to_reach(curve, 0.875)  # halfway from (4.5, 0.75) to (6.0, 1.0)
    assert (halfway.cost, halfway.accuracy, halfway.strong_rate) == pytest.approx((5.25, 0.875, 0.375))
    assert cost_to_reach(curve, 0.75).cost == 4.5  # reached exactly at a point
    assert cost_to_reach(curve, 0.3).cost == 2.5  # already reached by the cheapest point
    never = cost_to_reach(curve, 1.01)
    assert not never.reached and math.isnan(never.accuracy)


def test_accuracy_at_cost_interpolates_on_the_envelope(pair: PairOutcomes) -> None:
    curve = routing_curve(SCORES, pair)
    halfway = accuracy_at_cost(curve, 3.5)  # halfway from (2.5, 0.5) to (4.5, 0.75)
    assert (halfway.cost, halfway.accuracy, halfway.strong_rate) == pytest.approx((3.5, 0.625, 0.125))
    assert accuracy_at_cost(curve, 100.0).accuracy == 1.0  # the frontier's best point
    assert not accuracy_at_cost(curve, 1.0).reached  # cheaper than weak only


def test_a_single_point_is_reached_or_not() -> None:
    point = single_model_point([1, 0], [2, 2], strong=True)
    assert cost_to_reach(point, 0.5).cost == 2.0 and not cost_to_reach(point, 0.6).reached
    assert accuracy_at_cost(point, 2.0).accuracy == 0.5 and not accuracy_at_cost(point, 1.9).reached


def test_fixed_thresholds_chosen_on_one_curve_reproduce_its_points(pair: PairOutcomes) -> None:
    routed = routing_curve(SCORES, pair)
    threshold = threshold_to_reach(routed, 1.0)
    assert threshold == 0.7
    at = routing_at(SCORES, pair, threshold)
    assert (at.cost, at.accuracy, at.strong_rate) == (6.0, 1.0, 0.5)
    confidence = [0.9, 0.1, 0.5, 0.3]
    assert threshold_to_reach(cascade_curve(confidence, pair), 1.0) == 0.5
    deferred = cascade_at(confidence, pair, 0.5)
    assert (deferred.cost, deferred.accuracy, deferred.strong_rate) == (7.5, 1.0, 0.5)
    assert math.isnan(threshold_to_reach(routed, 1.5))
    with pytest.raises(ConfigError, match="`threshold` is NaN"):
        routing_at(SCORES, pair, math.nan)


# ------------------------------------------------------------------------------------- bootstrap


def test_bootstrap_ci_is_seeded_and_covers_the_mean() -> None:
    values = np.array([1.0, 0.0] * 200)

    def mean(rows: np.ndarray) -> float:
        return float(values[rows].mean())

    low, high = bootstrap_ci(mean, len(values), resamples=300, seed=1)
    assert low < 0.5 < high and 0.07 < high - low < 0.13  # ≈ ±1.96 · 0.025
    assert bootstrap_ci(mean, len(values), resamples=300, seed=1) == (low, high)
    assert bootstrap_ci(lambda rows: 0.25, 5) == (0.25, 0.25)


def test_resamples_feed_many_statistics_at_once() -> None:
    rows = bootstrap_resamples(4, resamples=3, seed=7)
    assert len(rows) == 3 and all(r.shape == (4,) and r.min() >= 0 and r.max() <= 3 for r in rows)
    assert [r.tolist() for r in rows] == [r.tolist() for r in bootstrap_resamples(4, resamples=3, seed=7)]
    means = [float(np.array([0.0, 1.0, 2.0, 3.0])[r].mean()) for r in rows]
    assert bootstrap_ci(lambda r: float(np.array([0.0, 1.0, 2.0, 3.0])[r].mean()), 4, resamples=3, seed=7) == (
        percentile_interval(means)
    )
    # k = ⌈0.025 · R⌉: the extremes of 1 … 40, the 5th and 5th-largest of 1 … 200.
    assert percentile_interval(np.arange(1.0, 41.0)) == (1.0, 40.0)
    assert percentile_interval(np.arange(1.0, 201.0)[::-1]) == (5.0, 196.0)
    assert percentile_interval([3.0, math.nan, 1.0, 2.0], level=0.4) == (2.0, 3.0)  # k = 2; NaN → +inf


def test_bootstrap_counts_nan_as_not_reached() -> None:
    assert bootstrap_ci(lambda rows: math.nan, 5, resamples=10) == (math.inf, math.inf)
    assert bootstrap_ci(lambda rows: math.nan, 5, resamples=10, nan_as=-1.0) == (-1.0, -1.0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"n": 0}, "`n` must be an integer ≥ 1"), ({"resamples": 0}, "`resamples`"), ({"level": 1.0}, "`level`")],
    ids=["no-prompts", "no-resamples", "level-1"],
)
def test_bootstrap_refuses_bad_arguments(kwargs: dict[str, Any], message: str) -> None:
    arguments: dict[str, Any] = {"n": 4, **kwargs}
    n = arguments.pop("n")
    with pytest.raises(ConfigError, match=message):
        bootstrap_ci(lambda rows: 0.0, n, **arguments)


def test_percentile_interval_refuses_bad_input() -> None:
    with pytest.raises(ConfigError, match="`values` is empty"):
        percentile_interval([])
    with pytest.raises(ConfigError, match="`level` must lie in"):
        percentile_interval([1.0, 2.0], level=0.0)


# -------------------------------------------------------------------------------------- logistic


def test_logistic_without_penalty_recovers_the_group_rates() -> None:
    # One binary feature: the maximum-likelihood fit predicts each group's empirical rate.
    features = [[0.0]] * 4 + [[1.0]] * 4
    labels = [1, 0, 0, 0, 1, 1, 1, 0]
    model = fit_logistic(features, labels, l2=0.0)
    assert model.predict([[0.0], [1.0]]) == pytest.approx([0.25, 0.75], abs=1e-8)


def test_logistic_penalty_shrinks_towards_the_base_rate() -> None:
    features = [[0.0]] * 4 + [[1.0]] * 4
    labels = [1, 0, 0, 0, 1, 1, 1, 0]
    low, high = fit_logistic(features, labels, l2=5.0).predict([[0.0], [1.0]])
    assert 0.25 < low < 0.5 < high < 0.75
    assert low + high == pytest.approx(1.0)  # symmetric data, unpenalised intercept


def test_logistic_ignores_a_constant_column() -> None:
    features = [[0.0, 7.0]] * 4 + [[1.0, 7.0]] * 4
    model = fit_logistic(features, [1, 0, 0, 0, 1, 1, 1, 0], l2=0.0)
    assert model.predict([[0.0, 7.0], [1.0, 7.0]]) == pytest.approx([0.25, 0.75], abs=1e-8)


@pytest.mark.parametrize(
    ("features", "labels", "kwargs", "message"),
    [
        ([[0.0], [1.0]], [1, 1], {}, "both classes"),
        ([[0.0], [1.0]], [0, 2], {}, "must be 0 or 1"),
        ([[0.0], [1.0]], [0, 1, 1], {}, "3 values but `features` has 2 rows"),
        ([0.0, 1.0], [0, 1], {}, "2-D"),
        ([[0.0], [math.nan]], [0, 1], {}, "NaN or inf"),
        ([[0.0], [1.0]], [0, 1], {"l2": -1.0}, "`l2`"),
        ([[0.0], [1.0]], [0, 1], {"iterations": 0}, "`iterations`"),
    ],
    ids=["one-class", "label-2", "mismatch", "1-d", "nan", "negative-l2", "no-iterations"],
)
def test_logistic_refuses_bad_input(
    features: list[Any], labels: list[int], kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        fit_logistic(features, labels, **kwargs)


def test_logistic_predict_checks_the_column_count() -> None:
    model = fit_logistic([[0.0], [1.0], [0.0], [1.0]], [0, 1, 1, 0])
    with pytest.raises(ConfigError, match="fitted on 1"):
        model.predict([[0.0, 1.0]])


# ------------------------------------------------------------------------------------ validation


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("weak_cost", [1.0, -1.0, 1.0, 1.0], "`weak_cost` has 1 value.* not a cost ≥ 0"),
        ("strong_score", [1.0, 1.5, 0.0, 1.0], "`strong_score` has 1 value.* not a quality in \\[0, 1\\]"),
        ("weak_score", [1.0, math.nan, 1.0, 0.0], "`weak_score` has 1 NaN or infinite"),
        ("strong_cost", [10.0, 10.0], "`strong_cost` has 2 values but `weak_score` has 4"),
        ("weak_cost", [[1.0, 2.0], [3.0, 4.0]], "`weak_cost` must be 1-D"),
    ],
    ids=["negative-cost", "score-above-1", "nan-score", "short", "2-d"],
)
def test_pair_outcomes_name_the_bad_argument(field: str, value: object, message: str) -> None:
    arguments: dict[str, Any] = {
        "weak_score": WEAK_SCORE,
        "strong_score": STRONG_SCORE,
        "weak_cost": WEAK_COST,
        "strong_cost": STRONG_COST,
        field: value,
    }
    with pytest.raises(ConfigError, match=message):
        PairOutcomes(**arguments)


@pytest.mark.parametrize(
    ("values", "message"),
    [([0.1, 0.2], "`scores` has 2 values but the outcomes have 4"), ([0.1, math.nan, 0.2, 0.3], "NaN or infinite")],
    ids=["short", "nan"],
)
def test_routing_refuses_bad_scores(pair: PairOutcomes, values: list[float], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        routing_curve(values, pair)


def test_cascade_names_its_confidence(pair: PairOutcomes) -> None:
    with pytest.raises(ConfigError, match="`confidence` has 3 values"):
        cascade_curve([0.1, 0.2, 0.3], pair)


def test_curves_refuse_bad_points_and_targets(pair: PairOutcomes) -> None:
    with pytest.raises(ConfigError, match="`points` must be an integer ≥ 2"):
        random_routing_curve(pair, points=1)
    with pytest.raises(ConfigError, match="`accuracy` has 1 points but `cost` has 2"):
        CostCurve([1.0, 2.0], [0.5], [0.0, 1.0], [0.0, 0.0])
    with pytest.raises(ConfigError, match="`strong_rate`"):
        CostCurve([1.0], [0.5], [1.5], [0.0])
    with pytest.raises(ConfigError, match="`target` must be a finite number"):
        cost_to_reach(routing_curve(SCORES, pair), math.nan)
    with pytest.raises(ConfigError, match="`budget` must be a finite number"):
        accuracy_at_cost(routing_curve(SCORES, pair), math.inf)


def test_take_resamples_prompts(pair: PairOutcomes) -> None:
    taken = pair.take([3, 3, 0])
    assert taken.weak_cost.tolist() == [4.0, 4.0, 1.0] and len(taken) == 3
