"""Many-model routing metrics: cost-aware routing sweeps, AIQ, gap closed, cost saving, baselines.

Inputs are three prompt × model matrices in the same order: the router's predicted quality `Q`,
the true outcomes `S` ∈ [0, 1] and the cost each call was paid, `C` (USD). A router with cost weight
λ answers prompt i with

    argmax_j  Q[i, j] − λ · E[i, j] / max_k E[i, k]

exactly as the runtime policy `CostAware(weight=λ)` does, where `E` is the cost *expected before the
call* (what the runtime's `Router.expected_costs` estimates: prices × (prompt characters / 4 + the
model's mean output tokens)); `expected_costs` builds it. What a choice *costs* is read from `C`, the
cost actually paid. Ties are broken towards the cheaper model (smaller `E`), then the earlier column
(`CostAware(0)` at run time takes the first of exactly tied models; only exact ties differ).

- `routing_curve` sweeps every λ ≥ 0 exactly: one point per distinct λ at which some prompt switches
  model (prompts switching at the same λ switch together, so the sweep is tie-safe).
- `aiq` is RouterBench's AIQ (see `routerkit.eval.many_curves`), over the range from the cheapest to
  the most expensive single model (`Baselines.cost_range`).
- Baselines: every single model, the best single model (accuracy on the evaluated prompts, ties →
  cheaper), the oracle (per prompt the cheapest model with the highest score), the random router
  with the same model shares as a routed choice (EmbedLLM §5.2; its exact expectation), and the
  `random` curve that mixes single models (the hull of their points).

The inputs live in `routerkit.eval.many_data`, the curve readings in `routerkit.eval.many_curves`;
this module re-exports both, so everything is importable from here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from routerkit.errors import ConfigError
from routerkit.eval.many_curves import (
    ManyCurve,
    Point,
    _cheapest_reaching,
    _most_accurate,
    aiq,
    cost_saving,
    gap_closed,
    nondecreasing_hull,
)
from routerkit.eval.many_data import Completeness, ManyOutcomes, _in_range, _matrix, complete_cases, expected_costs

__all__ = [
    "Baselines",
    "Completeness",
    "ManyCurve",
    "ManyOutcomes",
    "Point",
    "RouterResult",
    "aiq",
    "baselines",
    "complete_cases",
    "cost_saving",
    "evaluate_router",
    "expected_costs",
    "gap_closed",
    "nondecreasing_hull",
    "oracle_choice",
    "random_same_shares",
    "route",
    "routing_curve",
    "single_points",
    "tune_weight",
]

Matrix = npt.NDArray[np.float64]
Vector = npt.NDArray[np.float64]
Indices = npt.NDArray[np.intp]

_SAME_CROSSING = 1e-9
"""Relative gap below which two crossing weights count as the same (tie-safe sweep)."""


# -------------------------------------------------------------------------------------- routing


def route(quality: npt.ArrayLike, decision_cost: npt.ArrayLike, weight: float) -> Indices:
    """The model `CostAware(weight)` picks per prompt: argmax of quality − weight · cost / row max.

    Ties go to the model with the smaller cost, then to the earlier column.

    Args:
        quality: `[n, m]` predicted quality (router scores).
        decision_cost: `[n, m]` costs known before the call (see `expected_costs`), ≥ 0.
        weight: λ ≥ 0.

    Raises:
        ConfigError: for NaN or mismatched matrices or a negative or NaN `weight`.
    """
    if not weight >= 0.0:
        raise ConfigError(f"`weight` must be a number ≥ 0, got {weight!r}. Pick it with `tune_weight`.")
    a, b = _decision_inputs(quality, decision_cost)
    value = a - weight * b if np.isfinite(weight) else -b
    return _argmax_cheapest(value, b)


def routing_curve(quality: npt.ArrayLike, outcomes: ManyOutcomes, decision_cost: npt.ArrayLike) -> ManyCurve:
    """Accuracy and cost of `route` for every cost weight λ ≥ 0, exactly.

    Each prompt's choice changes only where two lines q_j − λ·c_j cross, so the sweep follows each
    prompt's upper envelope from λ = 0 (highest quality, cheapest among ties) to λ → ∞ (cheapest
    model) and emits one point per distinct crossing λ.

    Args:
        quality: `[n, m]` predicted quality, columns in `outcomes.models` order.
        outcomes: true scores and paid costs.
        decision_cost: `[n, m]` costs known before the call; pass `outcomes.cost` for an oracle.

    Raises:
        ConfigError: if a matrix is not `[n, m]` finite numbers or a cost is negative.
    """
    a, b = _decision_inputs(quality, decision_cost, shape=outcomes.scores.shape)
    start = _argmax_cheapest(a, b)
    lam, row, old, new = _switches(a, b, start)
    order = np.argsort(lam, kind="stable")
    lam, row, old, new = lam[order], row[order], old[order], new[order]
    # Crossings equal up to rounding (the same quality gap computed from other numbers) form one group.
    ends = np.flatnonzero(np.append(np.diff(lam) > _SAME_CROSSING * lam[1:], len(lam) > 0))
    n = len(outcomes)
    gained = np.cumsum(outcomes.scores[row, new] - outcomes.scores[row, old])[ends]
    paid = np.cumsum(outcomes.cost[row, new] - outcomes.cost[row, old])[ends]
    first = _point_of(start, outcomes)
    # A weight strictly between two groups reproduces the point with `route`: the middle of the gap.
    weight = np.concatenate(([0.0], (lam[ends[:-1]] + lam[ends[:-1] + 1]) / 2, 2 * lam[ends[-1:]]))
    return ManyCurve(
        cost=np.concatenate(([first.cost], first.cost + paid / n)),
        accuracy=np.concatenate(([first.accuracy], first.accuracy + gained / n)),
        weight=weight,
    )


def tune_weight(curve: ManyCurve, *, target: float | None = None) -> float:
    """Pick λ on a `val` curve: the most accurate point (ties → cheapest), or the cheapest reaching `target`.

    Returns:
        The point's weight, or NaN when no point reaches `target`.
    """
    k = _most_accurate(curve) if target is None else _cheapest_reaching(curve, target)
    return float("nan") if k is None else float(curve.weight[k])


# ------------------------------------------------------------------------------------ baselines


def single_points(outcomes: ManyOutcomes) -> ManyCurve:
    """One point per model (always that model), in `outcomes.models` order."""
    return ManyCurve(outcomes.cost.mean(axis=0), outcomes.scores.mean(axis=0), np.full(len(outcomes.models), np.nan))


def oracle_choice(outcomes: ManyOutcomes) -> Indices:
    """Per prompt, the model with the highest score that cost the least (the cheapest correct one)."""
    return _argmax_cheapest(outcomes.scores, outcomes.cost)


def random_same_shares(choice: npt.ArrayLike, outcomes: ManyOutcomes) -> Point:
    """Exact expectation of a router that uses each model as often as `choice` does, on random prompts.

    EmbedLLM §5.2's baseline: with shares p_j, accuracy Σ p_j · mean score of j (and cost alike). A
    router beats it only by sending each prompt to a model that is good *on that prompt*.
    """
    picked = _choice(choice, outcomes)
    shares = np.bincount(picked, minlength=len(outcomes.models)) / len(picked)
    singles = single_points(outcomes)
    return Point(float(shares @ singles.cost), float(shares @ singles.accuracy))


@dataclass(frozen=True, eq=False)
class Baselines:
    """What a router is compared with on one set of prompts."""

    singles: ManyCurve
    """One point per model, in `outcomes.models` order."""
    best: int
    """Column of the best single model (highest accuracy, ties → cheaper)."""
    oracle: Point
    """The cheapest model with the highest score, per prompt."""
    oracle_curve: ManyCurve
    """`routing_curve` of the true scores, decided on the paid costs."""
    mixing: ManyCurve
    """The `random` curve: the non-decreasing hull of the single models' points."""
    cost_range: tuple[float, float]
    """The cheapest and the most expensive single model's mean cost: AIQ's range."""


def baselines(outcomes: ManyOutcomes) -> Baselines:
    """Every baseline of `outcomes`."""
    singles = single_points(outcomes)
    return Baselines(
        singles=singles,
        best=int(_argmax_cheapest(singles.accuracy[None, :], singles.cost[None, :])[0]),
        oracle=_point_of(oracle_choice(outcomes), outcomes),
        oracle_curve=routing_curve(outcomes.scores, outcomes, outcomes.cost),
        mixing=nondecreasing_hull(singles),
        cost_range=(float(singles.cost.min()), float(singles.cost.max())),
    )


@dataclass(frozen=True, eq=False)
class RouterResult:
    """One router on one set of prompts: its curve and the points read off it."""

    curve: ManyCurve
    """`routing_curve` over every weight."""
    aiq: float
    """AIQ of `curve` over `Baselines.cost_range`."""
    best_point: Point
    """The most accurate point of the curve (cheapest among ties): chosen on these prompts."""
    weight: float
    """The weight applied (e.g. tuned on `val`)."""
    at_weight: Point
    """The operating point at `weight`."""
    shares: Vector
    """Share of prompts each model answers at `weight`."""
    random_same_shares: Point
    """The random router with the same shares as at `weight`."""
    saving: float
    """`cost_saving` against the best single model (NaN: its accuracy is never reached)."""


def evaluate_router(
    quality: npt.ArrayLike, outcomes: ManyOutcomes, decision_cost: npt.ArrayLike, weight: float, base: Baselines
) -> RouterResult:
    """Sweep a router, read its best point, apply `weight`, and compare with `base` (from `baselines`)."""
    curve = routing_curve(quality, outcomes, decision_cost)
    choice = route(quality, decision_cost, weight)
    return RouterResult(
        curve=curve,
        aiq=aiq(curve, *base.cost_range),
        best_point=curve.point(_most_accurate(curve)),
        weight=weight,
        at_weight=_point_of(choice, outcomes),
        shares=np.bincount(choice, minlength=len(outcomes.models)) / len(choice),
        random_same_shares=random_same_shares(choice, outcomes),
        saving=cost_saving(curve, base.singles.point(base.best)),
    )


# ----------------------------------------------------------------------------------- internals


def _decision_inputs(
    quality: npt.ArrayLike, decision_cost: npt.ArrayLike, shape: tuple[int, ...] | None = None
) -> tuple[Matrix, Matrix]:
    """Validated quality and costs divided by each row's largest cost (`CostAware`'s relative costs)."""
    a = _matrix("quality", quality, shape or (None, None))
    c = _in_range("decision_cost", _matrix("decision_cost", decision_cost, a.shape), np.inf)
    top = c.max(axis=1, keepdims=True)
    return a, np.divide(c, top, out=np.zeros_like(c), where=top > 0)


def _argmax_cheapest(value: Matrix, cost: Matrix) -> Indices:
    """Per row, the column of the highest value; ties → the smaller cost, then the earlier column."""
    tied = value == value.max(axis=1, keepdims=True)
    picked: Indices = np.argmin(np.where(tied, cost, np.inf), axis=1).astype(np.intp)
    return picked


def _switches(a: Matrix, b: Matrix, start: Indices) -> tuple[Vector, Indices, Indices, Indices]:
    """Every change of choice as λ grows: (λ, prompt, old model, new model), following each upper envelope.

    From the current model c only a cheaper line can take over, at λ = (a_c − a_j) / (b_c − b_j); the
    first such crossing wins, and among lines crossing there the cheapest is on top just after. Each
    step moves every prompt to a strictly cheaper model, so at most m − 1 steps.
    """
    rows = np.arange(len(a))
    current, lam = start.copy(), np.zeros(len(a))
    found: list[tuple[Vector, Indices, Indices, Indices]] = []
    for _ in range(a.shape[1] - 1):
        ac, bc = a[rows, current][:, None], b[rows, current][:, None]
        with np.errstate(divide="ignore", invalid="ignore"):
            cross = np.where(b < bc, (ac - a) / (bc - b), np.inf)
        cross = np.maximum(cross, lam[:, None])  # rounding must not move a crossing back in λ
        nearest = cross.min(axis=1)
        moving = np.flatnonzero(np.isfinite(nearest))
        if moving.size == 0:
            break
        nxt = np.argmin(np.where(cross == nearest[:, None], b, np.inf), axis=1)[moving]
        found.append((nearest[moving], moving, current[moving], nxt))
        current[moving], lam[moving] = nxt, nearest[moving]
    if not found:
        empty = np.array([], dtype=np.intp)
        return np.array([]), empty, empty, empty
    lam_all, row, old, new = (np.concatenate(parts) for parts in zip(*found, strict=True))
    return lam_all, row.astype(np.intp), old.astype(np.intp), new.astype(np.intp)


def _point_of(choice: Indices, outcomes: ManyOutcomes) -> Point:
    rows = np.arange(len(outcomes))
    return Point(float(outcomes.cost[rows, choice].mean()), float(outcomes.scores[rows, choice].mean()))


def _choice(choice: npt.ArrayLike, outcomes: ManyOutcomes) -> Indices:
    """A validated routed choice: one column index per prompt."""
    picked = np.asarray(choice)
    if picked.shape != (len(outcomes),) or not np.issubdtype(picked.dtype, np.integer):
        raise ConfigError(
            f"`choice` must hold one integer column index per prompt ({len(outcomes)}), got dtype "
            f"{picked.dtype} and shape {picked.shape}. Pass the output of `route`."
        )
    if picked.min() < 0 or picked.max() >= len(outcomes.models):
        raise ConfigError(f"`choice` has column indices outside [0, {len(outcomes.models) - 1}]: {picked!r}.")
    return np.asarray(picked, dtype=np.intp)
