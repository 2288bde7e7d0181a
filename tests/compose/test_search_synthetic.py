"""Architecture search end to end: real pipelines of scripted models on the synthetic sums task, whose best
config is known by evaluating every point of the space."""

from __future__ import annotations

import logging
import statistics
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import pytest
from routerkit.compose.search import (
    BayesianSearch,
    Evaluation,
    GreedySearch,
    Objective,
    RandomSearch,
    SearchSpace,
)
from routerkit.errors import ConfigError
from routerkit.testing import ScriptedClient
from routerkit.testing.archon_task import ArchonTask, archon_task, share_correct

SEEDS = range(10)


@dataclass(frozen=True)
class Exhaustive:
    task: ArchonTask
    space: SearchSpace
    objective: Objective[str]
    ranked: list[Evaluation]
    """Every point of the space, evaluated, best first."""

    @property
    def best(self) -> Evaluation:
        return self.ranked[0]


@pytest.fixture(scope="module")
def exhaustive() -> Iterator[Exhaustive]:
    # A verifier that passes nothing logs a warning per run; thousands of runs are not worth the noise.
    logger = logging.getLogger("routerkit.compose")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        task = archon_task()
        space, objective = task.space(), task.objective()
        ranked = sorted((objective.evaluate(space, point) for point in space.points()), key=lambda e: -e.value)
    finally:
        logger.setLevel(level)
    yield Exhaustive(task, space, objective, ranked)


def test_the_known_best_is_unique_and_inside_the_space(exhaustive: Exhaustive) -> None:
    best, runner_up = exhaustive.ranked[0], exhaustive.ranked[1]
    assert best.value > runner_up.value + 0.005
    assert best.errors == 0
    # Not the cheapest corner and not the biggest: more calls are not always better here.
    calls = [e.calls_per_query for e in exhaustive.ranked]
    assert min(calls) < best.calls_per_query < max(calls) / 2
    assert 1 < best.point.generators < len(exhaustive.space.generators)
    assert best.point.fusion_layers >= 1
    # The biggest config scores no higher and pays for its calls.
    biggest = max(exhaustive.ranked, key=lambda e: e.calls)
    assert biggest.score <= best.score and biggest.value < best.value - 0.05


def test_greedy_finds_the_known_best(exhaustive: Exhaustive) -> None:
    result = GreedySearch().search(exhaustive.space, exhaustive.objective, exhaustive.space.size, progress=False)
    assert result.best.key == exhaustive.best.key
    assert result.evaluations < exhaustive.space.size / 10


def test_bayesian_search_finds_the_known_best(exhaustive: Exhaustive) -> None:
    result = BayesianSearch(seed=0).search(exhaustive.space, exhaustive.objective, 50, progress=False)
    assert result.best.key == exhaustive.best.key
    assert result.best.config == exhaustive.best.config


def evaluations_to_best(searcher: RandomSearch | BayesianSearch | GreedySearch, exhaustive: Exhaustive) -> int:
    result = searcher.search(
        exhaustive.space, exhaustive.objective, exhaustive.space.size, progress=False, target=exhaustive.best.value
    )
    assert result.best.key == exhaustive.best.key  # with the whole space as budget, every searcher gets there
    return result.evaluations_to_best


def test_bayesian_and_greedy_need_far_fewer_evaluations_than_random(exhaustive: Exhaustive) -> None:
    random_runs = [evaluations_to_best(RandomSearch(seed=seed), exhaustive) for seed in SEEDS]
    bayesian_runs = [evaluations_to_best(BayesianSearch(seed=seed), exhaustive) for seed in SEEDS]
    greedy = evaluations_to_best(GreedySearch(), exhaustive)
    # Random search needs (size + 1) / 2 evaluations on average (~170 here); the margins are wide on purpose.
    assert statistics.mean(bayesian_runs) * 2.5 < statistics.mean(random_runs)
    assert statistics.median(bayesian_runs) * 2.5 < statistics.median(random_runs)
    assert greedy * 5 < statistics.mean(random_runs)
    assert max(bayesian_runs) < exhaustive.space.size / 4


def test_an_evaluation_runs_real_pipelines_and_counts_calls_and_cost(exhaustive: Exhaustive) -> None:
    task, space = exhaustive.task, exhaustive.space
    point = space.point(generators=2, samples=3, fusion_layers=1, critic=True)
    evaluation = task.objective().evaluate(space, point)
    # 2 models x 3 samples, a critic, one fuser: 8 calls per query, at each model's fixed price.
    assert evaluation.calls == 8 * len(task.dev_set)
    prices = {m.name: m.call_cost for m in (*task.generators, *task.fusers, task.judge)}
    per_query = 3 * (prices["gen-large"] + prices["gen-medium"]) + prices["judge"] + prices["fuser-large"]
    assert evaluation.cost_per_query == pytest.approx(per_query)
    assert evaluation.value == pytest.approx(evaluation.score - task.cost_weight * per_query)
    assert 0 < evaluation.score < 1 and evaluation.errors == 0
    # Fresh clients per evaluated config: another objective measures exactly the same.
    assert exhaustive.objective.evaluate(space, point) == evaluation


def test_subsample_search_confirms_the_best_on_the_full_dev_set(exhaustive: Exhaustive) -> None:
    task, space = exhaustive.task, exhaustive.space
    objective = task.objective(subsample=4, seed=1)
    result = RandomSearch(seed=0).search(space, objective, 30, progress=False, confirm_top=3)
    assert all(e.queries == 4 and not e.full for e in result.history)
    best_on_sample = sorted(result.history, key=lambda e: -e.value)[:3]
    assert {e.key for e in result.confirmed} != {e.key for e in best_on_sample}  # keys carry the fidelity
    assert {e.point for e in result.confirmed} == {e.point for e in best_on_sample}
    assert all(e.queries == len(task.dev_set) and e.full for e in result.confirmed)
    full = {e.point: e.value for e in exhaustive.ranked}
    assert [e.value for e in result.confirmed] == sorted((full[e.point] for e in best_on_sample), reverse=True)


def test_a_model_that_fails_scores_zero_and_is_reported(exhaustive: Exhaustive) -> None:
    task, space = exhaustive.task, exhaustive.space

    def clients() -> Mapping[str, object]:
        return {**task.clients(), "gen-large": ScriptedClient("gen-large", ["never"], fail_times=10**9)}

    objective = Objective(clients, task.dev_set, share_correct)
    evaluation = objective.evaluate(space, space.point(fusion_layers=1))
    assert evaluation.errors == len(task.dev_set) and evaluation.score == 0.0
    assert "No layer left a usable answer" in evaluation.error_messages[0]
    assert len(evaluation.error_messages) == 5  # the first few, not one per query
    # The other generator still answers when both are asked.
    assert objective.evaluate(space, space.point(generators=2, fusion_layers=1)).errors == 0


def test_a_call_limit_makes_big_configs_infeasible(exhaustive: Exhaustive) -> None:
    task, space = exhaustive.task, exhaustive.space
    objective = task.objective(max_calls_per_query=8)
    result = BayesianSearch(seed=0).search(space, objective, 30, progress=False)
    assert result.infeasible > 0
    assert all(e.calls_per_query <= 8 and e.errors == 0 for e in result.history)
    assert max(space.worst_case_calls(e.point) for e in result.history) <= 8


def test_objective_checks_its_inputs(exhaustive: Exhaustive) -> None:
    task = exhaustive.task
    with pytest.raises(ConfigError, match="`dev_set` is empty"):
        Objective(task.clients, [], share_correct)
    with pytest.raises(ConfigError, match=r"`subsample` must be in 1 … 12"):
        task.objective(subsample=13)
    with pytest.raises(ConfigError, match="names models the objective's `clients` lack: 'gpt-4o'"):
        RandomSearch().search(task.space(critic_model="gpt-4o"), task.objective(), 3, progress=False)
    bad = Objective(task.clients, task.dev_set, lambda answer, reference: None)  # type: ignore[arg-type,return-value]
    with pytest.raises(ConfigError, match="The scorer must return a number, got None"):
        bad.evaluate(task.space(), task.space().point())


@pytest.mark.asyncio
async def test_sync_twins_refuse_a_running_loop(exhaustive: Exhaustive) -> None:
    task = exhaustive.task
    with pytest.raises(ConfigError, match=r"use `await searcher.asearch\(...\)`"):
        RandomSearch().search(task.space(), task.objective(), 3, progress=False)
    with pytest.raises(ConfigError, match=r"use `await objective.aevaluate\(...\)`"):
        task.objective().evaluate(task.space(), task.space().point())
    result = await RandomSearch().asearch(task.space(), exhaustive.objective, 3, progress=False)
    assert result.evaluations == 3
