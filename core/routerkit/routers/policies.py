"""Policies turn a router's scores into a choice of model."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Literal

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from routerkit.errors import ConfigError

__all__ = ["CostAware", "Policy", "Threshold"]

Row = npt.NDArray[np.float64]


class Policy(BaseModel, ABC):
    """Base class of policies: frozen, validated, one abstract method."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    @abstractmethod
    def choose(self, row: Row, costs: Sequence[float | None], *, pairwise: bool) -> int:
        """Return the index of the chosen candidate.

        Args:
            row: one row of `Router.scores()`.
            costs: expected cost of each candidate (None where unknown).
            pairwise: True for strong/weak routers, whose row is `[P(strong beats weak)]` and whose
                candidates are `(strong, weak)`.
        """

    @property
    def kind(self) -> str:
        """Short name used in `Decision.policy`."""
        return str(self.__class__.model_fields["name"].default)

    def params(self) -> dict[str, float]:
        """The numeric parameters, for `Decision.policy_params`."""
        return {k: float(v) for k, v in self.model_dump().items() if k != "name"}


class Threshold(Policy):
    """RouteLLM semantics: the strong model iff P(strong beats weak) ≥ `threshold`.

    Only for strong/weak routers. Fit `threshold` to your own traffic with `routerkit.calibration`.
    """

    name: Literal["threshold"] = "threshold"
    threshold: float = Field(ge=0.0, le=1.0)
    """Higher → fewer strong calls. 0 always picks strong; above every score always picks weak."""

    def __init__(self, threshold: float | None = None, /, **data: object) -> None:
        if threshold is not None:
            data["threshold"] = threshold
        super().__init__(**data)

    def choose(self, row: Row, costs: Sequence[float | None], *, pairwise: bool) -> int:
        """0 (strong) if `row[0] >= threshold`, else 1 (weak)."""
        if not pairwise:
            raise ConfigError(
                "The `Threshold` policy needs a strong/weak router, but this router scores "
                f"{row.size} models. Use `CostAware(weight)` for many-model routers."
            )
        return 0 if row[0] >= self.threshold else 1


class CostAware(Policy):
    """Maximise predicted quality − `weight` × relative cost.

    Quality is the router's score per candidate (for a strong/weak router: p for the strong model and
    1 − p for the weak one); cost is each candidate's expected cost divided by the largest, so
    `weight` is on the same [0, 1] scale as quality: 0 ignores cost, 1 trades a whole point of
    quality for the full price gap.
    """

    name: Literal["cost_aware"] = "cost_aware"
    weight: float = Field(ge=0.0)
    """How much a unit of relative cost weighs against a unit of predicted quality."""

    def __init__(self, weight: float | None = None, /, **data: object) -> None:
        if weight is not None:
            data["weight"] = weight
        super().__init__(**data)

    def choose(self, row: Row, costs: Sequence[float | None], *, pairwise: bool) -> int:
        """Argmax of quality − weight · cost / max(cost)."""
        quality = np.array([row[0], 1.0 - row[0]]) if pairwise else np.asarray(row, dtype=np.float64)
        if self.weight == 0:  # cost is ignored, so unpriced candidates (most open models) are fine
            return int(np.argmax(quality))
        return int(np.argmax(quality - self.weight * relative_costs(costs)))


def relative_costs(costs: Sequence[float | None]) -> Row:
    """Costs divided by the largest one.

    Raises:
        ConfigError: if a candidate has no price (the policy cannot weigh what it cannot price).
    """
    missing = [i for i, c in enumerate(costs) if c is None]
    if missing:
        raise ConfigError(
            f"`CostAware` needs a price for every candidate; candidate(s) {missing} have none. "
            "Add `input_usd_per_mtok`/`output_usd_per_mtok` to the router's models, or use `Threshold`."
        )
    values = np.array([float(c) for c in costs if c is not None], dtype=np.float64)
    top = float(values.max())
    return values / top if top > 0 else values
