"""Pieces every artifact builder shares: the manifest's model entries and a strong/weak router's test metrics."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from routerkit.artifacts import ModelEntry
from routerkit.data import OutcomeTable, load_dataset
from routerkit.eval.report import evaluate, format_group
from routerkit.routers.base import Router

__all__ = ["model_entries", "pair_test_metrics"]


def model_entries(models: Sequence[str], tables: Sequence[OutcomeTable]) -> tuple[ModelEntry, ...]:
    """Each model with its price (first dataset that lists one) and mean output tokens."""
    entries = []
    for name in models:
        prices: dict[str, float | None] = {}
        tokens: list[float] = []
        for table in tables:
            if name not in table.models:
                continue
            for key, value in table.prices[name].items():
                if prices.get(key) is None:
                    prices[key] = value
            column = table.output_tokens[:, table.models.index(name)]
            tokens.extend(column[~np.isnan(column)].tolist())
        entries.append(
            ModelEntry(
                name=name,
                input_usd_per_mtok=prices.get("input_usd_per_mtok"),
                output_usd_per_mtok=prices.get("output_usd_per_mtok"),
                mean_output_tokens=round(float(np.mean(tokens)), 1) if tokens else None,
            )
        )
    return tuple(entries)


def pair_test_metrics(
    router: Router,
    datasets: Sequence[str],
    log: Callable[[str], None],
    *,
    scored_by: Callable[[OutcomeTable], Router] | None = None,
) -> dict[str, dict[str, float]]:
    """RouteLLM metrics of a strong/weak router per `dataset/task group`, for the manifest.

    CPTs a router never reaches are left out (not NaN). `scored_by(table)` may give a stand-in that
    scores the table's prompts faster (e.g. from cached embeddings) with the same scores.
    """
    metrics: dict[str, dict[str, float]] = {}
    for dataset in datasets:
        table = load_dataset(dataset)
        scored = scored_by(table) if scored_by is not None else router
        for group in evaluate([scored], dataset=table, strong=router.strong, weak=router.weak).groups:
            log(format_group(group))
            summary = group.summaries[router.name]
            values = {key: getattr(summary, key) for key in ("apgr", "auc", "cpt20", "cpt50", "cpt80")}
            metrics[f"{dataset}/{group.group}"] = {
                **{key: round(value, 4) for key, value in values.items() if math.isfinite(value)},
                "n": float(group.n),
            }
    return metrics
