"""RouteLLM's cost–quality metrics as pure functions of (scores, per-prompt outcomes).

A strong/weak router gives each prompt a score, P(strong beats weak); a threshold sends the prompts
scoring at or above it to the strong model. Sweeping the threshold traces a `Curve`: the share of
prompts sent to the strong model (x) against the mean quality of the answers (y). From a curve:

- **PGR** (performance gap recovered) = (quality − r_w) / (r_s − r_w), with r_w, r_s the weak-only
  and strong-only mean quality.
- **AUC** = trapezoid of quality over the strong share, from 0 to 1.
- **APGR** = (AUC − r_w) / (r_s − r_w) = ∫₀¹ PGR dc: the normalised area between the curve and the
  weak-only line (random routing → 0.5, a perfect router on 0/1 data → above 1).
- **CPT(x)** = the strong share needed to reach PGR = x, read off the curve's running-max envelope.

Differences from RouteLLM's `evaluate.py` (the notes' known defects): the sweep is tie-safe (no
`pd.qcut`), CPT never interpolates a non-monotone curve, and the trapezoid is our own (no `np.trapz`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import overload

import numpy as np
import numpy.typing as npt

from routerkit.errors import ConfigError

__all__ = [
    "Curve",
    "Summary",
    "apgr",
    "auc",
    "cpt",
    "is_monotone",
    "oracle_curve",
    "pgr",
    "random_curve",
    "summarize",
    "threshold_sweep",
]

Vector = npt.NDArray[np.float64]

_TOLERANCE = 1e-12
"""Slack for float comparisons of means (sums of 0/1 outcomes divided by n)."""


@dataclass(frozen=True)
class Curve:
    """A cost–quality curve: strong share (x) against mean quality (y), one entry per sweep point.

    `strong_share` is non-decreasing from exactly 0.0 to exactly 1.0. It repeats a value where
    several target shares fall inside one group of tied scores (the trapezoid gives such repeats
    zero width). Built by `threshold_sweep`, `oracle_curve` or `random_curve`.

    Raises:
        ConfigError: if the arrays are not 1-D, differ in length, have fewer than 2 points, are not
            finite, or `strong_share` does not rise from 0.0 to 1.0.
    """

    strong_share: Vector
    """Fraction of prompts sent to the strong model (the oracle: the allowed budget)."""
    quality: Vector
    """Mean quality of the routed answers at that share (in [0, 1])."""

    def __post_init__(self) -> None:
        share = np.asarray(self.strong_share, dtype=np.float64)
        quality = np.asarray(self.quality, dtype=np.float64)
        _check_curve_arrays(share, quality)
        object.__setattr__(self, "strong_share", share)
        object.__setattr__(self, "quality", quality)


@dataclass(frozen=True)
class Summary:
    """The headline numbers of one curve (shares and qualities as fractions, not percentages)."""

    apgr: float
    """Average performance gap recovered, (AUC − r_w) / (r_s − r_w)."""
    auc: float
    """Area under the curve over strong share 0..1 (trapezoid)."""
    cpt20: float
    """Strong share needed for PGR = 0.2 (nan if never reached)."""
    cpt50: float
    """Strong share needed for PGR = 0.5 (nan if never reached)."""
    cpt80: float
    """Strong share needed for PGR = 0.8 (nan if never reached)."""
    monotone: bool
    """Whether quality never decreases as the strong share grows (else CPT used the envelope)."""
    n: int
    """Number of prompts."""
    weak_mean: float
    """r_w: mean quality when every prompt goes to the weak model."""
    strong_mean: float
    """r_s: mean quality when every prompt goes to the strong model."""


# --------------------------------------------------------------------------------------- curves


def threshold_sweep(scores: npt.ArrayLike, strong: npt.ArrayLike, weak: npt.ArrayLike, points: int = 101) -> Curve:
    """Sweep the routing threshold so the strong share steps through `points` equal targets.

    Target i (i = 0 … points − 1) is the share t_i = i / (points − 1). Prompts are routed strong iff
    `score >= threshold`, so tied prompts always go to the same model and the achievable strong
    counts are the tie-group boundaries k (0 and the number of prompts scoring at or above each
    distinct score). For t_i the sweep takes the **smallest achievable k ≥ ⌈t_i · n⌉** — the
    threshold is the k-th highest score (+inf for k = 0) — and reports the share actually achieved,
    k / n, with its quality. Without ties k = ⌈t_i · n⌉ exactly. Point 0 is (0, mean weak) and the
    last point is (1, mean strong).

    Args:
        scores: P(strong wins) per prompt, 1-D; higher sends the prompt to the strong model.
        strong: quality of the strong model's answer per prompt, in [0, 1].
        weak: quality of the weak model's answer per prompt, in [0, 1].
        points: number of target shares, at least 2 (101 → every 1% of strong calls).

    Returns:
        A `Curve` with `points` entries.

    Raises:
        ConfigError: for empty or mismatched inputs, NaN or non-1-D scores, qualities outside
            [0, 1], or `points` < 2.
    """
    s, w = _qualities(strong, weak)
    x = _scores(scores, len(s))
    _check_count("points", points, minimum=2)
    order = np.argsort(-x, kind="stable")
    counts = _tie_safe_counts(x[order], points)
    gained = np.concatenate(([0.0], np.cumsum((s - w)[order])))
    quality = (w.sum() + gained[counts]) / len(s)
    quality[counts == len(s)] = s.mean()
    return Curve(counts / len(s), quality)


def oracle_curve(strong: npt.ArrayLike, weak: npt.ArrayLike, points: int = 101) -> Curve:
    """RouteLLM's optimal router: with a budget of c · n strong calls, buy the largest gains.

    At target share c_i = i / (points − 1) the budget is k = ⌈c_i · n⌉ calls; the oracle sends the
    prompts with the k largest positive gains (strong − weak) and never one whose gain is ≤ 0. On
    0/1 outcomes this is weak-correct + min(k, #(weak wrong ∧ strong right)). x is the budget share
    k / n, so the curve ends above mean strong wherever the weak model alone wins some prompts
    (APGR > 1).

    Args:
        strong: quality of the strong model's answer per prompt, in [0, 1].
        weak: quality of the weak model's answer per prompt, in [0, 1].
        points: number of budget shares, at least 2.

    Returns:
        A `Curve` with `points` entries, monotone by construction.

    Raises:
        ConfigError: for empty or mismatched inputs, qualities outside [0, 1], or `points` < 2.
    """
    s, w = _qualities(strong, weak)
    _check_count("points", points, minimum=2)
    gain = s - w
    best = np.sort(gain[gain > 0])[::-1]
    gained = np.concatenate(([0.0], np.cumsum(best)))
    counts = _target_counts(len(s), points)
    quality = w.mean() + gained[np.minimum(counts, len(best))] / len(s)
    return Curve(counts / len(s), quality)


def random_curve(strong: npt.ArrayLike, weak: npt.ArrayLike, points: int = 101, seeds: int = 10) -> Curve:
    """The random router: `threshold_sweep` of uniform scores, averaged over seeds 0 … `seeds` − 1.

    Deterministic: seed j draws its scores with `numpy.random.default_rng(j)`. Shares and qualities
    are averaged point by point (the shares agree across seeds unless two draws tie).

    Args:
        strong: quality of the strong model's answer per prompt, in [0, 1].
        weak: quality of the weak model's answer per prompt, in [0, 1].
        points: number of target shares, at least 2.
        seeds: how many random score vectors to average, at least 1.

    Returns:
        A `Curve` with `points` entries (its APGR is ≈ 0.5).

    Raises:
        ConfigError: for empty or mismatched inputs, qualities outside [0, 1], `points` < 2 or
            `seeds` < 1.
    """
    s, w = _qualities(strong, weak)
    _check_count("seeds", seeds, minimum=1)
    curves = [threshold_sweep(np.random.default_rng(seed).random(len(s)), s, w, points) for seed in range(seeds)]
    share = np.mean([c.strong_share for c in curves], axis=0)
    quality = np.mean([c.quality for c in curves], axis=0)
    return Curve(share, quality)


# -------------------------------------------------------------------------------------- metrics


@overload
def pgr(quality: float, weak_mean: float, strong_mean: float) -> float: ...


@overload
def pgr(quality: Vector, weak_mean: float, strong_mean: float) -> Vector: ...


def pgr(quality: float | Vector, weak_mean: float, strong_mean: float) -> float | Vector:
    """Performance gap recovered: (quality − r_w) / (r_s − r_w); 0 = weak-only, 1 = strong-only.

    Args:
        quality: one mean quality or an array of them.
        weak_mean: r_w, the weak-only mean quality.
        strong_mean: r_s, the strong-only mean quality.

    Returns:
        A float for a float, an array for an array.

    Raises:
        ConfigError: if r_s == r_w (no gap to recover) or either is not finite.
    """
    gap = _gap(weak_mean, strong_mean)
    if isinstance(quality, np.ndarray):
        return (quality - weak_mean) / gap
    return (float(quality) - weak_mean) / gap


def auc(curve: Curve) -> float:
    """Area under `curve`: the trapezoid rule over the strong share from 0 to 1.

    Args:
        curve: a cost–quality curve.

    Returns:
        The area, in quality units (a full sweep spans a strong-share width of 1).
    """
    widths = np.diff(curve.strong_share)
    heights = (curve.quality[1:] + curve.quality[:-1]) / 2
    return float(np.sum(widths * heights))


def apgr(curve: Curve, weak_mean: float, strong_mean: float) -> float:
    """Average performance gap recovered: (AUC − r_w) / (r_s − r_w) = ∫₀¹ PGR dc.

    Args:
        curve: a full sweep (strong share 0 to 1).
        weak_mean: r_w, the weak-only mean quality.
        strong_mean: r_s, the strong-only mean quality.

    Returns:
        0.5 for random routing, 1.0 for a curve that jumps straight to strong-only quality.

    Raises:
        ConfigError: if r_s == r_w or either is not finite.
    """
    return pgr(auc(curve), weak_mean, strong_mean)


def cpt(curve: Curve, x: float, weak_mean: float, strong_mean: float) -> float:
    """Call-performance threshold: the strong share needed to reach PGR = `x`.

    Computed on the running-max envelope of the quality (a router that peaks early can always be
    run at the cheaper share), by linear interpolation between the two sweep points that bracket
    the target quality r_w + x · (r_s − r_w). On a monotone curve this equals RouteLLM's
    `np.interp(target, quality, share)`.

    Args:
        curve: a cost–quality curve.
        x: the PGR to reach, e.g. 0.5 for CPT(50%); values above 1 are allowed (oracle curves).
        weak_mean: r_w, the weak-only mean quality.
        strong_mean: r_s, the strong-only mean quality.

    Returns:
        The strong share in [0, 1], or nan if the curve never reaches the target.

    Raises:
        ConfigError: if `x` is not finite, r_s == r_w, or either mean is not finite.
    """
    if not np.isfinite(x):
        raise ConfigError(f"`x` must be a finite PGR such as 0.5, got {float(x)!r}.")
    target = weak_mean + x * _gap(weak_mean, strong_mean)
    envelope = np.maximum.accumulate(curve.quality)
    reached = np.flatnonzero(envelope >= target - _TOLERANCE * max(1.0, abs(target)))
    if reached.size == 0:
        return float("nan")
    j = int(reached[0])
    if j == 0:
        return float(curve.strong_share[0])
    return _interpolate(curve.strong_share[j - 1 : j + 1], envelope[j - 1 : j + 1], target)


def is_monotone(curve: Curve) -> bool:
    """Whether quality never decreases as the strong share grows (up to float rounding).

    Args:
        curve: a cost–quality curve.

    Returns:
        True for a monotone curve; random routers are usually not.
    """
    return bool(np.all(np.diff(curve.quality) >= -_TOLERANCE))


def summarize(curve: Curve, strong: npt.ArrayLike, weak: npt.ArrayLike) -> Summary:
    """APGR, AUC, CPT(20/50/80%) and monotonicity of `curve`, against the outcomes it came from.

    Args:
        curve: a sweep over the prompts of `strong` and `weak`.
        strong: quality of the strong model's answer per prompt, in [0, 1].
        weak: quality of the weak model's answer per prompt, in [0, 1].

    Returns:
        The `Summary`.

    Raises:
        ConfigError: for empty or mismatched outcomes, qualities outside [0, 1], or equal means.
    """
    s, w = _qualities(strong, weak)
    r_s, r_w = float(s.mean()), float(w.mean())
    return Summary(
        apgr=apgr(curve, r_w, r_s),
        auc=auc(curve),
        cpt20=cpt(curve, 0.2, r_w, r_s),
        cpt50=cpt(curve, 0.5, r_w, r_s),
        cpt80=cpt(curve, 0.8, r_w, r_s),
        monotone=is_monotone(curve),
        n=len(s),
        weak_mean=r_w,
        strong_mean=r_s,
    )


# ------------------------------------------------------------------------------------- internals


def _target_counts(n: int, points: int) -> npt.NDArray[np.intp]:
    """⌈i · n / (points − 1)⌉ for i = 0 … points − 1, in exact integer arithmetic."""
    i = np.arange(points, dtype=np.int64)
    return np.asarray(-((-i * n) // (points - 1)), dtype=np.intp)


def _tie_safe_counts(descending: Vector, points: int) -> npt.NDArray[np.intp]:
    """For each target count, the smallest tie-group boundary at or above it."""
    n = len(descending)
    ends = np.flatnonzero(descending[1:] != descending[:-1]) + 1
    boundaries = np.concatenate(([0], ends, [n])).astype(np.intp)
    return boundaries[np.searchsorted(boundaries, _target_counts(n, points), side="left")]


def _interpolate(share: Vector, quality: Vector, target: float) -> float:
    """Share at which the segment (share[0], quality[0]) → (share[1], quality[1]) hits `target`."""
    fraction = min(1.0, max(0.0, (target - quality[0]) / (quality[1] - quality[0])))
    return float(share[0] + fraction * (share[1] - share[0]))


def _gap(weak_mean: float, strong_mean: float) -> float:
    """r_s − r_w, refusing a gap that is zero or not finite (PGR would be undefined)."""
    weak_mean, strong_mean = float(weak_mean), float(strong_mean)
    if not (np.isfinite(weak_mean) and np.isfinite(strong_mean)):
        raise ConfigError(
            f"Mean qualities must be finite, got weak {weak_mean!r} and strong {strong_mean!r}. "
            "Compute them from outcomes without NaN."
        )
    if strong_mean == weak_mean:
        raise ConfigError(
            f"The strong and weak models have the same mean quality ({strong_mean!r}), so PGR, "
            "APGR and CPT are undefined. Evaluate on prompts where the two models differ, or pick "
            "another model pair."
        )
    return strong_mean - weak_mean


def _vector(name: str, values: npt.ArrayLike, hint: str) -> Vector:
    """`values` as a non-empty 1-D float64 array."""
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"`{name}` must be numbers; converting it failed: {exc}. {hint}") from exc
    if array.ndim != 1:
        raise ConfigError(f"`{name}` must be 1-D (one value per prompt), got shape {array.shape}. {hint}")
    if array.size == 0:
        raise ConfigError(f"`{name}` is empty. Pass one value per prompt (at least one prompt).")
    return array


def _qualities(strong: npt.ArrayLike, weak: npt.ArrayLike) -> tuple[Vector, Vector]:
    """Validated (strong, weak) per-prompt qualities: same length, every value in [0, 1]."""
    hint = "Pass the per-prompt quality of each model, e.g. 0/1 correctness."
    s, w = _vector("strong", strong, hint), _vector("weak", weak, hint)
    if len(s) != len(w):
        raise ConfigError(
            f"`strong` has {len(s)} values but `weak` has {len(w)}. Pass both models' outcomes "
            "for the same prompts, in the same order."
        )
    for name, values in (("strong", s), ("weak", w)):
        bad = np.flatnonzero(~((values >= 0) & (values <= 1)))
        if bad.size:
            raise ConfigError(
                f"`{name}` has {bad.size} value(s) outside [0, 1] (first: {float(values[bad[0]])!r} at "
                f"index {int(bad[0])}). Rescale the quality to [0, 1] and drop prompts without "
                "an outcome (NaN)."
            )
    return s, w


def _scores(scores: npt.ArrayLike, n: int) -> Vector:
    """Validated router scores: 1-D, one per prompt, no NaN (±inf are ordered and allowed)."""
    x = _vector("scores", scores, "For a router's `scores()` matrix of shape (n, 1) pass `scores[:, 0]`.")
    if len(x) != n:
        raise ConfigError(
            f"`scores` has {len(x)} values but the outcomes have {n}. Score exactly the prompts "
            "whose outcomes you pass, in the same order."
        )
    nan = np.flatnonzero(np.isnan(x))
    if nan.size:
        raise ConfigError(
            f"`scores` has {nan.size} NaN value(s) (first at index {int(nan[0])}). NaN cannot be "
            "ranked; fix the router or drop those prompts."
        )
    return x


def _check_count(name: str, value: int, *, minimum: int) -> None:
    """Refuse a count that is not an integer ≥ `minimum` (bools included)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ConfigError(f"`{name}` must be an integer ≥ {minimum}, got {value!r}.")


def _check_curve_arrays(share: Vector, quality: Vector) -> None:
    """The `Curve` invariants: equal 1-D shapes, ≥ 2 finite points, share rising from 0 to 1."""
    if share.ndim != 1 or share.shape != quality.shape or share.size < 2:
        raise ConfigError(
            f"A `Curve` needs two 1-D arrays of equal length ≥ 2, got shapes {share.shape} and "
            f"{quality.shape}. Build curves with `threshold_sweep`, `oracle_curve` or `random_curve`."
        )
    if not (np.all(np.isfinite(share)) and np.all(np.isfinite(quality))):
        raise ConfigError("A `Curve` must hold finite numbers; drop NaN/inf points before building it.")
    if share[0] != 0.0 or share[-1] != 1.0 or np.any(np.diff(share) < 0):
        raise ConfigError(
            f"`strong_share` must rise (non-decreasing) from exactly 0.0 to exactly 1.0, got "
            f"{float(share[0])!r} … {float(share[-1])!r}. Include both endpoints of the sweep."
        )


def _finite(name: str, values: npt.ArrayLike, hint: str) -> Vector:
    """`values` as a non-empty 1-D float64 array without NaN or inf."""
    array = _vector(name, values, hint)
    bad = np.flatnonzero(~np.isfinite(array))
    if bad.size:
        raise ConfigError(
            f"`{name}` has {bad.size} NaN or infinite value(s) (first: {float(array[bad[0]])!r} at index "
            f"{int(bad[0])}). Drop the prompts without an outcome or a price before building the arrays."
        )
    return array
