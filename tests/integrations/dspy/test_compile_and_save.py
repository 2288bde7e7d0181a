"""A `RoutedPredict` program compiles with DSPy optimisers, and save/load keeps the router settings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import dspy
import pytest
import routerkit
from dspy.utils import DummyLM
from dspy_routerkit import RoutedPredict
from routerkit.errors import ConfigError, RouterkitWarning
from routerkit.routers.base import Router

SHORT = "What is 2 + 2?"
LONG = "Explain, step by step, how " + "a very long question " * 30

TRAINSET = [
    dspy.Example(question=f"What is {i} + {i}?", answer=f"from {'big' if i % 2 else 'small'}").with_inputs("question")
    for i in range(4)
]


def exact_answer(example: dspy.Example, prediction: dspy.Prediction, trace: object = None) -> bool:
    return bool(example.answer == prediction.answer)


def test_bootstrap_few_shot_compiles_a_routed_program(router: Router, dummy_lms: dict[str, DummyLM]) -> None:
    # Threshold 0: every call goes to "big", so only the odd examples (answer "from big") pass the metric.
    program = RoutedPredict("question -> answer", dummy_lms, router, routerkit.Threshold(0.0))
    optimizer = dspy.BootstrapFewShot(metric=exact_answer, max_bootstrapped_demos=4, max_labeled_demos=0)

    compiled = optimizer.compile(program, trainset=TRAINSET)

    assert compiled is not program and compiled._compiled
    assert [d.question for d in compiled.predict.demos] == ["What is 1 + 1?", "What is 3 + 3?"]
    assert compiled.router.policy == routerkit.Threshold(0.0)
    assert {name: len(lm.history) for name, lm in dummy_lms.items()} == {"big": 4, "small": 0}
    assert compiled(question=SHORT).route == "big"
    assert len(dummy_lms["big"].history) == 5
    # The demos reach the route's prompt.
    assert "What is 3 + 3?" in json.dumps(dummy_lms["big"].history[-1]["messages"])


def test_labeled_few_shot_compiles_and_keeps_the_policy(router: Router, dummy_lms: dict[str, DummyLM]) -> None:
    program = RoutedPredict("question -> answer", dummy_lms, router, routerkit.Threshold(1.0))

    compiled = dspy.LabeledFewShot(k=2).compile(program, trainset=TRAINSET)

    assert len(compiled.predict.demos) == 2 and compiled.router.policy == routerkit.Threshold(1.0)
    assert compiled(question=LONG).route == "small"


def test_save_and_load_keep_the_router_settings_and_the_demos(
    router: Router, dummy_lms: dict[str, DummyLM], tmp_path: Path
) -> None:
    program = RoutedPredict("question -> answer", dummy_lms, router, routerkit.Threshold(0.0))
    compiled = dspy.BootstrapFewShot(metric=exact_answer, max_labeled_demos=0).compile(program, trainset=TRAINSET)
    path = tmp_path / "program.json"

    compiled.save(str(path))
    saved = json.loads(path.read_text())
    loaded = RoutedPredict("question -> answer", dummy_lms, router)
    assert loaded(question=SHORT).route == "small"  # the router's default policy, before loading
    loaded.load(str(path))

    assert saved["router"] == {
        "router": "length",
        "router_version": "1",
        "candidates": ["big", "small"],
        "policy": {"name": "threshold", "threshold": 0.0},
    }
    assert set(saved) == {"router", "predict", "metadata"} and saved["predict"]["lm"] is None
    assert loaded.router.policy == routerkit.Threshold(0.0)
    assert [d["question"] for d in loaded.predict.demos] == ["What is 1 + 1?", "What is 3 + 3?"]
    assert loaded(question=SHORT).route == "big"


@pytest.mark.parametrize(
    "policy",
    [
        pytest.param(None, id="router-default"),
        pytest.param(routerkit.CostAware(0.25), id="cost-aware"),
        pytest.param(routerkit.Threshold(0.7), id="threshold"),
    ],
)
def test_every_policy_round_trips(router: Router, dummy_lms: dict[str, DummyLM], policy: Any) -> None:
    program = RoutedPredict("question -> answer", dummy_lms, router, policy)
    state = json.loads(json.dumps(program.dump_state()))

    fresh = RoutedPredict("question -> answer", dummy_lms, router, routerkit.Threshold(0.1))
    fresh.load_state(state)

    assert fresh.router.policy == policy


def test_loading_into_a_program_with_another_router_is_refused(
    router: Router, dummy_lms: dict[str, DummyLM], tmp_path: Path
) -> None:
    path = tmp_path / "program.json"
    RoutedPredict("question -> answer", dummy_lms, router, routerkit.Threshold(0.0)).save(str(path))
    other = routerkit.load("random", strong="big", weak="small")
    target = RoutedPredict("question -> answer", dummy_lms, other, routerkit.Threshold(0.9))

    with pytest.raises(ConfigError, match=r"saved for router 'length' .* routes with 'random'"):
        target.load(str(path))
    assert target.router.policy == routerkit.Threshold(0.9)  # untouched


COST_AWARE = {"name": "cost_aware", "weight": 1}


def test_other_candidates_are_refused_and_another_version_warns(router: Router, dummy_lms: dict[str, DummyLM]) -> None:
    state = RoutedPredict("question -> answer", dummy_lms, router).dump_state()
    program = RoutedPredict("question -> answer", dummy_lms, router)

    with pytest.raises(ConfigError, match=r"with candidates \['big', 'medium'\]"):
        program.router.load_state({**state["router"], "candidates": ["big", "medium"]})
    with pytest.warns(RouterkitWarning, match=r"version '0'; this router is version '1'"):
        program.router.load_state(
            {**state["router"], "router_version": "0", "policy": {"name": "cost_aware", "weight": 1}}
        )
    assert program.router.policy == routerkit.CostAware(1.0)


@pytest.mark.parametrize(
    ("state", "message"),
    [
        pytest.param("threshold", r"must be a dict with 'router', 'candidates'", id="not-a-dict"),
        pytest.param({"router": "length"}, r"must be a dict with 'router', 'candidates' \(a list\)", id="keys"),
        pytest.param({"candidates": "big", "policy": None}, r"'candidates' \(a list\)", id="candidates-str"),
        pytest.param({"policy": {"name": "magic"}}, r"names no known policy kind \(known: \[.*'threshold'", id="kind"),
        pytest.param({"policy": {"name": "threshold", "threshold": 2}}, r"'threshold' policy .* invalid", id="range"),
    ],
)
def test_malformed_router_state_is_refused(
    router: Router, dummy_lms: dict[str, DummyLM], state: Any, message: str
) -> None:
    program = RoutedPredict("question -> answer", dummy_lms, router)
    if isinstance(state, dict) and "policy" in state:
        state = {**program.router.dump_state(), **state}

    with pytest.raises(ConfigError, match=message):
        program.router.load_state(state)


class Pipeline(dspy.Module):  # type: ignore[misc]  # dspy ships no type information
    """A larger program: a routed step beside an ordinary predictor."""

    def __init__(self, lms: dict[str, DummyLM], router: Router) -> None:
        super().__init__()
        self.qa = RoutedPredict("question -> answer", lms, router, routerkit.Threshold(0.0))
        self.polish = dspy.Predict("draft -> answer")

    def forward(self, question: str) -> dspy.Prediction:
        return self.polish(draft=self.qa(question=question).answer)


def test_a_routed_step_inside_a_larger_program_compiles_saves_and_loads(
    router: Router, dummy_lms: dict[str, DummyLM], tmp_path: Path
) -> None:
    polisher = DummyLM({"": {"answer": "from big"}})
    optimizer = dspy.BootstrapFewShot(metric=exact_answer, max_labeled_demos=0)
    with dspy.context(lm=polisher):
        compiled = optimizer.compile(Pipeline(dummy_lms, router), trainset=TRAINSET)
    path = tmp_path / "pipeline.json"
    compiled.save(str(path))

    loaded = Pipeline(dummy_lms, router)
    loaded.qa.router.policy = routerkit.Threshold(1.0)
    loaded.load(str(path))

    assert [name for name, _ in compiled.named_predictors()] == ["qa.predict", "polish"]
    assert set(json.loads(path.read_text())) == {"qa.router", "qa.predict", "polish", "metadata"}
    assert loaded.qa.router.policy == routerkit.Threshold(0.0)
    # The metric passes the odd examples only (the polisher always answers "from big").
    assert [d["question"] for d in loaded.qa.predict.demos] == ["What is 1 + 1?", "What is 3 + 3?"]
    assert {name: len(lm.history) for name, lm in dummy_lms.items()} == {"big": 4, "small": 0}


def test_evaluate_runs_a_routed_program_in_threads(router: Router, dummy_lms: dict[str, DummyLM]) -> None:
    program = RoutedPredict("question -> answer", dummy_lms, router, routerkit.Threshold(1.0))
    evaluate = dspy.Evaluate(devset=TRAINSET, metric=exact_answer, num_threads=2, display_progress=False)

    result = evaluate(program)

    assert result.score == 50.0  # only the even examples expect "from small"
    assert {name: len(lm.history) for name, lm in dummy_lms.items()} == {"big": 0, "small": 4}
