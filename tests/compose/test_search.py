"""The searchers, the objective's cache and feasibility, and the search result, on plain-function objectives."""

from __future__ import annotations

import itertools
import sys
from collections.abc import Mapping
from typing import Any

import pytest
from routerkit.compose.config import PipelineConfig
from routerkit.compose.search import (
    BaseObjective,
    BayesianSearch,
    FunctionObjective,
    GreedySearch,
    Measurement,
    RandomSearch,
    Searcher,
    SearchResult,
    SearchSpace,
)
from routerkit.errors import ConfigError, MissingDependencyError

SEARCHERS = [
    pytest.param(RandomSearch(seed=1), id="random"),
    pytest.param(GreedySearch(), id="greedy"),
    pytest.param(BayesianSearch(seed=1), id="bayesian"),
]


def space(**overrides: object) -> SearchSpace:
    fields: dict[str, object] = {
        "generators": ("g1", "g2", "g3", "g4"),
        "samples": (1, 2, 3, 4),
        "fusion_layers": (0, 1, 2, 3),
        "fusers_per_layer": (2, 4),
        "fuser_models": ("f1",),
        "critic_model": "judge",
        "ranker_model": "judge",
        "verifier_model": "judge",
        "max_fuser_inputs": 10,
    }
    fields.update(overrides)
    return SearchSpace(**fields)  # type: ignore[arg-type]


def shape(config: Mapping[str, Any]) -> dict[str, Any]:
    """What a compiled config is made of: generators, samples, fuser layers, the components present."""
    layers = config["layers"]
    kinds = [component["type"] for layer in layers for component in layer]
    return {
        "generators": len(layers[0]),
        "samples": layers[0][0]["samples"],
        "fuser_layers": sum(layer[0]["type"] == "fuser" for layer in layers),
        "critic": "critic" in kinds,
        "ranker": "ranker" in kinds,
        "verifier": "verifier" in kinds,
    }


def peaked(config: Mapping[str, Any]) -> Measurement:
    """A landscape with one best architecture: 3 generators, 2 samples, 2 fusion layers, ranker only."""
    s = shape(config)
    score = (
        1.0
        - 0.10 * abs(s["generators"] - 3)
        - 0.07 * abs(s["samples"] - 2)
        - 0.12 * abs(s["fuser_layers"] - 2)
        + 0.05 * s["ranker"]
        - 0.04 * s["critic"]
        - 0.03 * s["verifier"]
    )
    calls = PipelineConfig.model_validate(config).layers  # validated: the search compiles real configs
    return Measurement(score=score, calls=len(calls), cost_usd=0.001 * len(calls))


BEST = {"generators": 3, "samples": 2, "fuser_layers": 2, "critic": False, "ranker": True, "verifier": False}


@pytest.mark.parametrize("searcher", SEARCHERS)
def test_each_searcher_returns_valid_distinct_configs(searcher: Searcher) -> None:
    result = searcher.search(space(), FunctionObjective(peaked), max_evaluations=25, progress=False)
    assert 1 <= result.evaluations <= 25
    assert len({e.key for e in result.history}) == result.evaluations  # never the same config twice
    for evaluation in result.history:
        PipelineConfig.model_validate(evaluation.config)
    assert result.best.value == max(e.value for e in result.history)
    assert result.space_size == space().size


@pytest.mark.parametrize("searcher", [p for p in SEARCHERS if p.id != "random"])
def test_greedy_and_bayesian_find_the_peak(searcher: Searcher) -> None:
    result = searcher.search(space(), FunctionObjective(peaked), max_evaluations=120, progress=False)
    assert shape(result.best.config) == BEST


def test_random_search_visits_every_point_once() -> None:
    s = space(generators=("g1", "g2"), samples=(1, 2), fusion_layers=(0, 1))
    result = RandomSearch(seed=3).search(s, FunctionObjective(peaked), max_evaluations=10_000, progress=False)
    assert sorted(e.point for e in result.history) == sorted(s.points())
    other = RandomSearch(seed=4).search(s, FunctionObjective(peaked), max_evaluations=10_000, progress=False)
    assert [e.point for e in other.history] != [e.point for e in result.history]


def test_the_cache_answers_repeats_for_free() -> None:
    calls: list[str] = []

    def measure(config: Mapping[str, Any]) -> float:
        calls.append(str(config["name"]))
        return 0.5

    objective, s = FunctionObjective(measure), space()
    point = s.point(generators=2, fusion_layers=1)
    first = objective.evaluate(s, point)
    # The same config again, and an equivalent point (fusers per layer do not matter with one fusion layer).
    assert objective.evaluate(s, point) == first
    assert objective.evaluate(s, s.point(generators=2, fusion_layers=1, fusers_per_layer=4)).key == first.key
    assert objective.runs == 1 and len(calls) == 1
    # A second search over the same objective counts its own evaluations, but runs nothing twice.
    a = RandomSearch(seed=0).search(s, objective, max_evaluations=30, progress=False)
    b = RandomSearch(seed=0).search(s, objective, max_evaluations=30, progress=False)
    assert a.evaluations == b.evaluations == 30
    assert objective.runs == 30 + (first.point not in {e.point for e in a.history})


def test_greedy_repeats_are_not_counted() -> None:
    result = GreedySearch().search(space(), FunctionObjective(peaked), max_evaluations=200, progress=False)
    # Coordinate ascent asks for its current point on every axis: those are cache answers.
    assert result.repeats > 0
    assert result.evaluations == len({e.point for e in result.history})


def test_infeasible_points_are_skipped_uncounted() -> None:
    s = space()
    objective = FunctionObjective(peaked, max_calls_per_query=8)
    result = BayesianSearch(seed=0).search(s, objective, max_evaluations=30, progress=False)
    assert result.infeasible > 0
    assert all(s.worst_case_calls(e.point) <= 8 for e in result.history)
    assert result.evaluations == 30
    too_big = s.point(generators=4, samples=2, fusion_layers=1)
    assert not objective.feasible(s, too_big)
    with pytest.raises(ConfigError, match="infeasible"):
        objective.evaluate(s, too_big)


def test_value_charges_cost_and_calls_per_query() -> None:
    def measure(config: Mapping[str, Any]) -> Measurement:
        return Measurement(score=0.8, calls=40, cost_usd=0.2, queries=10)

    objective = FunctionObjective(measure, cost_weight=2.0, call_weight=0.01)
    evaluation = objective.evaluate(space(), space().point())
    assert evaluation.calls_per_query == 4.0
    assert evaluation.cost_per_query == pytest.approx(0.02)
    assert evaluation.value == pytest.approx(0.8 - 2.0 * 0.02 - 0.01 * 4.0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"cost_weight": -1.0}, "`cost_weight` must be a number >= 0", id="negative-cost-weight"),
        pytest.param({"call_weight": float("nan")}, "`call_weight`", id="nan-call-weight"),
        pytest.param({"max_calls_per_query": 0}, "`max_calls_per_query`", id="zero-calls"),
    ],
)
def test_objective_options_are_checked(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        FunctionObjective(peaked, **kwargs)


def test_a_function_must_return_a_number() -> None:
    objective = FunctionObjective(lambda config: "good")  # type: ignore[arg-type,return-value]
    with pytest.raises(ConfigError, match="The objective function must return a number, got 'good'"):
        objective.evaluate(space(), space().point())


@pytest.mark.asyncio
async def test_async_functions_and_asearch() -> None:
    async def measure(config: Mapping[str, Any]) -> float:
        return peaked(config).score

    result = await GreedySearch().asearch(space(), FunctionObjective(measure), max_evaluations=60, progress=False)
    assert shape(result.best.config) == BEST


def test_search_result_curve_and_report() -> None:
    result = BayesianSearch(seed=2).search(space(), FunctionObjective(peaked), max_evaluations=40, progress=False)
    curve = result.best_so_far
    assert len(curve) == result.evaluations
    assert all(a <= b for a, b in itertools.pairwise(curve))
    index = result.evaluations_to_best
    assert result.history[index - 1].value == result.best.value
    assert all(e.value < result.best.value for e in result.history[: index - 1])
    top = result.top(3)
    assert [e.value for e in top] == sorted((e.value for e in result.history), reverse=True)[:3]
    report = result.report(3).splitlines()
    assert report[0].startswith("| rank | architecture | value | score | calls/query |")
    assert len(report) == 2 + 3 and top[0].point.label() in report[2]


def test_bayesian_search_is_reproducible() -> None:
    runs = [BayesianSearch(seed=5).search(space(), FunctionObjective(peaked), 20, progress=False) for _ in range(2)]
    assert [e.point for e in runs[0].history] == [e.point for e in runs[1].history]


def test_greedy_start_and_axes_are_checked() -> None:
    s = space()
    with pytest.raises(ConfigError, match="`axes` must name axes"):
        GreedySearch(axes=["layers"])  # type: ignore[list-item]
    with pytest.raises(ConfigError, match="greedy start point 'g2·s1·L0' is infeasible"):
        GreedySearch(start={"generators": 2}).search(s, FunctionObjective(peaked), 5, progress=False)
    walked = GreedySearch(start={"fusion_layers": 2}, axes=["samples"]).search(
        s, FunctionObjective(peaked), 50, progress=False
    )
    assert {e.point.samples for e in walked.history} == {1, 2, 3, 4}
    assert {e.point.fusion_layers for e in walked.history} == {2}


def test_search_arguments_are_checked() -> None:
    with pytest.raises(ConfigError, match="`max_evaluations` must be an integer >= 1, got 0"):
        RandomSearch().search(space(), FunctionObjective(peaked), 0, progress=False)
    with pytest.raises(ConfigError, match="`confirm_top` must be >= 0"):
        RandomSearch().search(space(), FunctionObjective(peaked), 3, progress=False, confirm_top=-1)
    nothing = SearchResult("random", (), space_size=3, infeasible=4)
    with pytest.raises(ConfigError, match="evaluated nothing: all 4 proposals were infeasible"):
        _ = nothing.best
    assert nothing.evaluations_to_best == 0


class TwoFidelities(BaseObjective):
    """On the subsample the configs with more generators look better; on the full set, fewer do."""

    @property
    def subsampled(self) -> bool:
        return True

    async def ameasure(self, config: Mapping[str, Any], *, full: bool) -> Measurement:
        generators = shape(config)["generators"]
        return Measurement(score=-generators if full else generators, queries=10 if full else 2)


def test_confirm_top_reevaluates_the_best_on_the_full_dev_set() -> None:
    s = space(samples=(1,), fusion_layers=(1,), critic=(False,), ranker=(False,), verifier=(False,))
    objective = TwoFidelities()
    result = RandomSearch(seed=0).search(s, objective, max_evaluations=4, progress=False, confirm_top=2)
    assert {e.point.generators for e in result.history} == {1, 2, 3, 4}
    assert not any(e.full for e in result.history)
    # The two best on the subsample (4 and 3 generators) were confirmed, not the two worst.
    assert [e.point.generators for e in result.confirmed] == [3, 4]
    assert all(e.full and e.queries == 10 for e in result.confirmed)
    assert result.best.point.generators == 3 and result.top(5) == list(result.confirmed)


def test_progress_bar_is_shown_and_can_be_disabled(capsys: pytest.CaptureFixture[str]) -> None:
    RandomSearch().search(space(), FunctionObjective(peaked), 3, progress=True)
    assert "random search" in capsys.readouterr().err
    RandomSearch().search(space(), FunctionObjective(peaked), 3, progress=False)
    assert capsys.readouterr().err == ""


def test_missing_optuna_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "optuna", None)
    with pytest.raises(MissingDependencyError, match=r'pip install "routerkit-core\[compose\]"'):
        BayesianSearch().search(space(), FunctionObjective(peaked), 3, progress=False)


def test_missing_tqdm_suggests_progress_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    with pytest.raises(MissingDependencyError, match="pass `progress=False`"):
        RandomSearch().search(space(), FunctionObjective(peaked), 3, progress=True)
