"""Offline cost–accuracy curves of a weak/strong pair: direct routing against a deferral cascade.

Both strategies answer each prompt with the weak or the strong model; they differ in what is paid.

- **Routing** decides before any model runs: the strong model answers iff `score >= threshold`, and
  only the chosen model is paid.
- **Cascade** always runs the weak model first and pays for it; it defers iff
  `confidence < threshold`, and then the strong model answers too (weak + strong are paid, the
  strong answer counts).

A cascade whose confidence is `1 − score` makes the same decisions as routing on `score` and costs
more by exactly the weak model's cost on the deferred prompts. Its advantage can only come from a
confidence that sees the weak model's answer. Curves are in money, not in strong-call shares: x is
the mean cost per prompt, y the mean accuracy.

Every sweep is tie-safe (prompts with equal scores always take the same branch), so a curve has one
point per group of tied scores. Two adjacent points can be mixed by randomising between their
thresholds, so `cost_to_reach` and `accuracy_at_cost` interpolate linearly between the points of
the curve's cost–accuracy envelope.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from routerkit.errors import ConfigError
from routerkit.eval.metrics import _check_count, _finite, _vector

__all__ = [
    "CostCurve",
    "OperatingPoint",
    "PairOutcomes",
    "accuracy_at_cost",
    "cascade_at",
    "cascade_curve",
    "cost_to_reach",
    "envelope",
    "oracle_cascade_curve",
    "oracle_routing_curve",
    "random_cascade_curve",
    "random_routing_curve",
    "routing_at",
    "routing_curve",
    "single_model_point",
    "threshold_to_reach",
]

Vector = npt.NDArray[np.float64]
Indices = npt.NDArray[np.intp]

_TOLERANCE = 1e-12
"""Slack for comparing mean accuracies (sums of 0/1 outcomes divided by n) with a target."""


# ---------------------------------------------------------------------------------------- data


@dataclass(frozen=True, init=False, eq=False)
class PairOutcomes:
    """What the weak and the strong model scored and cost on each prompt, in the same order.

    Args:
        weak_score: quality of the weak model's answer per prompt, in [0, 1] (e.g. 0/1 correctness).
        strong_score: quality of the strong model's answer per prompt, in [0, 1].
        weak_cost: what the weak model's call cost per prompt (e.g. USD), ≥ 0.
        strong_cost: what the strong model's call cost per prompt, ≥ 0, in the unit of `weak_cost`.

    Raises:
        ConfigError: naming the argument, if an array is not 1-D, is empty, holds NaN or inf, the
            lengths differ, a score lies outside [0, 1] or a cost is negative.
    """

    weak_score: Vector
    """Quality of the weak model's answer per prompt."""
    strong_score: Vector
    """Quality of the strong model's answer per prompt."""
    weak_cost: Vector
    """Cost of the weak model's call per prompt."""
    strong_cost: Vector
    """Cost of the strong model's call per prompt."""

    def __init__(
        self,
        weak_score: npt.ArrayLike,
        strong_score: npt.ArrayLike,
        weak_cost: npt.ArrayLike,
        strong_cost: npt.ArrayLike,
    ) -> None:
        hint = "Pass one value per prompt for both models, in the same prompt order."
        given = {"weak_score": weak_score, "strong_score": strong_score, "weak_cost": weak_cost}
        arrays = {name: _finite(name, values, hint) for name, values in (*given.items(), ("strong_cost", strong_cost))}
        n = len(arrays["weak_score"])
        for name, array in arrays.items():
            if len(array) != n:
                raise ConfigError(f"`{name}` has {len(array)} values but `weak_score` has {n}. {hint}")
            is_cost = name.endswith("cost")
            _check_range(
                name, array, upper=np.inf if is_cost else 1.0, what="a cost ≥ 0" if is_cost else "a quality in [0, 1]"
            )
            object.__setattr__(self, name, array)

    def __len__(self) -> int:
        return len(self.weak_score)

    def take(self, indices: npt.ArrayLike) -> PairOutcomes:
        """The outcomes of the prompts at `indices` (repeats allowed, as in a bootstrap resample)."""
        rows = np.asarray(indices, dtype=np.intp)
        picked = (self.weak_score, self.strong_score, self.weak_cost, self.strong_cost)
        return PairOutcomes(*(values[rows] for values in picked))


@dataclass(frozen=True, init=False, eq=False)
class CostCurve:
    """Operating points of one strategy: mean cost per prompt against mean accuracy.

    Points are in sweep order (for a sweep: from no strong calls to all); a single point describes
    a fixed strategy such as "weak model only".

    Args:
        cost: mean cost per prompt at each point (what was paid, weak and strong), ≥ 0.
        accuracy: mean quality of the answers that count at each point.
        strong_rate: fraction of prompts the strong model answered at each point, in [0, 1].
        threshold: the threshold that gives each point (routing: strong iff score ≥ it; cascade:
            defer iff confidence < it); NaN where none applies (random and single-model curves).

    Raises:
        ConfigError: if the arrays differ in length or are empty, a cost is negative or not finite,
            an accuracy is not finite, or a strong rate lies outside [0, 1].
    """

    cost: Vector
    """Mean cost per prompt at each point."""
    accuracy: Vector
    """Mean quality of the answers that count at each point."""
    strong_rate: Vector
    """Fraction of prompts the strong model answered at each point."""
    threshold: Vector
    """The threshold that gives each point (NaN where none applies)."""

    def __init__(
        self, cost: npt.ArrayLike, accuracy: npt.ArrayLike, strong_rate: npt.ArrayLike, threshold: npt.ArrayLike
    ) -> None:
        hint = "Build curves with `routing_curve`, `cascade_curve` or the baseline functions."
        given = {"cost": cost, "accuracy": accuracy, "strong_rate": strong_rate}
        arrays = {name: _finite(name, values, hint) for name, values in given.items()}
        arrays["threshold"] = _vector("threshold", threshold, hint)
        for name, array in arrays.items():
            if array.shape != arrays["cost"].shape:
                raise ConfigError(f"`{name}` has {len(array)} points but `cost` has {len(arrays['cost'])}. {hint}")
            object.__setattr__(self, name, array)
        _check_range("cost", arrays["cost"], upper=np.inf, what="a cost ≥ 0")
        _check_range("strong_rate", arrays["strong_rate"], upper=1.0, what="a rate in [0, 1]")

    def __len__(self) -> int:
        return len(self.cost)


@dataclass(frozen=True)
class OperatingPoint:
    """One point read off a curve; every field is NaN when the curve cannot reach it."""

    cost: float
    """Mean cost per prompt."""
    accuracy: float
    """Mean accuracy."""
    strong_rate: float
    """Fraction of prompts the strong model answered."""

    @property
    def reached(self) -> bool:
        """Whether the curve reaches this point (False when the fields are NaN)."""
        return not np.isnan(self.cost)


_UNREACHED = OperatingPoint(float("nan"), float("nan"), float("nan"))


# -------------------------------------------------------------------------------------- curves


def routing_curve(scores: npt.ArrayLike, pair: PairOutcomes) -> CostCurve:
    """Direct routing: the strong model answers iff `score >= threshold`; only it is paid.

    The sweep sends the highest-scoring prompts strong first, one tie group at a time, from no
    strong calls (threshold +inf) to all.

    Args:
        scores: per prompt, e.g. a router's P(strong beats weak); higher → strong model.
        pair: the outcomes of the two models on the same prompts.

    Returns:
        One point per tie-group boundary (n + 1 points without ties).

    Raises:
        ConfigError: if `scores` is not 1-D finite numbers, one per prompt of `pair`.
    """
    x = _decision_values("scores", scores, len(pair))
    order = np.argsort(-x, kind="stable")
    counts = _group_ends(x[order])
    gained = _prefix((pair.strong_score - pair.weak_score)[order])[counts]
    extra = _prefix((pair.strong_cost - pair.weak_cost)[order])[counts]
    n = len(pair)
    threshold = np.concatenate(([np.inf], x[order][counts[1:] - 1]))
    return CostCurve(
        cost=(pair.weak_cost.sum() + extra) / n,
        accuracy=(pair.weak_score.sum() + gained) / n,
        strong_rate=counts / n,
        threshold=threshold,
    )


def cascade_curve(confidence: npt.ArrayLike, pair: PairOutcomes) -> CostCurve:
    """Deferral cascade: the weak model always answers (and is paid); defer iff `confidence < threshold`.

    A deferred prompt is answered again by the strong model, whose answer counts, and both calls
    are paid. The sweep defers the least confident prompts first, one tie group at a time.

    Args:
        confidence: per prompt, how much the weak answer is trusted; lower → deferred first.
        pair: the outcomes of the two models on the same prompts.

    Returns:
        One point per tie-group boundary, from no deferral (threshold −inf) to deferring all.

    Raises:
        ConfigError: if `confidence` is not 1-D finite numbers, one per prompt of `pair`.
    """
    c = _decision_values("confidence", confidence, len(pair))
    order = np.argsort(c, kind="stable")
    counts = _group_ends(c[order])
    gained = _prefix((pair.strong_score - pair.weak_score)[order])[counts]
    extra = _prefix(pair.strong_cost[order])[counts]
    n = len(pair)
    # Deferring the first k sorted prompts: the threshold is the next confidence (+inf after all).
    threshold = np.append(c[order], np.inf)[counts]
    threshold[0] = -np.inf
    return CostCurve(
        cost=(pair.weak_cost.sum() + extra) / n,
        accuracy=(pair.weak_score.sum() + gained) / n,
        strong_rate=counts / n,
        threshold=threshold,
    )


def oracle_routing_curve(pair: PairOutcomes) -> CostCurve:
    """Routing that knows the outcomes: strong first where it gains the most quality over weak.

    With 0/1 scores its middle point sends the cheapest correct model of the pair (weak where weak
    is right or both are wrong, strong where only strong is right).

    Args:
        pair: the outcomes of the two models.

    Returns:
        `routing_curve` of the per-prompt gain `strong_score − weak_score`.
    """
    return routing_curve(pair.strong_score - pair.weak_score, pair)


def oracle_cascade_curve(pair: PairOutcomes) -> CostCurve:
    """A cascade whose confidence is the weak answer's own quality: defers exactly the wrong answers.

    No confidence estimator that judges the weak answer can do better: its middle point defers
    every wrong weak answer and nothing else (it pays for deferrals where the strong model is
    wrong too, because a confidence about the weak answer cannot know that).

    Args:
        pair: the outcomes of the two models.

    Returns:
        `cascade_curve` with `confidence = weak_score`.
    """
    return cascade_curve(pair.weak_score, pair)


def random_routing_curve(pair: PairOutcomes, points: int = 101) -> CostCurve:
    """The expected curve of routing each prompt strong with probability p, for p from 0 to 1.

    Exact expectation (no sampling): a straight line from weak-only to strong-only.

    Args:
        pair: the outcomes of the two models.
        points: number of probabilities p = i / (points − 1), at least 2.

    Raises:
        ConfigError: if `points` < 2.
    """
    p = _probabilities(points)
    weak_cost, weak_score = pair.weak_cost.mean(), pair.weak_score.mean()
    return CostCurve(
        cost=weak_cost + p * (pair.strong_cost.mean() - weak_cost),
        accuracy=weak_score + p * (pair.strong_score.mean() - weak_score),
        strong_rate=p,
        threshold=np.full_like(p, np.nan),
    )


def random_cascade_curve(pair: PairOutcomes, points: int = 101) -> CostCurve:
    """The expected curve of deferring each prompt with probability p (weak always paid).

    Args:
        pair: the outcomes of the two models.
        points: number of probabilities p = i / (points − 1), at least 2.

    Raises:
        ConfigError: if `points` < 2.
    """
    p = _probabilities(points)
    weak_score = pair.weak_score.mean()
    return CostCurve(
        cost=pair.weak_cost.mean() + p * pair.strong_cost.mean(),
        accuracy=weak_score + p * (pair.strong_score.mean() - weak_score),
        strong_rate=p,
        threshold=np.full_like(p, np.nan),
    )


def single_model_point(score: npt.ArrayLike, cost: npt.ArrayLike, *, strong: bool) -> CostCurve:
    """A one-point curve for always using one model (e.g. weak only, or the best single model).

    Args:
        score: the model's quality per prompt, in [0, 1].
        cost: the model's cost per prompt, ≥ 0.
        strong: whether the point counts as strong calls (strong rate 1) or not (0).

    Raises:
        ConfigError: for empty, mismatched, non-finite or out-of-range values.
    """
    hint = "Pass the model's quality and cost per prompt, in the same prompt order."
    quality, paid = _finite("score", score, hint), _finite("cost", cost, hint)
    if len(quality) != len(paid):
        raise ConfigError(f"`score` has {len(quality)} values but `cost` has {len(paid)}. {hint}")
    _check_range("score", quality, upper=1.0, what="a quality in [0, 1]")
    _check_range("cost", paid, upper=np.inf, what="a cost ≥ 0")
    return CostCurve(
        cost=np.array([paid.mean()]),
        accuracy=np.array([quality.mean()]),
        strong_rate=np.array([1.0 if strong else 0.0]),
        threshold=np.array([np.nan]),
    )


# ------------------------------------------------------------------------------ fixed thresholds


def routing_at(scores: npt.ArrayLike, pair: PairOutcomes, threshold: float) -> OperatingPoint:
    """Route with one fixed threshold (strong iff `score >= threshold`), e.g. one chosen on `val`.

    Raises:
        ConfigError: for bad `scores` or a NaN `threshold`.
    """
    strong = _decision_values("scores", scores, len(pair)) >= _threshold(threshold)
    return OperatingPoint(
        cost=float(np.where(strong, pair.strong_cost, pair.weak_cost).mean()),
        accuracy=float(np.where(strong, pair.strong_score, pair.weak_score).mean()),
        strong_rate=float(strong.mean()),
    )


def cascade_at(confidence: npt.ArrayLike, pair: PairOutcomes, threshold: float) -> OperatingPoint:
    """Run the cascade with one fixed threshold (defer iff `confidence < threshold`).

    Raises:
        ConfigError: for bad `confidence` or a NaN `threshold`.
    """
    defer = _decision_values("confidence", confidence, len(pair)) < _threshold(threshold)
    return OperatingPoint(
        cost=float((pair.weak_cost + np.where(defer, pair.strong_cost, 0.0)).mean()),
        accuracy=float(np.where(defer, pair.strong_score, pair.weak_score).mean()),
        strong_rate=float(defer.mean()),
    )


def threshold_to_reach(curve: CostCurve, target: float) -> float:
    """The threshold of the cheapest point of `curve` whose accuracy reaches `target` (no mixing).

    Use it on a `val` curve to fix the threshold that `routing_at` / `cascade_at` apply to `test`.

    Returns:
        The threshold, or NaN if no point reaches `target` (or the points have no thresholds).

    Raises:
        ConfigError: if `target` is not finite.
    """
    reached = np.flatnonzero(curve.accuracy >= _target(target) - _TOLERANCE)
    if reached.size == 0:
        return float("nan")
    return float(curve.threshold[reached[np.argmin(curve.cost[reached])]])


# ----------------------------------------------------------------------------------- summaries


def envelope(curve: CostCurve) -> CostCurve:
    """The cost–accuracy frontier of `curve`: its points sorted by cost, each more accurate than the last.

    A point is kept only if no cheaper (or equally cheap) point is at least as accurate; points of
    equal cost keep the most accurate one.
    """
    order = np.lexsort((-curve.accuracy, curve.cost))
    accuracy = curve.accuracy[order]
    best_before = np.concatenate(([-np.inf], np.maximum.accumulate(accuracy)[:-1]))
    keep = order[accuracy > best_before]
    return CostCurve(curve.cost[keep], curve.accuracy[keep], curve.strong_rate[keep], curve.threshold[keep])


def cost_to_reach(curve: CostCurve, target: float) -> OperatingPoint:
    """The cheapest operating point whose mean accuracy reaches `target`.

    Read off the `envelope`, interpolating linearly between its two points that bracket the target
    (reachable by randomising between their thresholds).

    Args:
        curve: any cost curve.
        target: the accuracy to reach, e.g. 0.95 × the strong model's accuracy.

    Returns:
        The point (its `accuracy` equals `target` when interpolated), or NaN fields if the curve
        never reaches `target`.

    Raises:
        ConfigError: if `target` is not finite.
    """
    front = envelope(curve)
    goal = _target(target)
    reached = np.flatnonzero(front.accuracy >= goal - _TOLERANCE * max(1.0, abs(goal)))
    if reached.size == 0:
        return _UNREACHED
    j = int(reached[0])
    if j == 0:
        return _point(front, 0)
    fraction = (goal - front.accuracy[j - 1]) / (front.accuracy[j] - front.accuracy[j - 1])
    return _mix(front, j - 1, min(1.0, max(0.0, fraction)))


def accuracy_at_cost(curve: CostCurve, budget: float) -> OperatingPoint:
    """The most accurate operating point whose mean cost stays within `budget`.

    Read off the `envelope`, interpolating linearly between its two points that bracket the budget.

    Args:
        curve: any cost curve.
        budget: the mean cost per prompt allowed.

    Returns:
        The point, or NaN fields if even the cheapest point costs more than `budget`.

    Raises:
        ConfigError: if `budget` is not finite.
    """
    front = envelope(curve)
    limit = _target(budget, name="budget")
    within = np.flatnonzero(front.cost <= limit * (1 + _TOLERANCE))
    if within.size == 0:
        return _UNREACHED
    j = int(within[-1])
    if j == len(front) - 1:
        return _point(front, j)
    fraction = (limit - front.cost[j]) / (front.cost[j + 1] - front.cost[j])
    return _mix(front, j, min(1.0, max(0.0, fraction)))


# ----------------------------------------------------------------------------------- internals


def _check_range(name: str, values: Vector, *, upper: float, what: str) -> None:
    """Refuse values below 0 or above `upper`, naming the first offender."""
    bad = np.flatnonzero((values < 0) | (values > upper))
    if bad.size:
        raise ConfigError(
            f"`{name}` has {bad.size} value(s) that are not {what} (first: {float(values[bad[0]])!r} at "
            f"index {int(bad[0])}). Fix or drop those prompts."
        )


def _decision_values(name: str, values: npt.ArrayLike, n: int) -> Vector:
    """Validated scores or confidences: finite, one per prompt."""
    array = _finite(name, values, "For a router's `scores()` matrix of shape (n, 1) pass `scores[:, 0]`.")
    if len(array) != n:
        raise ConfigError(
            f"`{name}` has {len(array)} values but the outcomes have {n} prompts. Pass one value per "
            "prompt, in the order of the outcomes."
        )
    return array


def _threshold(value: float) -> float:
    """A threshold that is a number (±inf allowed: never / always)."""
    if np.isnan(value):
        raise ConfigError("`threshold` is NaN. Pick it with `threshold_to_reach` and check it is not NaN first.")
    return float(value)


def _target(value: float, *, name: str = "target") -> float:
    """A finite target accuracy or budget."""
    if not np.isfinite(value):
        raise ConfigError(f"`{name}` must be a finite number, got {float(value)!r}.")
    return float(value)


def _probabilities(points: int) -> Vector:
    """i / (points − 1) for i = 0 … points − 1."""
    _check_count("points", points, minimum=2)
    return np.linspace(0.0, 1.0, points)


def _prefix(values: Vector) -> Vector:
    """Cumulative sums with a leading 0: entry k is the sum of the first k values."""
    return np.concatenate(([0.0], np.cumsum(values)))


def _group_ends(ordered: Vector) -> Indices:
    """0, the end of each run of equal values in `ordered`, and n: the tie-safe decision counts."""
    ends = np.flatnonzero(ordered[1:] != ordered[:-1]) + 1
    return np.concatenate(([0], ends, [len(ordered)])).astype(np.intp)


def _point(curve: CostCurve, j: int) -> OperatingPoint:
    return OperatingPoint(float(curve.cost[j]), float(curve.accuracy[j]), float(curve.strong_rate[j]))


def _mix(curve: CostCurve, j: int, fraction: float) -> OperatingPoint:
    """The point `fraction` of the way from point j to point j + 1 (a randomised mixture of the two)."""

    def between(values: Vector) -> float:
        return float(values[j] + fraction * (values[j + 1] - values[j]))

    return OperatingPoint(between(curve.cost), between(curve.accuracy), between(curve.strong_rate))
