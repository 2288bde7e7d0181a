"""Many-model cost–accuracy curves and what is read off them: RouterBench's hull and AIQ, gap closed, savings.

`aiq` is RouterBench's AIQ (Hu et al. 2024, arXiv 2403.12031): the area under the non-decreasing
convex hull R̃(c) of a curve's (cost, accuracy) points over a cost range, divided by that range. R̃(c)
is the best accuracy reachable by randomising between operating points with mean cost ≤ c: the upper
concave hull up to the most accurate point, flat after it, and 0 below the curve's cheapest point
(the router cannot operate there). Compare routers over the same range: from the cheapest to the
most expensive single model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from routerkit.errors import ConfigError

__all__ = ["ManyCurve", "Point", "aiq", "cost_saving", "gap_closed", "nondecreasing_hull"]

Vector = npt.NDArray[np.float64]

_TOLERANCE = 1e-12
"""Slack for comparing mean accuracies with a target."""


@dataclass(frozen=True)
class Point:
    """One operating point: mean cost per prompt (USD) and mean accuracy."""

    cost: float
    """Mean cost paid per prompt."""
    accuracy: float
    """Mean quality of the chosen answers."""


@dataclass(frozen=True, eq=False)
class ManyCurve:
    """Operating points of a strategy, in sweep order (λ rising: accuracy first, then cheaper)."""

    cost: Vector
    """Mean cost paid per prompt at each point."""
    accuracy: Vector
    """Mean accuracy at each point."""
    weight: Vector
    """A cost weight λ that gives each point with `route` (NaN for points no λ gives)."""

    def __len__(self) -> int:
        return len(self.cost)

    def point(self, k: int) -> Point:
        """The k-th point."""
        return Point(float(self.cost[k]), float(self.accuracy[k]))


def nondecreasing_hull(curve: ManyCurve) -> ManyCurve:
    """RouterBench's non-decreasing convex hull: the vertices of the best accuracy reachable within each cost.

    The upper concave hull of the points, sorted by cost and cut after its most accurate vertex
    (beyond it the hull is flat). Mixing two points at random reaches any point between them.
    """
    order = np.lexsort((-curve.accuracy, curve.cost))
    hull: list[int] = []
    for k in order:
        if hull and curve.cost[hull[-1]] == curve.cost[k]:
            continue  # same cost, less accurate (sorted so)
        while len(hull) >= 2 and _not_below(curve, hull[-2], hull[-1], int(k)):
            hull.pop()
        hull.append(int(k))
    top = int(np.argmax(curve.accuracy[hull]))
    keep = np.array(hull[: top + 1], dtype=np.intp)
    return ManyCurve(curve.cost[keep], curve.accuracy[keep], curve.weight[keep])


def aiq(curve: ManyCurve, low: float, high: float) -> float:
    """RouterBench's AIQ: the mean of the non-decreasing convex hull R̃(c) over costs in [`low`, `high`].

    Use the cheapest and the most expensive single model's mean cost as `low` and `high`, the same
    for every router compared. R̃ is 0 below the curve's cheapest point and flat after its best.

    Raises:
        ConfigError: if `high` ≤ `low` or either is not finite.
    """
    if not (np.isfinite(low) and np.isfinite(high) and high > low):
        raise ConfigError(
            f"AIQ needs a cost range with `low` < `high`, got [{low!r}, {high!r}]. Use the cheapest and the "
            "most expensive single model's mean cost (models of different prices)."
        )
    hull = nondecreasing_hull(curve)
    start = max(low, float(hull.cost[0]))
    if start >= high:
        return 0.0
    inner = hull.cost[(hull.cost > start) & (hull.cost < high)]
    x = np.concatenate(([start], inner, [high]))
    y = np.interp(x, hull.cost, hull.accuracy)  # clamps right of the hull: flat at the best accuracy
    return float(np.sum(np.diff(x) * (y[1:] + y[:-1]) / 2) / (high - low))


def gap_closed(accuracy: float, best_single: float, oracle: float) -> float:
    """The share of the best-single → oracle accuracy gap reached: (acc − best) / (oracle − best).

    Raises:
        ConfigError: if the oracle is not more accurate than the best single model (no gap).
    """
    if not oracle > best_single:
        raise ConfigError(
            f"The oracle ({oracle!r}) is not more accurate than the best single model ({best_single!r}): "
            "there is no gap to close. Evaluate on more prompts or more models."
        )
    return (accuracy - best_single) / (oracle - best_single)


def cost_saving(curve: ManyCurve, reference: Point) -> float:
    """1 − cost / reference cost at the cheapest point of `curve` as accurate as `reference` (no mixing).

    Returns:
        The saving (negative when that point costs more), or NaN when no point is that accurate.
    """
    k = _cheapest_reaching(curve, reference.accuracy)
    return float("nan") if k is None else 1.0 - float(curve.cost[k]) / reference.cost


# ----------------------------------------------------------------------------------- internals


def _not_below(curve: ManyCurve, i: int, j: int, k: int) -> bool:
    """Whether point j lies on or below the segment from point i to point k (costs i < j < k)."""
    x, y = curve.cost, curve.accuracy
    return bool((y[k] - y[i]) * (x[j] - x[i]) - (y[j] - y[i]) * (x[k] - x[i]) >= 0)


def _most_accurate(curve: ManyCurve) -> int:
    """The cheapest of the most accurate points."""
    k = _cheapest_reaching(curve, float(curve.accuracy.max()))
    assert k is not None  # the maximum always reaches itself
    return k


def _cheapest_reaching(curve: ManyCurve, target: float) -> int | None:
    """The cheapest point whose accuracy reaches `target` (None when none does)."""
    reached = np.flatnonzero(curve.accuracy >= target - _TOLERANCE * max(1.0, abs(target)))
    return None if reached.size == 0 else int(reached[np.argmin(curve.cost[reached])])
