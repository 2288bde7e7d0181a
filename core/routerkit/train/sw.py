"""The pieces of an `sw` (similarity-weighted ranking) artifact, computed from training battles.

Follows RouteLLM's `SWRankingRouter` (see `routerkit.routers.sw` for the per-query algorithm):

- a global Bradley–Terry fit of every model on all battles (`global_ratings`);
- the models, sorted by that rating, cut into contiguous tiers minimising the summed within-tier
  squared deviation of the ratings (RouteLLM's `compute_tiers` dynamic programme; `compute_tiers`);
- per training prompt, its battles summed into a tier-vs-tier win matrix (`prompt_tier_wins`), the
  sufficient statistic that lets one MatMul replace a per-request refit over individual battles;
- `reference_scores`: the straightforward per-query computation (every battle weighted, a fresh fit),
  the yardstick for the ONNX head and for the tests.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from routerkit.data import Battles, OutcomeTable, load_dataset
from routerkit.errors import ConfigError
from routerkit.routers.sw import fit_bradley_terry
from routerkit.runtime.encoder import Encoder
from routerkit.train.embeddings import table_embeddings
from routerkit.train.recipe import PairRecipe, read_recipe_file

__all__ = [
    "PromptWins",
    "SWHyperparameters",
    "SWRecipe",
    "battle_embeddings",
    "compute_tiers",
    "global_ratings",
    "prompt_tier_wins",
    "read_sw_recipe",
    "reference_scores",
    "validation_loss",
]

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]


class SWHyperparameters(BaseModel):
    """Settings of the SW ranking router (RouteLLM's values where it has them)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    n_tiers: int = Field(10, ge=2)
    """Number of Elo tiers the models are grouped into (RouteLLM: 10)."""
    gammas: tuple[float, ...] = Field((10.0,), min_length=1)
    """Candidate bases γ of the similarity weight `γ^(1 + sim / max sim)` (RouteLLM: 10); the build keeps
    the one whose per-query fits best predict the validation battles (`validation_loss`)."""
    iterations: int = Field(6, gt=0)
    """Newton steps per query, started from the global tier ratings."""


class SWRecipe(PairRecipe):
    """Everything that determines a built `sw` artifact, besides the data and tool versions."""

    hyperparameters: SWHyperparameters = SWHyperparameters()


def read_sw_recipe(path: Path) -> SWRecipe:
    """Read and validate a recipe file.

    Raises:
        ConfigError: naming the file and the invalid field.
    """
    return read_recipe_file(SWRecipe.model_validate_json, path)


def global_ratings(data: Battles, *, iterations: int = 30) -> Floats:
    """Unweighted (battle weights only) Bradley–Terry rating of every model: `float64[n_models]`."""
    k = len(data.models)
    wins = np.zeros((k, k))
    np.add.at(wins, (data.winner, data.loser), data.weight)
    ratings: Floats = fit_bradley_terry(wins, np.zeros(k), iterations=iterations)[0]
    return ratings


def compute_tiers(ratings: npt.ArrayLike, n_tiers: int) -> Ints:
    """Tier of each model (0 = strongest): contiguous groups by rating, least within-tier variance.

    The dynamic programme of RouteLLM's `compute_tiers`: over the sorted ratings, the split into
    `n_tiers` contiguous groups with the smallest sum of squared deviations from the group means.

    Raises:
        ConfigError: if there are fewer models than tiers.
    """
    values = np.asarray(ratings, dtype=np.float64)
    if values.size < n_tiers:
        raise ConfigError(f"{values.size} models cannot fill {n_tiers} tiers; lower `n_tiers` in the recipe.")
    order = np.argsort(-values, kind="stable")
    cuts = _tier_cuts(values[order], n_tiers)
    tiers = np.empty(values.size, dtype=np.int64)
    for tier, (lo, hi) in enumerate(pairwise(cuts)):
        tiers[order[lo:hi]] = tier
    return tiers


def _tier_cuts(sorted_values: Floats, n_tiers: int) -> list[int]:
    """Boundaries `[0, …, k]` of the optimal contiguous partition (O(T·k²) DP on prefix sums)."""
    k = sorted_values.size
    s1 = np.concatenate([[0.0], np.cumsum(sorted_values)])
    s2 = np.concatenate([[0.0], np.cumsum(sorted_values**2)])

    def sse(i: int, j: int) -> float:
        return float(s2[j] - s2[i] - (s1[j] - s1[i]) ** 2 / (j - i))

    cost = np.full((n_tiers + 1, k + 1), np.inf)
    back = np.zeros((n_tiers + 1, k + 1), dtype=np.int64)
    cost[0, 0] = 0.0
    for t in range(1, n_tiers + 1):
        for j in range(t, k + 1):
            options = [cost[t - 1, i] + sse(i, j) for i in range(t - 1, j)]
            best = int(np.argmin(options))
            cost[t, j], back[t, j] = options[best], best + t - 1
    cuts = [k]
    for t in range(n_tiers, 0, -1):
        cuts.append(int(back[t, cuts[-1]]))
    return cuts[::-1]


@dataclass(frozen=True)
class PromptWins:
    """Per-prompt tier-vs-tier wins of the prompts that decide at least one cross-tier battle.

    Attributes:
        rows: index of each kept prompt in `Battles.texts`.
        wins: `float64[len(rows), T, T]`, summed battle weights of row tier beating column tier.
    """

    rows: Ints
    wins: Floats


def prompt_tier_wins(data: Battles, tier_of_model: Ints, n_tiers: int) -> PromptWins:
    """Sum each prompt's battles by (winner tier, loser tier); same-tier battles carry no information."""
    tw, tl = tier_of_model[data.winner], tier_of_model[data.loser]
    cross = tw != tl
    wins = np.zeros((len(data.texts), n_tiers, n_tiers))
    np.add.at(wins, (data.prompt[cross], tw[cross], tl[cross]), data.weight[cross].astype(np.float64))
    rows = np.flatnonzero(wins.sum(axis=(1, 2)) > 0)
    return PromptWins(rows.astype(np.int64), wins[rows])


def validation_loss(
    val_emb: npt.ArrayLike,
    val_wins: Floats,
    prompt_emb: npt.ArrayLike,
    prompt_wins: Floats,
    start: npt.ArrayLike,
    gamma: float,
) -> float:
    """Mean tier-level Bradley–Terry log-loss of validation battles, each prompt under its own SW fit.

    Each validation prompt is a query: its tier ratings are fitted on the train prompts weighted by
    `γ^(sim / max sim)`, then its own battles (`val_wins`, `[n_val, T, T]`) are scored. Lower is better;
    this is what selects γ (test data never enters).
    """
    v = np.asarray(val_emb, dtype=np.float64)
    e = np.asarray(prompt_emb, dtype=np.float64)
    sim = (v / np.linalg.norm(v, axis=1, keepdims=True)) @ (e / np.linalg.norm(e, axis=1, keepdims=True)).T
    top = sim.max(axis=1, keepdims=True)
    weight = gamma ** ((sim - top) / np.maximum(top, 1e-3))
    wins = (weight @ prompt_wins.reshape(len(prompt_wins), -1)).reshape(-1, *prompt_wins.shape[1:])
    theta = fit_bradley_terry(wins, start, iterations=10)
    log_p = -np.logaddexp(0.0, theta[:, None, :] - theta[:, :, None])  # log σ(θ_a − θ_b)
    return float(-(val_wins * log_p).sum() / val_wins.sum())


def battle_embeddings(encoder: Encoder, tables: Sequence[OutcomeTable]) -> npt.NDArray[np.float32]:
    """Embeddings of the prompts of `tables`, in `battles(tables).texts` order.

    Read from each full dataset's shared embedding cache (`table_embeddings`) and picked by prompt id,
    so every router built or evaluated on a dataset reuses one cache entry.
    """
    parts = []
    for table in tables:
        full = load_dataset(table.name)
        index = {p.id: i for i, p in enumerate(full.prompts)}
        parts.append(table_embeddings(encoder, full)[[index[p.id] for p in table.prompts]])
    return np.concatenate(parts).astype(np.float32)


def reference_scores(
    queries: npt.ArrayLike,
    data: Battles,
    prompt_embeddings: npt.ArrayLike,
    tier_of_model: Ints,
    pair: tuple[int, int],
    *,
    gamma: float = 10.0,
) -> Floats:
    """P(strong tier beats weak tier) per query, computed the direct way (slow; for checks only).

    For each query: cosine similarity to every battle's prompt, RouteLLM's weight
    `battle weight · γ^(1 + sim / max sim)` on every battle, then a fresh tier-level Bradley–Terry fit
    started from zero ratings.

    Args:
        queries: `[n, dim]` query embeddings.
        data, prompt_embeddings: the battles and the embeddings of `data.texts`.
        tier_of_model: tier of each of `data.models`.
        pair: (strong model index, weak model index) into `data.models`.
        gamma: base of the similarity weight.
    """
    q = np.asarray(queries, dtype=np.float64)
    e = np.asarray(prompt_embeddings, dtype=np.float64)
    q = q / np.linalg.norm(q, axis=1, keepdims=True)
    e = e / np.linalg.norm(e, axis=1, keepdims=True)
    n_tiers = int(tier_of_model.max()) + 1
    tw, tl = tier_of_model[data.winner], tier_of_model[data.loser]
    out = np.empty(q.shape[0])
    for i, query in enumerate(q):
        sim = e @ query
        weight = data.weight * gamma ** (1.0 + sim[data.prompt] / sim.max())
        wins = np.zeros((n_tiers, n_tiers))
        np.add.at(wins, (tw, tl), np.where(tw != tl, weight, 0.0))
        theta = fit_bradley_terry(wins, np.zeros(n_tiers), iterations=50)[0]
        gap = theta[tier_of_model[pair[0]]] - theta[tier_of_model[pair[1]]]
        out[i] = 1.0 / (1.0 + np.exp(-gap))
    return out
