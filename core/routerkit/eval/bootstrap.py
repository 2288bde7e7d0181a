"""Percentile-bootstrap intervals over prompts resampled with replacement (deterministic by seed)."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from routerkit.errors import ConfigError
from routerkit.eval.metrics import _check_count, _vector

__all__ = ["bootstrap_ci", "bootstrap_resamples", "percentile_interval"]

Indices = npt.NDArray[np.intp]


def bootstrap_resamples(n: int, *, resamples: int = 200, seed: int = 0) -> list[Indices]:
    """Prompt indices resampled with replacement, `resamples` times, from `default_rng(seed)`.

    Use them when one resample feeds many statistics (compute them all per resample, then
    `percentile_interval` each); `bootstrap_ci` does both for a single statistic.

    Raises:
        ConfigError: for `n` or `resamples` < 1.
    """
    _check_count("n", n, minimum=1)
    _check_count("resamples", resamples, minimum=1)
    rng = np.random.default_rng(seed)
    return [rng.integers(0, n, size=n).astype(np.intp) for _ in range(resamples)]


def percentile_interval(values: npt.ArrayLike, *, level: float = 0.95, nan_as: float = np.inf) -> tuple[float, float]:
    """The central `level` interval of bootstrap `values` (percentile method).

    With R values it drops k − 1 values from each end, k = max(1, ⌈(1 − level) / 2 · R⌉), and
    returns the k-th smallest and k-th largest (R = 200, level 0.95: the 5th and the 196th of the
    sorted values). The bounds are values that occur, so an infinite value stays infinite instead
    of spoiling an interpolation.

    Args:
        values: one statistic per resample.
        level: coverage of the interval, in (0, 1).
        nan_as: the value a NaN counts as (default +inf: a "cost to reach" a target that a
            resample never reaches is above any finite cost).

    Returns:
        (lower, upper).

    Raises:
        ConfigError: for empty or non-1-D `values` or `level` outside (0, 1).
    """
    if not 0 < level < 1:
        raise ConfigError(f"`level` must lie in (0, 1), e.g. 0.95, got {level!r}.")
    array = _vector("values", values, "Pass one statistic per bootstrap resample.").copy()
    array[np.isnan(array)] = nan_as
    ordered = np.sort(array)
    # The slack undoes float rounding: (1 − 0.95) / 2 · 40 is 1.0000000000000009, not 1.
    k = max(1, math.ceil((1 - level) / 2 * len(ordered) - 1e-9))
    return float(ordered[k - 1]), float(ordered[len(ordered) - k])


def bootstrap_ci(
    statistic: Callable[[Indices], float],
    n: int,
    *,
    resamples: int = 200,
    seed: int = 0,
    level: float = 0.95,
    nan_as: float = np.inf,
) -> tuple[float, float]:
    """Percentile bootstrap interval of `statistic` over prompts resampled with replacement.

    Deterministic: the resamples are `bootstrap_resamples(n, resamples=resamples, seed=seed)`.

    Args:
        statistic: maps the resampled prompt indices (`int[n]`) to a number.
        n: number of prompts.
        resamples: number of bootstrap resamples, at least 1.
        seed: seeds the resampling.
        level: coverage of the interval, in (0, 1).
        nan_as: the value a NaN statistic counts as (see `percentile_interval`).

    Returns:
        (lower, upper).

    Raises:
        ConfigError: for `n` or `resamples` < 1 or `level` outside (0, 1).
    """
    if not 0 < level < 1:  # checked before the resampling work
        raise ConfigError(f"`level` must lie in (0, 1), e.g. 0.95, got {level!r}.")
    values = [statistic(rows) for rows in bootstrap_resamples(n, resamples=resamples, seed=seed)]
    return percentile_interval(values, level=level, nan_as=nan_as)
