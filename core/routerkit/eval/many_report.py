"""`routerkit eval` for many-model routers: routed accuracy and cost beside best single, random and oracle.

A many-model router (`knn`, `embedllm`, `zooter`, or any router whose `scores()` has one column per
model) is evaluated on the prompts of one split of a dataset, with its default policy, over the models
it scores that the dataset has outcomes for. The baselines use exactly the same prompts and models:
every single model, the best of them, the oracle (the best score per prompt) and the random router
that uses the models in the same shares as the router (its exact expectation). Prompts without an
outcome for one of those models are dropped and counted. For the full picture (cost curves, AIQ,
bootstrap intervals) see `routerkit.eval.many_model` and `make bench-quality`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from routerkit.data.format import OutcomeTable, load_dataset
from routerkit.errors import ConfigError
from routerkit.eval.cache import cached_scores
from routerkit.routers.base import Router

__all__ = ["ManyModelReport", "evaluate_many", "format_many"]

Vector = npt.NDArray[np.float64]


@dataclass(frozen=True)
class ManyModelReport:
    """One many-model router on one split of a dataset, with its baselines."""

    router: str
    dataset: str
    split: str
    models: tuple[str, ...]
    """The candidates evaluated: scored by the router and measured in the dataset."""
    n: int
    dropped: int
    """Prompts of the split left out because an evaluated model has no outcome on them."""
    routed: float
    """Mean score of the router's choices."""
    routed_cost: float
    """Mean USD paid per prompt for the router's choices (NaN if some cost is unknown)."""
    singles: Vector
    """Mean score of each model, in `models` order."""
    single_costs: Vector
    shares: Vector
    """Share of prompts the router sent to each model."""
    oracle: float

    @property
    def best(self) -> int:
        """Index of the best single model (ties: the first)."""
        return int(np.argmax(self.singles))

    @property
    def random_same_shares(self) -> float:
        """Expected score of a random router that uses each model in the router's shares."""
        return float(self.shares @ self.singles)


def evaluate_many(
    router: Router, dataset: str | OutcomeTable, *, split: str = "test", progress: bool = True
) -> ManyModelReport:
    """Evaluate `router`'s default-policy choices on `split` of `dataset` against the baselines.

    Raises:
        ConfigError: for a strong/weak router, a split with no prompts, or no model in common.
    """
    if router.pairwise:
        raise ConfigError(f"Router {router.name!r} is a strong/weak router: use `routerkit.eval.evaluate`.")
    table = dataset if isinstance(dataset, OutcomeTable) else load_dataset(dataset)
    part = table.split(split)
    if not len(part):
        raise ConfigError(f"Dataset {table.name!r} has no {split!r} prompts to evaluate on.")
    names = [m.name for m in router.candidates]
    models = [m for m in names if m in part.models]
    if not models:
        raise ConfigError(
            f"Router {router.name!r} scores none of the models of {table.name!r} (it scores {names}; the data has "
            f"{list(part.models)}). Evaluate it on data of its own models."
        )
    scores = part.scores[:, [part.models.index(m) for m in models]]
    costs = part.cost_usd[:, [part.models.index(m) for m in models]]
    keep = np.flatnonzero(~np.isnan(scores).any(axis=1))
    texts = [part.prompts[i].text for i in keep]
    predicted = cached_scores(router, texts, progress=progress)[:, [names.index(m) for m in models]]
    choice = _choices(router, texts, predicted, [names.index(m) for m in models])
    rows = np.arange(len(keep))
    return ManyModelReport(
        router=router.name,
        dataset=table.name,
        split=split,
        models=tuple(models),
        n=len(keep),
        dropped=len(part) - len(keep),
        routed=float(scores[keep][rows, choice].mean()),
        routed_cost=float(costs[keep][rows, choice].mean()),
        singles=scores[keep].mean(axis=0),
        single_costs=costs[keep].mean(axis=0),
        shares=np.bincount(choice, minlength=len(models)) / len(keep),
        oracle=float(scores[keep].max(axis=1).mean()),
    )


def _choices(router: Router, texts: list[str], predicted: Vector, columns: list[int]) -> npt.NDArray[np.intp]:
    """The router's default policy applied to the evaluated models only (the allowed-models constraint)."""
    policy = router.default_policy
    picks = []
    for text, row in zip(texts, predicted, strict=True):
        costs = router.expected_costs(text)
        picks.append(policy.choose(row, [costs[j] for j in columns], pairwise=False))
    return np.asarray(picks, dtype=np.intp)


def format_many(report: ManyModelReport) -> str:
    """The report as a plain-text table: router, random with the same shares, best single, oracle."""
    best = report.best
    rows = [
        (report.router, report.routed, report.routed_cost),
        ("random, same model shares", report.random_same_shares, float(report.shares @ report.single_costs)),
        (f"best single: {report.models[best]}", float(report.singles[best]), float(report.single_costs[best])),
        ("oracle", report.oracle, float("nan")),
    ]
    width = max(len(label) for label, _, _ in rows) + 2
    dropped = f", {report.dropped} prompts dropped (an outcome missing)" if report.dropped else ""
    lines = [
        f"{report.dataset} ({report.split}): {report.n} prompts, {len(report.models)} models{dropped}",
        f"{'':{width}}accuracy  USD per 1k prompts",
    ]
    for label, accuracy, cost in rows:
        paid = "–" if np.isnan(cost) else f"{cost * 1000:.3f}"
        lines.append(f"{label:{width}}{accuracy:8.3f}  {paid}")
    return "\n".join(lines)
