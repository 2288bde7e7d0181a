"""Pairwise preference data ("battles") built from outcome tables, as RouteLLM's trainers use."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations

import numpy as np
import numpy.typing as npt

from routerkit.data.format import OutcomeTable

__all__ = ["Battles", "battles"]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Battles:
    """Who beat whom on which prompt.

    Attributes:
        texts: the prompts (index space of `prompt`).
        models: every model of every table (index space of `winner` / `loser`).
        prompt, winner, loser: one entry per battle.
        weight: per-battle weight; each dataset's weights sum to the same total.
        counts: per dataset, the number of prompts and battles.
    """

    texts: tuple[str, ...]
    models: tuple[str, ...]
    prompt: IntArray
    winner: IntArray
    loser: IntArray
    weight: FloatArray
    counts: dict[str, dict[str, int]]

    def __len__(self) -> int:
        return int(self.prompt.size)


def battles(tables: Sequence[OutcomeTable]) -> Battles:
    """Build battles from every model pair of every table; ties and missing cells are dropped.

    A model beats another on a prompt when its score is strictly higher. Each table gets the same
    total weight, so a dataset with many models does not drown the others.
    """
    models = tuple(sorted({m for t in tables for m in t.models}))
    model_index = {m: i for i, m in enumerate(models)}
    texts: list[str] = []
    parts: list[tuple[IntArray, IntArray, IntArray, FloatArray]] = []
    counts: dict[str, dict[str, int]] = {}
    for table in tables:
        prompt, winner, loser = _table_battles(table, model_index, offset=len(texts))
        texts.extend(table.texts())
        weight = np.full(prompt.size, 1.0 / max(prompt.size, 1), dtype=np.float32)
        parts.append((prompt, winner, loser, weight))
        counts[table.name] = {"prompts": len(table), "battles": int(prompt.size)}
    prompt, winner, loser, weight = (np.concatenate(column) for column in zip(*parts, strict=True))
    # Each table sums to 1; rescale so the mean weight is 1 (keeps loss magnitudes familiar).
    weight = (weight * (weight.size / len(tables))).astype(np.float32)
    return Battles(tuple(texts), models, prompt, winner, loser, weight, counts)


def _table_battles(
    table: OutcomeTable, model_index: dict[str, int], *, offset: int
) -> tuple[IntArray, IntArray, IntArray]:
    prompts, winners, losers = [], [], []
    rows = np.arange(len(table), dtype=np.int64) + offset
    for a, b in combinations(range(len(table.models)), 2):
        sa, sb = table.scores[:, a], table.scores[:, b]
        decided = ~np.isnan(sa) & ~np.isnan(sb) & (sa != sb)
        a_wins = sa[decided] > sb[decided]
        ga, gb = model_index[table.models[a]], model_index[table.models[b]]
        prompts.append(rows[decided])
        winners.append(np.where(a_wins, ga, gb))
        losers.append(np.where(a_wins, gb, ga))
    empty = np.empty(0, dtype=np.int64)
    return (
        np.concatenate(prompts or [empty]).astype(np.int64),
        np.concatenate(winners or [empty]).astype(np.int64),
        np.concatenate(losers or [empty]).astype(np.int64),
    )
