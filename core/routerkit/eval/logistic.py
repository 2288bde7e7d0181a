"""L2-regularised logistic regression by Newton's method (IRLS), numpy only: small learned confidences."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from routerkit.errors import ConfigError
from routerkit.eval.metrics import _check_count, _finite

__all__ = ["LogisticModel", "fit_logistic"]

Vector = npt.NDArray[np.float64]


@dataclass(frozen=True)
class LogisticModel:
    """A fitted L2-regularised logistic regression on standardised features (see `fit_logistic`)."""

    weights: Vector
    """Intercept first, then one weight per standardised feature."""
    mean: Vector
    """Per-feature mean of the training features (subtracted before weighting)."""
    scale: Vector
    """Per-feature standard deviation of the training features (1 where it was 0)."""

    def predict(self, features: npt.ArrayLike) -> Vector:
        """P(label = 1) for each row of `features` (`float[n, d]`, the training columns).

        Raises:
            ConfigError: if `features` is not a finite 2-D array with the training column count.
        """
        x = _design(_matrix(features), self.mean, self.scale)
        return _sigmoid(x @ self.weights)


def fit_logistic(
    features: npt.ArrayLike, labels: npt.ArrayLike, *, l2: float = 1.0, iterations: int = 100
) -> LogisticModel:
    """Fit P(label = 1 | features) by Newton's method (IRLS), numpy only.

    Features are standardised with their training mean and standard deviation; the loss is the
    summed log-loss plus `l2` / 2 · ‖w‖² over the feature weights (the intercept is not penalised).
    Newton steps stop when the largest step is below 1e-10 or after `iterations`.

    Args:
        features: `float[n, d]`, one row per example.
        labels: 0/1 per example; both classes must occur.
        l2: the penalty, ≥ 0.
        iterations: the most Newton steps, at least 1.

    Returns:
        The fitted `LogisticModel`.

    Raises:
        ConfigError: for non-finite or mismatched inputs, labels other than 0/1 or of one class,
            a negative or non-finite `l2`, or `iterations` < 1.
    """
    x = _matrix(features)
    y = _labels(labels, len(x))
    if not (np.isfinite(l2) and l2 >= 0):
        raise ConfigError(f"`l2` must be a finite penalty ≥ 0, e.g. 1.0, got {l2!r}.")
    _check_count("iterations", iterations, minimum=1)
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0  # a constant column carries no information; leave it unscaled
    design = _design(x, mean, scale)
    penalty = np.full(design.shape[1], float(l2))
    penalty[0] = 0.0
    weights = np.zeros(design.shape[1])
    for _ in range(iterations):
        step = _newton_step(design, y, weights, penalty)
        weights -= step
        if np.max(np.abs(step)) < 1e-10:
            break
    return LogisticModel(weights, mean, scale)


def _newton_step(design: Vector, y: Vector, weights: Vector, penalty: Vector) -> Vector:
    """H⁻¹ g of the penalised log-loss at `weights` (a tiny ridge keeps H invertible)."""
    p = _sigmoid(design @ weights)
    gradient = design.T @ (p - y) + penalty * weights
    hessian = (design.T * (p * (1 - p))) @ design + np.diag(penalty + 1e-9)
    return np.asarray(np.linalg.solve(hessian, gradient), dtype=np.float64)


def _sigmoid(z: Vector) -> Vector:
    return np.asarray(0.5 * (1.0 + np.tanh(0.5 * z)), dtype=np.float64)  # overflow-free σ(z)


def _matrix(features: npt.ArrayLike) -> Vector:
    """Features as a finite 2-D float64 array with at least one row and one column."""
    try:
        x = np.asarray(features, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"`features` must be numbers; converting it failed: {exc}.") from exc
    if x.ndim != 2 or 0 in x.shape:
        raise ConfigError(f"`features` must be a 2-D array (one row per example), got shape {x.shape}.")
    if not np.all(np.isfinite(x)):
        raise ConfigError("`features` holds NaN or inf; impute or drop those rows first.")
    return x


def _labels(labels: npt.ArrayLike, n: int) -> Vector:
    """0/1 labels, one per feature row, with both classes present."""
    y = _finite("labels", labels, "Pass one 0/1 label per feature row.")
    if len(y) != n:
        raise ConfigError(f"`labels` has {len(y)} values but `features` has {n} rows.")
    if not np.all((y == 0) | (y == 1)):
        raise ConfigError("`labels` must be 0 or 1 (e.g. whether the weak answer was correct).")
    if y.min() == y.max():
        raise ConfigError(f"`labels` are all {int(y[0])}: a logistic model needs examples of both classes.")
    return y


def _design(x: Vector, mean: Vector, scale: Vector) -> Vector:
    """Standardised features with a leading column of ones (the intercept)."""
    if x.shape[1] != len(mean):
        raise ConfigError(f"`features` has {x.shape[1]} columns but the model was fitted on {len(mean)}.")
    return np.hstack([np.ones((len(x), 1)), (x - mean) / scale])
