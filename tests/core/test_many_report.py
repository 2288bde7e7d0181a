"""`routerkit eval` on many-model routers: the default policy's choices beside the baselines, by hand."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from routerkit.artifacts import ModelEntry
from routerkit.cli import main
from routerkit.data import OutcomeTable, Prompt
from routerkit.errors import ConfigError
from routerkit.eval.many_report import evaluate_many, format_many
from routerkit.routers.base import Router, Scores
from routerkit.routers.policies import CostAware

# Prompt:  0    1    2    3     (the split of prompt 3 is val: never evaluated)
A_SCORE = [1.0, 0.0, 1.0, 1.0]
B_SCORE = [0.0, 1.0, np.nan, 0.0]  # prompt 2 lacks B: dropped
C_SCORE = [1.0, 1.0, 1.0, 1.0]  # in the data, not scored by the router


class Fixed(Router):
    """Scores A high for prompts containing 'a', else B."""

    def __init__(self) -> None:
        models = [ModelEntry(name="A"), ModelEntry(name="B"), ModelEntry(name="Z")]  # Z: not in the data
        super().__init__(name="fixed", version="0", candidates=models, default_policy=CostAware(0.0), pairwise=False)

    def _score_texts(self, texts: list[str]) -> Scores:
        return np.array([[1.0, 0.0, 2.0] if "a" in t else [0.0, 1.0, 2.0] for t in texts])


def _table() -> OutcomeTable:
    prompts = tuple(
        Prompt(id=f"q{i}", text=text, task="t", hash=str(i) * 40, split=split)
        for i, (text, split) in enumerate([("a", "test"), ("b", "test"), ("a", "test"), ("b", "val")])
    )
    scores = np.array([A_SCORE, B_SCORE, C_SCORE]).T
    costs = np.tile([1.0, 2.0, 3.0], (4, 1))
    return OutcomeTable("toy", prompts, ("A", "B", "C"), scores, np.full((4, 3), np.nan), costs)


def test_choices_and_baselines_by_hand() -> None:
    report = evaluate_many(Fixed(), _table(), progress=False)
    assert report.models == ("A", "B") and report.n == 2 and report.dropped == 1  # Z and C are not compared
    # Prompt 0 ('a') → A, right; prompt 1 ('b') → B, right. Z scores highest but is not in the data.
    assert report.routed == 1.0 and report.routed_cost == 1.5
    np.testing.assert_allclose(report.singles, [0.5, 0.5])
    np.testing.assert_allclose(report.shares, [0.5, 0.5])
    assert report.random_same_shares == 0.5 and report.oracle == 1.0 and report.best == 0
    text = format_many(report)
    assert "1 prompts dropped" in text and "best single: A" in text and "1500.000" in text  # USD per 1k prompts


def test_refusals() -> None:
    from routerkit.routers.baselines import LengthRouter

    with pytest.raises(ConfigError, match="strong/weak"):
        evaluate_many(LengthRouter(), _table())
    with pytest.raises(ConfigError, match="no 'train' prompts"):
        evaluate_many(Fixed(), _table(), split="train")


def test_cli_reports_a_shipped_many_model_router(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "--router", "embedllm_llmrouter", "--dataset", "llmrouter"]) == 0
    out = capsys.readouterr().out
    assert "llmrouter (test): 909 prompts, 9 models" in out
    for row in ("embedllm_llmrouter", "random, same model shares", "best single: ", "oracle"):
        assert row in out
