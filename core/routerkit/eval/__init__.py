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
from routerkit.eval.report import EvalResult, GroupResult, evaluate, format_group

__all__ = [
    "Curve",
    "EvalResult",
    "GroupResult",
    "Summary",
    "apgr",
    "auc",
    "cpt",
    "evaluate",
    "format_group",
    "is_monotone",
    "oracle_curve",
    "pgr",
    "plot_cost_quality",
    "random_curve",
    "summarize",
    "threshold_sweep",
]
