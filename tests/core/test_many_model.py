"""routerkit.eval.many_model on four prompts and three models, every number worked out by hand below."""

from __future__ import annotations

import numpy as np
import pytest
from routerkit.errors import ConfigError, UnknownNameError
from routerkit.eval.many_model import (
    ManyCurve,
    ManyOutcomes,
    aiq,
    baselines,
    complete_cases,
    cost_saving,
    evaluate_router,
    expected_costs,
    gap_closed,
    nondecreasing_hull,
    oracle_choice,
    random_same_shares,
    route,
    routing_curve,
    single_points,
    tune_weight,
)

# Models A (cheap), B, C (expensive); every call of a model costs the same on every prompt, so the
# relative costs (cost / row max) are A 0.25, B 0.5, C 1.
MODELS = ("A", "B", "C")
COST = np.tile([1.0, 2.0, 4.0], (4, 1))
SCORES = np.array(
    [
        [1, 1, 1],  # prompt 0: everyone right
        [0, 1, 1],  # prompt 1: B and C
        [0, 0, 1],  # prompt 2: only C
        [1, 0, 0],  # prompt 3: only A
    ],
    dtype=np.float64,
)
# Singles: A (1, 0.5), B (2, 0.5), C (4, 0.75) → best single C. Oracle: A, B, C, A → (2, 1.0).
# Predicted quality, dyadic so that crossings λ = Δquality / Δrelative cost are exact:
QUALITY = np.array(
    [
        [0.5, 0.625, 0.875],  # C→B at 0.25/0.5 = 0.5 and C→A at 0.375/0.75 = 0.5: tied, the cheaper A wins
        [0.25, 0.75, 0.875],  # C→B at 0.125/0.5 = 0.25; then B→A at 0.5/0.25 = 2
        [0.125, 0.5, 0.875],  # C→B at 0.375/0.5 = 0.75 (C→A only at 1); then B→A at 0.375/0.25 = 1.5
        [0.5, 0.625, 0.75],  # C→B at 0.25 (C→A at 1/3); then B→A at 0.125/0.25 = 0.5
    ]
)
# Prompts switching at the same λ move together (tie-safe): 0.25 (prompts 1, 3), 0.5 (prompts 0, 3).
# (cost, accuracy) per interval of λ, with a weight inside it (midpoints; twice the last crossing):
CURVE = [
    (4.0, 0.75, 0.0),  # λ < 0.25: C C C C
    (3.0, 0.75, 0.375),  # C B C B
    (2.0, 1.0, 0.625),  # A B C A: the oracle's choice
    (1.5, 0.75, 1.125),  # A B B A
    (1.25, 0.75, 1.75),  # A B A A
    (1.0, 0.5, 4.0),  # λ > 2: A A A A
]


@pytest.fixture
def outcomes() -> ManyOutcomes:
    return ManyOutcomes(MODELS, SCORES, COST)


def _points(curve: ManyCurve) -> list[tuple[float, float, float]]:
    rows = zip(curve.cost, curve.accuracy, curve.weight, strict=True)
    return [(round(float(c), 9), round(float(a), 9), round(float(w), 9)) for c, a, w in rows]


# -------------------------------------------------------------------------------------- routing


def test_routing_curve_by_hand(outcomes: ManyOutcomes) -> None:
    assert _points(routing_curve(QUALITY, outcomes, COST)) == CURVE


def test_each_weight_reproduces_its_point(outcomes: ManyOutcomes) -> None:
    rows = np.arange(4)
    for cost, accuracy, weight in CURVE:
        choice = route(QUALITY, COST, weight)
        assert (COST[rows, choice].mean(), SCORES[rows, choice].mean()) == (cost, accuracy)


def test_route_ties_go_to_the_cheaper_model_then_the_earlier_column() -> None:
    costs = [[2.0, 1.0, 1.0, 4.0]]
    assert route([[0.5, 0.5, 0.5, 0.25]], costs, 0.0).tolist() == [1]  # B and C tie in cost: the earlier
    # Quality 0.5, 0.75, 1 at relative costs 0.25, 0.5, 1: at λ = 0.5 model 2 and 1 tie (0.5 each).
    assert route([[0.5, 0.75, 1.0]], [[1.0, 2.0, 4.0]], 0.5).tolist() == [1]
    assert route([[0.5, 0.75, 1.0]], [[1.0, 2.0, 4.0]], 0.49).tolist() == [2]
    assert route([[0.5, 0.75, 1.0]], [[1.0, 2.0, 4.0]], float("inf")).tolist() == [0]


def test_route_normalises_costs_per_prompt_like_cost_aware() -> None:
    # Same relative costs whatever the scale: the choice does not change when one row's costs grow 1000×.
    quality = [[0.5, 0.75, 1.0], [0.5, 0.75, 1.0]]
    assert route(quality, [[1, 2, 4], [1000, 2000, 4000]], 0.4).tolist() == [2, 2]
    assert route(quality, [[0, 0, 0], [0, 0, 0]], 10.0).tolist() == [2, 2]  # free: quality alone


def test_sweep_finds_every_choice_a_dense_weight_grid_finds() -> None:
    rng = np.random.default_rng(7)
    scores = (rng.random((60, 6)) < 0.6).astype(np.float64)
    cost = np.outer(1 + rng.random(60), [1, 2, 3, 5, 8, 13])
    quality = np.round(rng.random((60, 6)), 2)  # rounded: many ties
    many = ManyOutcomes([f"m{j}" for j in range(6)], scores, cost)
    curve = routing_curve(quality, many, cost)
    rows = np.arange(60)
    grid = set()
    for weight in np.concatenate(([0.0], np.geomspace(1e-3, 1e3, 3000))):
        choice = route(quality, cost, weight)
        grid.add((round(cost[rows, choice].mean(), 9), round(scores[rows, choice].mean(), 9)))
    swept = {(c, a) for c, a, _ in _points(curve)}
    assert grid <= swept
    for c, a, w in _points(curve):
        choice = route(quality, cost, w)
        assert (round(cost[rows, choice].mean(), 9), round(scores[rows, choice].mean(), 9)) == (c, a)


def test_no_crossing_gives_one_point() -> None:
    # The cheaper model is also predicted better: no weight changes the choice.
    many = ManyOutcomes(["A", "B"], [[1, 0], [0, 1]], [[1, 2], [1, 2]])
    assert _points(routing_curve([[0.9, 0.1], [0.6, 0.5]], many, many.cost)) == [(1.0, 0.5, 0.0)]


def test_tune_weight(outcomes: ManyOutcomes) -> None:
    curve = routing_curve(QUALITY, outcomes, COST)
    assert tune_weight(curve) == 0.625  # the most accurate point (only one has 1.0)
    assert tune_weight(curve, target=0.75) == 1.75  # cheapest point with accuracy ≥ 0.75: (1.25, 0.75)
    assert np.isnan(tune_weight(curve, target=1.01))


# ------------------------------------------------------------------------------------ baselines


def test_single_points_best_single_and_oracle(outcomes: ManyOutcomes) -> None:
    singles = single_points(outcomes)
    assert singles.cost.tolist() == [1.0, 2.0, 4.0]
    assert singles.accuracy.tolist() == [0.5, 0.5, 0.75]
    assert oracle_choice(outcomes).tolist() == [0, 1, 2, 0]  # cheapest correct; prompt 3 only A is right
    base = baselines(outcomes)
    assert base.best == 2
    assert (base.oracle.cost, base.oracle.accuracy) == (2.0, 1.0)
    assert base.cost_range == (1.0, 4.0)


def test_best_single_ties_go_to_the_cheaper_model() -> None:
    # A and B both 0.5 accurate; B is cheaper.
    base = baselines(ManyOutcomes(["A", "B"], [[1, 0], [0, 1]], [[3, 1], [3, 1]]))
    assert base.best == 1


def test_oracle_picks_the_cheapest_among_all_wrong() -> None:
    assert oracle_choice(ManyOutcomes(["A", "B"], [[0, 0], [0.5, 0.5]], [[2, 1], [1, 2]])).tolist() == [1, 0]


def test_random_same_shares_is_the_share_weighted_single_point(outcomes: ManyOutcomes) -> None:
    # Choice A B C A → shares A ½, B ¼, C ¼: accuracy ½·0.5 + ¼·0.5 + ¼·0.75 = 0.5625, cost ½·1 + ¼·2 + ¼·4 = 2.
    point = random_same_shares(np.array([0, 1, 2, 0]), outcomes)
    assert (point.cost, point.accuracy) == (2.0, 0.5625)
    # All on C: the same as always using C.
    point = random_same_shares(np.array([2, 2, 2, 2]), outcomes)
    assert (point.cost, point.accuracy) == (4.0, 0.75)


def test_nondecreasing_hull_and_aiq(outcomes: ManyOutcomes) -> None:
    curve = routing_curve(QUALITY, outcomes, COST)
    hull = nondecreasing_hull(curve)
    # (1.5, 0.75) lies under the chord (1.25, 0.75)–(2, 1); everything after the best point is cut.
    assert list(zip(hull.cost.tolist(), hull.accuracy.tolist(), strict=True)) == [(1.0, 0.5), (1.25, 0.75), (2.0, 1.0)]
    # ∫ over [1, 4]: 0.25·(0.5+0.75)/2 + 0.75·(0.75+1)/2 + 2·1 = 0.15625 + 0.65625 + 2 = 2.8125; / 3.
    assert aiq(curve, 1.0, 4.0) == pytest.approx(0.9375, abs=1e-12)
    # Below the curve's cheapest point R̃ = 0: over [0, 4] the area is the same 2.8125, / 4.
    assert aiq(curve, 0.0, 4.0) == pytest.approx(0.703125, abs=1e-12)


def test_aiq_of_mixing_single_models(outcomes: ManyOutcomes) -> None:
    base = baselines(outcomes)
    # B (2, 0.5) lies under the chord A (1, 0.5)–C (4, 0.75) (0.583 there): the hull is that chord.
    assert base.mixing.cost.tolist() == [1.0, 4.0]
    assert aiq(base.mixing, 1.0, 4.0) == pytest.approx(0.625, abs=1e-12)  # 3·(0.5 + 0.75)/2 / 3
    # The oracle's curve: A B C A (2, 1), then prompt 2 C→A at λ = 1/0.75, prompt 1 B→A at λ = 4.
    assert _points(base.oracle_curve) == [(2.0, 1.0, 0.0), (1.25, 0.75, 2.666666667), (1.0, 0.5, 8.0)]
    assert aiq(base.oracle_curve, 1.0, 4.0) == pytest.approx(0.9375, abs=1e-12)


def test_aiq_of_a_known_hull_with_a_dip_and_a_point_past_the_best() -> None:
    # Points (0, .2) (1, .6) (2, .5) (3, .9) (4, .8): hull (0, .2) (1, .6) (3, .9), flat .9 to 4.
    curve = ManyCurve(np.array([0.0, 1, 2, 3, 4]), np.array([0.2, 0.6, 0.5, 0.9, 0.8]), np.full(5, np.nan))
    assert nondecreasing_hull(curve).cost.tolist() == [0.0, 1.0, 3.0]
    # 1·(0.2+0.6)/2 + 2·(0.6+0.9)/2 + 1·0.9 = 0.4 + 1.5 + 0.9 = 2.8; / 4.
    assert aiq(curve, 0.0, 4.0) == pytest.approx(0.7, abs=1e-12)
    # The range can start inside the hull: over [2, 3] the hull rises from 0.75 to 0.9.
    assert aiq(curve, 2.0, 3.0) == pytest.approx(0.825, abs=1e-12)
    assert aiq(curve, 5.0, 6.0) == pytest.approx(0.9, abs=1e-12)  # past the best: flat


def test_gap_closed_and_cost_saving(outcomes: ManyOutcomes) -> None:
    assert gap_closed(1.0, 0.75, 1.0) == 1.0
    assert gap_closed(0.875, 0.75, 1.0) == 0.5
    assert gap_closed(0.5, 0.75, 1.0) == -1.0  # worse than the best single model
    curve = routing_curve(QUALITY, outcomes, COST)
    best = single_points(outcomes).point(2)
    # Cheapest point with accuracy ≥ 0.75 is (1.25, 0.75): 1 − 1.25/4.
    assert cost_saving(curve, best) == 0.6875
    assert np.isnan(cost_saving(curve, type(best)(cost=4.0, accuracy=1.01)))  # not reached


def test_evaluate_router(outcomes: ManyOutcomes) -> None:
    base = baselines(outcomes)
    result = evaluate_router(QUALITY, outcomes, COST, 0.375, base)
    assert (result.best_point.cost, result.best_point.accuracy) == (2.0, 1.0)
    assert (result.at_weight.cost, result.at_weight.accuracy) == (3.0, 0.75)  # C B C B
    assert result.shares.tolist() == [0.0, 0.5, 0.5]
    # Same shares at random: ½·(2, 0.5) + ½·(4, 0.75) = (3, 0.625): the router's choice beats it.
    assert (result.random_same_shares.cost, result.random_same_shares.accuracy) == (3.0, 0.625)
    assert result.aiq == pytest.approx(0.9375, abs=1e-12)
    assert result.saving == 0.6875


def test_select_is_the_allowed_models_constraint(outcomes: ManyOutcomes) -> None:
    allowed = outcomes.select(["C", "A"])
    assert allowed.models == ("C", "A")
    assert allowed.scores[:, 0].tolist() == [1, 1, 1, 0]
    assert allowed.take([3]).scores.tolist() == [[0.0, 1.0]]
    with pytest.raises(UnknownNameError, match=r"Unknown model 'D'\. Available: 'A', 'B', 'C'"):
        outcomes.select(["D"])


# ---------------------------------------------------------------------------------- preparation


def test_complete_cases_drops_sparse_models_then_prompts() -> None:
    nan = np.nan
    scores = [[1, nan, 0], [0, nan, 1], [1, 1, nan], [0, 1, 1]]  # missing: A 0, B ½, C ¼
    done = complete_cases(["A", "B", "C"], scores, np.ones((4, 3)), max_missing=0.3)
    assert done.models == ("A", "C")
    assert done.rows.tolist() == [0, 1, 3]
    assert done.dropped_models == {"B": 0.5}
    assert done.dropped_prompts == 1
    cost = [[1, 1, 1], [nan, 1, 1], [1, 1, 1], [1, 1, 1]]  # a missing cost counts as missing too
    assert complete_cases(["A", "B", "C"], scores, cost, max_missing=0.6).rows.tolist() == [3]
    # By group: C misses ½ of group "y" (rows 2, 3) though only ¼ overall, so it goes too.
    by_group = complete_cases(["A", "B", "C"], scores, np.ones((4, 3)), max_missing=0.3, groups=list("xxyy"))
    assert by_group.models == ("A",)
    assert by_group.dropped_models == {"B": 1.0, "C": 0.5}
    assert by_group.rows.tolist() == [0, 1, 2, 3]
    with pytest.raises(ConfigError, match=r"`groups` needs one label per prompt \(4\)"):
        complete_cases(["A", "B", "C"], scores, np.ones((4, 3)), groups=["x"])
    with pytest.raises(ConfigError, match=r"No complete outcomes.*'A': 1\.0"):
        complete_cases(["A", "B", "C"], [[nan, nan, nan]] * 4, np.ones((4, 3)), max_missing=0.3)


def test_expected_costs_by_hand() -> None:
    # 400 and 800 characters → 100 and 200 prompt tokens; model 1 has no mean output: 256 tokens.
    got = expected_costs([400, 800], [1.0, 2.0], [3.0, 4.0], [100.0, np.nan])
    want = np.array([[100 + 300, 200 + 1024], [200 + 300, 400 + 1024]]) / 1e6
    np.testing.assert_allclose(got, want, rtol=1e-12)
    with pytest.raises(ConfigError, match=r"`input_usd_per_mtok` has 1 NaN"):
        expected_costs([400], [np.nan], [1.0], [1.0])


# --------------------------------------------------------------------------------------- errors


def test_public_names_are_documented() -> None:
    from routerkit.eval import many_model

    assert sorted(many_model.__all__) == many_model.__all__
    for name in many_model.__all__:
        assert getattr(many_model, name).__doc__, f"{name} has no docstring"


@pytest.mark.parametrize(
    ("call", "message"),
    [
        pytest.param(
            lambda o: routing_curve(QUALITY[:, :2], o, COST),
            r"`quality` must be .* shape 4x3, got shape \(4, 2\)",
            id="shape",
        ),
        pytest.param(
            lambda o: routing_curve(np.where(QUALITY > 0.8, np.nan, QUALITY), o, COST),
            r"`quality` has 3 NaN .* \(first: nan at row 0, column 2\)",
            id="nan-quality",
        ),
        pytest.param(lambda o: route(QUALITY, -COST, 0.0), r"`decision_cost` has 12 value\(s\) not ≥ 0", id="negative"),
        pytest.param(lambda o: route(QUALITY, COST, -1.0), r"`weight` must be a number ≥ 0, got -1\.0", id="weight"),
        pytest.param(lambda o: route(QUALITY, COST, float("nan")), r"`weight` must be .* got nan", id="nan-weight"),
        pytest.param(
            lambda o: aiq(single_points(o), 2.0, 2.0), r"AIQ needs a cost range .* \[2\.0, 2\.0\]", id="range"
        ),
        pytest.param(lambda o: gap_closed(0.9, 0.8, 0.8), r"oracle \(0\.8\) is not more accurate", id="no-gap"),
        pytest.param(
            lambda o: random_same_shares(np.array([0, 1]), o), r"one integer column index per prompt \(4\)", id="choice"
        ),
        pytest.param(lambda o: random_same_shares(np.array([0, 1, 2, 3]), o), r"outside \[0, 2\]", id="column"),
        pytest.param(lambda o: complete_cases("AB", [[1.0]], [[1.0]]), r"`scores` must be .* shape nx2", id="cases"),
        pytest.param(
            lambda o: complete_cases("A", [[1.0]], [[1.0]], max_missing=2), r"`max_missing` .* got 2", id="share"
        ),
    ],
)
def test_errors_name_the_bad_value(outcomes: ManyOutcomes, call: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        call(outcomes)  # type: ignore[operator]


@pytest.mark.parametrize(
    ("models", "scores", "cost", "message"),
    [
        pytest.param(["A", "A"], [[1, 0]], [[1, 1]], r"name each candidate once .* \['A', 'A'\]", id="repeat"),
        pytest.param(["A"], [[1.5]], [[1]], r"`scores` has 1 value\(s\) not in \[0, 1\] \(first: 1\.5", id="score"),
        pytest.param(["A"], [[1]], [[np.nan]], r"`cost` has 1 NaN .* Drop models or prompts", id="nan-cost"),
        pytest.param(
            ["A", "B"], [[1, 0]], [[1, 1], [1, 1]], r"`cost` must be .* shape 1x2, got shape \(2, 2\)", id="shape"
        ),
    ],
)
def test_outcomes_refuse_bad_input(models: list[str], scores: object, cost: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        ManyOutcomes(models, scores, cost)  # type: ignore[arg-type]
