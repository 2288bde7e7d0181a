"""Calibration: fit a policy to a target on the user's own traffic (a share of strong calls or a $ budget).

The module is `routerkit.calibration` (not `calibrate`) so that it never shadows the function
`routerkit.calibrate` once imported.

`calibrate` never mutates the router; it returns a new policy object.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from routerkit.errors import ConfigError
from routerkit.routers.base import Router
from routerkit.routers.inputs import PromptInput, prompt_text
from routerkit.routers.policies import Threshold

__all__ = ["BudgetPerRequest", "StrongShare", "calibrate", "threshold_for_share"]


class StrongShare(BaseModel):
    """Send about `share` of the requests to the strong model."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    share: float = Field(ge=0.0, le=1.0)

    def __init__(self, share: float | None = None, /, **data: object) -> None:
        if share is not None:
            data["share"] = share
        super().__init__(**data)


class BudgetPerRequest(BaseModel):
    """Spend at most `usd` per request on average (expected cost from the router's prices)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    usd: float = Field(gt=0.0)

    def __init__(self, usd: float | None = None, /, **data: object) -> None:
        if usd is not None:
            data["usd"] = usd
        super().__init__(**data)


def calibrate(router: Router, prompts: Sequence[PromptInput], target: StrongShare | BudgetPerRequest) -> Threshold:
    """Fit a `Threshold` so that `router` meets `target` on `prompts` (a sample of your traffic).

    Ties are kept together (prompts with equal scores always go the same way), so the realised
    share is the achievable one closest to the target without exceeding it.

    Raises:
        ConfigError: for a many-model router, too few prompts, or a budget no threshold can meet.
    """
    if not router.pairwise:
        raise ConfigError(f"`calibrate` fits a threshold for strong/weak routers; {router.name!r} is not one.")
    texts = [prompt_text(p) for p in prompts]
    if len(texts) < 2:
        raise ConfigError(f"`calibrate` needs a sample of prompts (got {len(texts)}); pass a few hundred.")
    scores = router.scores(texts)[:, 0]
    if isinstance(target, StrongShare):
        return Threshold(threshold_for_share(scores, target.share))
    return Threshold(_threshold_for_budget(router, texts, scores, target.usd))


def _candidate_thresholds(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One threshold per achievable strong share, each halfway between adjacent distinct scores.

    Midpoints, not the scores themselves: a prompt scored alone can differ from its batch score by
    float noise (~1e-9), which would flip a prompt sitting exactly on the threshold.
    """
    distinct = np.unique(scores)
    below_all = min(0.0, float(distinct[0]))
    above_all = (distinct[-1] + 1.0) / 2 if distinct[-1] < 1.0 else np.inf
    thresholds = np.concatenate([[below_all], (distinct[:-1] + distinct[1:]) / 2, [above_all]])
    ordered = np.sort(scores)
    shares = 1.0 - np.searchsorted(ordered, thresholds, side="left") / scores.size
    return thresholds, shares


def threshold_for_share(scores: np.ndarray, share: float) -> float:
    """The threshold whose strong share on `scores` is the largest achievable one ≤ `share`."""
    thresholds, shares = _candidate_thresholds(scores)
    feasible = np.flatnonzero(shares <= share + 1e-12)
    best = feasible[np.argmax(shares[feasible])]  # the largest share not above the target
    return float(min(thresholds[best], 1.0))


def _threshold_for_budget(router: Router, texts: list[str], scores: np.ndarray, usd: float) -> float:
    costs = np.array([router.expected_costs(t) for t in texts], dtype=object)
    if any(c is None for c in costs.ravel()):
        raise ConfigError(
            f"`BudgetPerRequest` needs prices for {router.strong!r} and {router.weak!r}; "
            "give the router priced models or calibrate with `StrongShare`."
        )
    strong_cost, weak_cost = costs[:, 0].astype(float), costs[:, 1].astype(float)
    thresholds, _ = _candidate_thresholds(scores)
    # Mean spend at each threshold: all-weak spend plus the extra cost of the prompts sent strong.
    order = np.argsort(-scores, kind="stable")
    extra = np.concatenate([[0.0], np.cumsum((strong_cost - weak_cost)[order])])
    strong_count = np.searchsorted(-scores[order], -thresholds, side="right")
    spend = (weak_cost.sum() + extra[strong_count]) / scores.size
    feasible = np.flatnonzero(spend <= usd)
    if feasible.size == 0:
        raise ConfigError(
            f"No threshold keeps the mean cost under ${usd:g} per request: even all-weak costs "
            f"${weak_cost.mean():.6f}. Raise the budget."
        )
    # Thresholds ascend and spend falls with them: the first feasible one buys the most strong calls.
    return float(min(thresholds[feasible[0]], 1.0))
