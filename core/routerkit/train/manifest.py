"""Pieces every artifact builder shares: the manifest's model entries (prices and output lengths)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from routerkit.artifacts import ModelEntry
from routerkit.data import OutcomeTable

__all__ = ["model_entries"]


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
