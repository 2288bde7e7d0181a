"""Measures of an EmbedLLM-style correctness forecaster (numpy): accuracy/AUC, routing, rank correlation.

Shared by the artifact builder (test metrics in the manifest) and `bench/embedllm_eval.py`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from routerkit.errors import ConfigError

__all__ = ["RoutingSummary", "auc_score", "forecast_metrics", "pearson", "ranks", "routing_summary", "spearman"]

Array = npt.NDArray[np.float64]


def ranks(values: npt.ArrayLike) -> Array:
    """1-based ranks with ties given their average rank."""
    x = np.asarray(values, dtype=np.float64)
    order = np.argsort(x, kind="mergesort")
    sorted_x = x[order]
    result = np.empty(len(x), dtype=np.float64)
    starts = np.flatnonzero(np.r_[True, sorted_x[1:] != sorted_x[:-1]])
    ends = np.r_[starts[1:], len(x)]
    for start, end in zip(starts, ends, strict=True):
        result[order[start:end]] = (start + end + 1) / 2.0
    return result


def auc_score(scores: npt.ArrayLike, labels: npt.ArrayLike) -> float:
    """ROC AUC (Mann–Whitney, ties count half); NaN when only one class is present."""
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels) >= 0.5
    positives, negatives = int(y.sum()), int((~y).sum())
    if positives == 0 or negatives == 0:
        return float("nan")
    rank_sum = float(ranks(s)[y].sum())
    return (rank_sum - positives * (positives + 1) / 2.0) / (positives * negatives)


def pearson(a: npt.ArrayLike, b: npt.ArrayLike) -> float:
    """Pearson correlation of two vectors."""
    return float(np.corrcoef(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64))[0, 1])


def spearman(a: npt.ArrayLike, b: npt.ArrayLike) -> float:
    """Spearman rank correlation of two vectors."""
    return pearson(ranks(a), ranks(b))


def forecast_metrics(probs: npt.ArrayLike, labels: npt.ArrayLike) -> dict[str, float]:
    """Accuracy (threshold 0.5) and AUC of P(correct) over the observed cells (labels not NaN)."""
    p = np.asarray(probs, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    if p.shape != y.shape:
        raise ConfigError(f"probabilities {p.shape!r} and labels {y.shape!r} must have the same shape.")
    observed = ~np.isnan(y)
    p, y = p[observed], y[observed]
    return {"accuracy": float(np.mean((p >= 0.5) == (y >= 0.5))), "auc": auc_score(p, y), "cells": float(len(y))}


@dataclass(frozen=True)
class RoutingSummary:
    """Routed quality against the baselines of EmbedLLM §5.2, on one table of scores."""

    routed: float
    """Mean score of the model each prompt was routed to."""
    best_single: float
    """Mean score of the best model on these prompts (chosen on them: an optimistic baseline)."""
    best_model: int
    oracle: float
    """Mean over prompts of the best observed score (0 where no model has a result)."""
    random_same_shares: float
    """Exact expectation of a router that uses each model as often as `routed` but at random."""
    shares: Array
    """Share of prompts routed to each model."""
    cost_per_1k: float
    """USD per 1,000 prompts of the routed choices (NaN where a chosen model has no cost)."""
    best_single_cost_per_1k: float


def routing_summary(choice: npt.ArrayLike, scores: npt.ArrayLike, costs: npt.ArrayLike) -> RoutingSummary:
    """Summarise routing `choice[n]` (model index per prompt) against `scores[n, m]` (NaN = missing).

    A prompt routed to a model without a score counts as a 0; callers avoid it by masking missing cells
    before the argmax. `costs[n, m]` is the USD cost of each (prompt, model), NaN where unknown.
    """
    s = np.asarray(scores, dtype=np.float64)
    c = np.asarray(costs, dtype=np.float64)
    chosen = np.asarray(choice, dtype=np.intp)
    rows = np.arange(len(chosen))
    counts = (~np.isnan(s)).sum(axis=0)
    per_model = np.where(counts > 0, np.nansum(s, axis=0) / np.maximum(counts, 1), np.nan)
    best = int(np.nanargmax(per_model))
    shares = np.bincount(chosen, minlength=s.shape[1]) / len(chosen)
    return RoutingSummary(
        routed=float(np.mean(np.nan_to_num(s[rows, chosen], nan=0.0))),
        best_single=float(per_model[best]),
        best_model=best,
        oracle=float(np.mean(np.nan_to_num(np.fmax.reduce(s, axis=1), nan=0.0))),  # no result at all counts 0
        random_same_shares=float(np.sum(shares * np.nan_to_num(per_model, nan=0.0))),
        shares=shares,
        cost_per_1k=1000.0 * float(np.mean(c[rows, chosen])),
        best_single_cost_per_1k=1000.0 * float(np.mean(c[:, best])),
    )
