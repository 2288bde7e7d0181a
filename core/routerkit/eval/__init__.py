"""Evaluate routers the RouteLLM way: threshold sweeps, PGR, APGR, CPT, and cost–quality plots."""

from __future__ import annotations

from routerkit.eval.metrics import (
    Curve,
    Summary,
    apgr,
    auc,
    cpt,
    is_monotone,
    oracle_curve,
    pgr,
    random_curve,
    summarize,
    threshold_sweep,
)
from routerkit.eval.plot import plot_cost_quality

__all__ = [
    "Curve",
    "Summary",
    "apgr",
    "auc",
    "cpt",
    "is_monotone",
    "oracle_curve",
    "pgr",
    "plot_cost_quality",
    "random_curve",
    "summarize",
    "threshold_sweep",
]
