"""`Decision`: what a router decided for one request, and why."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Decision"]


class Decision(BaseModel):
    """The outcome of routing one request; what adapters, the server and hooks see and users log.

    Example:
        >>> decision = router.route("Prove that sqrt(2) is irrational.")  # doctest: +SKIP
        >>> decision.model, decision.role, round(decision.latency_ms, 1)  # doctest: +SKIP
        ('gpt-4-1106-preview', 'strong', 3.1)
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str
    """The chosen model."""
    role: Literal["strong", "weak"] | None
    """For strong/weak routers, which side was chosen; None for many-model routers."""
    scores: dict[str, float]
    """The router's scores: `{"strong_win_rate": p}` for strong/weak routers, else model → score."""
    candidates: tuple[str, ...]
    """The models the policy chose among."""
    policy: str
    """Policy kind, e.g. `threshold` or `cost_aware`."""
    policy_params: dict[str, float]
    """The policy's parameters, e.g. `{"threshold": 0.5}`."""
    expected_cost_usd: float | None
    """Estimated cost of the chosen model for this prompt (prompt chars / 4 input tokens plus the
    model's mean output tokens), None when its price is unknown."""
    router: str
    router_version: str
    latency_ms: float = Field(ge=0)
    """Wall time of scoring and choosing, in milliseconds."""
