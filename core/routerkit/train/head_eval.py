"""Routed accuracy of a many-model head on one split, beside its baselines (numpy only).

The outcome tables have gaps (NaN where a source has no result). A split is evaluated on a complete
sub-matrix: models missing on more than `MAX_MISSING_SHARE` of its prompts are dropped, then prompts
still missing any kept model. Routed choices, best single model, oracle and random router are all
computed on that same sub-matrix, and the choice is restricted to its models (the "allowed models"
constraint), so every figure compares like with like.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from routerkit.data import OutcomeTable
from routerkit.routers.base import Router
from routerkit.routers.policies import CostAware

__all__ = [
    "MAX_MISSING_SHARE",
    "EvalSplit",
    "accuracy_of",
    "cost_per_1k",
    "eval_split",
    "expected_costs",
    "routed_choice",
    "tune_cost_weight",
]

MAX_MISSING_SHARE = 0.05
Matrix = npt.NDArray[np.float64]


@dataclass(frozen=True)
class EvalSplit:
    """One split's complete outcome sub-matrix and its embeddings."""

    texts: list[str]
    embeddings: npt.NDArray[np.float32]
    scores: Matrix
    """True outcomes `[n, n_kept_models]`, no NaN."""
    columns: npt.NDArray[np.int64]
    """The kept models' columns in the table (= the head's columns)."""
    dropped_prompts: int

    def baselines(self) -> dict[str, float]:
        """Best single model, oracle (any kept model right) and uniformly random model: mean score."""
        return {
            "best_single_accuracy": float(self.scores.mean(0).max()),
            "oracle_accuracy": float(self.scores.max(1).mean()),
            "random_accuracy": float(self.scores.mean()),
        }


def eval_split(table: OutcomeTable, embeddings: npt.NDArray[np.float32], split: str) -> EvalSplit:
    """The complete sub-matrix of `table`'s `split` (module docstring); `embeddings` are row-aligned with `table`."""
    rows = np.array([i for i, p in enumerate(table.prompts) if p.split == split], dtype=np.int64)
    missing = np.isnan(table.scores[rows])
    columns = np.flatnonzero(missing.mean(0) <= MAX_MISSING_SHARE)
    complete = ~missing[:, columns].any(1)
    kept = rows[complete]
    return EvalSplit(
        texts=[table.prompts[i].text for i in kept],
        embeddings=embeddings[kept],
        scores=table.scores[np.ix_(kept, columns)],
        columns=columns,
        dropped_prompts=int((~complete).sum()),
    )


def expected_costs(router: Router, data: EvalSplit) -> Matrix:
    """The router's run-time cost estimate of each kept model per prompt, `[n, n_kept]` (NaN if unpriced).

    The datasets' measured costs are often missing (e.g. `llmrouter` has no output lengths), so the
    policy and the reported costs both use what the router knows before the call: prices × (prompt
    tokens ≈ characters / 4, and the model's mean output tokens on the training data).
    """
    rows = [router.expected_costs(text) for text in data.texts]
    return np.array([[np.nan if row[c] is None else row[c] for c in data.columns] for row in rows], dtype=np.float64)


def routed_choice(router: Router, data: EvalSplit, quality: Matrix, weight: float) -> npt.NDArray[np.int64]:
    """Index (into `data.columns`) chosen per prompt by `CostAware(weight)` among the kept models.

    The choice is the one the router makes at run time when restricted to these models.
    """
    policy = CostAware(weight)
    costs = expected_costs(router, data)
    picks = np.empty(len(data.texts), dtype=np.int64)
    for i in range(picks.size):
        row_costs = [None if np.isnan(c) else float(c) for c in costs[i]]
        picks[i] = policy.choose(quality[i, data.columns], row_costs, pairwise=False)
    return picks


def accuracy_of(data: EvalSplit, picks: npt.NDArray[np.int64]) -> float:
    """Mean true score of the chosen models."""
    return float(data.scores[np.arange(picks.size), picks].mean())


def cost_per_1k(costs: Matrix, picks: npt.NDArray[np.int64]) -> float:
    """Estimated cost of 1,000 prompts answered by the picked models (NaN if any is unpriced)."""
    return float(costs[np.arange(picks.size), picks].mean() * 1000)


def priced(router: Router, data: EvalSplit) -> bool:
    """Whether every kept model has a price (else only weight 0 is meaningful)."""
    return all(c is not None for c in (router.expected_costs("x")[j] for j in data.columns))


def tune_cost_weight(
    router: Router, data: EvalSplit, quality: Matrix, weights: tuple[float, ...], tolerance: float
) -> tuple[float, float]:
    """The largest weight whose accuracy on `data` is within `tolerance` of the best; returns (weight, accuracy).

    Only weight 0 is tried when a model is unpriced (`CostAware` cannot weigh an unknown price).
    """
    candidates = sorted(set(weights) | {0.0}) if priced(router, data) else [0.0]
    accuracy = {w: accuracy_of(data, routed_choice(router, data, quality, w)) for w in candidates}
    best = max(accuracy.values())
    chosen = max(w for w, a in accuracy.items() if a >= best - tolerance)
    return chosen, accuracy[chosen]
