"""When a cascade defers: a threshold λ on the confidence, fixed or calibrated to a target deferral rate."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from numbers import Real

from routerkit.errors import ConfigError

__all__ = ["DeferralPolicy"]


@dataclass(frozen=True)
class DeferralPolicy:
    """Defer to the strong model iff the confidence is below `threshold` (λ).

    Build one with `DeferralPolicy.fixed(λ)` or `DeferralPolicy.calibrate(confidences, target_rate)`.
    """

    threshold: float
    """λ in [0, 1]: confidences strictly below it are deferred (λ = 0 never defers)."""
    target_rate: float | None = None
    """The deferral rate asked of `calibrate` (None for a fixed λ)."""
    calibrated_rate: float | None = None
    """The share of the calibration confidences below λ: the closest achievable rate ≤ the target."""
    calibration_size: int = 0
    """How many confidences `calibrate` saw."""

    def __post_init__(self) -> None:
        if isinstance(self.threshold, bool) or not isinstance(self.threshold, Real):
            raise ConfigError(f"The deferral threshold must be a number in [0, 1], got {self.threshold!r}.")
        if not 0.0 <= self.threshold <= 1.0:  # also refuses NaN
            raise ConfigError(
                f"The deferral threshold must be in [0, 1], got {self.threshold!r}: confidences are "
                "probabilities, so λ = 0 never defers and λ above every confidence always does."
            )

    @classmethod
    def fixed(cls, threshold: float) -> DeferralPolicy:
        """Defer iff confidence < `threshold`."""
        return cls(threshold)

    @classmethod
    def calibrate(cls, confidences: Sequence[float], target_rate: float) -> DeferralPolicy:
        """The λ whose deferral rate on `confidences` is the closest achievable rate ≤ `target_rate`.

        Equal confidences are deferred together or not at all, so some rates cannot be hit exactly; the
        largest achievable rate not above the target is chosen. λ lies halfway between the highest
        deferred and the lowest kept confidence (0 when nothing is deferred), so a new confidence equal
        to neither is classed by whichever side it is nearer.

        Args:
            confidences: the estimator's confidences on a calibration sample (e.g. `Cascade.confidences`).
            target_rate: the share of queries to defer, in [0, 1].

        Raises:
            ConfigError: if `confidences` is empty or holds a value that is not a number in [0, 1], or
                `target_rate` is not in [0, 1].
        """
        values = sorted(_checked_confidences(confidences))
        _check_rate(target_rate)
        deferred = _achievable(values, target_rate)
        if deferred == 0:
            threshold = 0.0
        else:
            highest, above = values[deferred - 1], values[deferred] if deferred < len(values) else 1.0
            threshold = (highest + above) / 2.0
            if threshold <= highest:  # adjacent floats: the midpoint rounded down onto the deferred value
                threshold = above
        return cls(threshold, target_rate, deferred / len(values), len(values))

    def defer(self, confidence: float) -> bool:
        """Whether a query with this confidence goes to the strong model."""
        return confidence < self.threshold


def _achievable(values: list[float], target_rate: float) -> int:
    """How many of the sorted `values` to defer: the most that is ≤ target and keeps ties together."""
    limit = math.floor(target_rate * len(values) + 1e-9)  # 1e-9: 0.3 * 10 is 2.9999999999999996
    best = 0
    for count in range(1, limit + 1):
        boundary_ok = count == len(values) or values[count - 1] < values[count]
        if boundary_ok and (count < len(values) or values[-1] < 1.0):
            best = count
    return best


def _checked_confidences(confidences: Sequence[float]) -> list[float]:
    if isinstance(confidences, str) or not isinstance(confidences, Sequence):
        raise ConfigError(f"`confidences` must be a list of numbers, got {type(confidences).__name__}.")
    if not confidences:
        raise ConfigError("`confidences` is empty; calibrate on the confidences of a sample of queries.")
    for index, value in enumerate(confidences):
        if isinstance(value, bool) or not isinstance(value, Real) or not 0.0 <= value <= 1.0:
            raise ConfigError(
                f"`confidences[{index}]` is {value!r}; every confidence must be a number in [0, 1]. "
                "Check the estimator that produced them."
            )
    return [float(value) for value in confidences]


def _check_rate(target_rate: float) -> None:
    if isinstance(target_rate, bool) or not isinstance(target_rate, Real) or not 0.0 <= target_rate <= 1.0:
        raise ConfigError(f"`target_rate` must be a share in [0, 1], got {target_rate!r} (e.g. 0.3 for 30%).")
