"""The inputs of many-model routing metrics: outcomes per prompt and model, missing data, expected costs.

`ManyOutcomes` holds what each candidate scored and was paid on each prompt; `complete_cases` drops
what lacks an outcome (sparse models first, then prompts) and says what it dropped; `expected_costs`
estimates each call's cost before it is made, as the runtime's `Router.expected_costs` does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from routerkit.errors import ConfigError, UnknownNameError
from routerkit.eval.metrics import _finite
from routerkit.routers.base import _CHARS_PER_TOKEN, _DEFAULT_OUTPUT_TOKENS

__all__ = ["Completeness", "ManyOutcomes", "complete_cases", "expected_costs"]

Matrix = npt.NDArray[np.float64]
Indices = npt.NDArray[np.intp]


@dataclass(frozen=True, init=False, eq=False)
class ManyOutcomes:
    """What each candidate model scored and was paid on each prompt.

    Args:
        models: the candidates, one name per column.
        scores: `[n_prompts, n_models]` quality of each answer in [0, 1] (e.g. 0/1 correctness).
        cost: `[n_prompts, n_models]` USD paid for each call, ≥ 0.

    Raises:
        ConfigError: naming the argument, for a shape mismatch, a repeated model, NaN or inf (drop
            missing outcomes first with `complete_cases`), a score outside [0, 1] or a negative cost.
    """

    models: tuple[str, ...]
    """The candidates, one per column."""
    scores: Matrix
    """Quality of each answer, in [0, 1]."""
    cost: Matrix
    """USD paid for each call."""

    def __init__(self, models: Sequence[str], scores: npt.ArrayLike, cost: npt.ArrayLike) -> None:
        names = tuple(models)
        if len(set(names)) != len(names) or not names:
            raise ConfigError(f"`models` must name each candidate once (at least one), got {list(names)!r}.")
        quality = _matrix("scores", scores, (None, len(names)))
        object.__setattr__(self, "models", names)
        object.__setattr__(self, "scores", _in_range("scores", quality, 1.0))
        object.__setattr__(self, "cost", _in_range("cost", _matrix("cost", cost, quality.shape), np.inf))

    def __len__(self) -> int:
        return int(self.scores.shape[0])

    def select(self, models: Sequence[str]) -> ManyOutcomes:
        """Only the named candidates, in that order: the "allowed models" constraint.

        Raises:
            UnknownNameError: for a model that is not a column.
        """
        for name in models:
            if name not in self.models:
                raise UnknownNameError("model", name, self.models, "Allow only models the outcomes have columns for.")
        columns = [self.models.index(name) for name in models]
        return ManyOutcomes(list(models), self.scores[:, columns], self.cost[:, columns])

    def take(self, rows: npt.ArrayLike) -> ManyOutcomes:
        """The outcomes of the prompts at `rows`, in that order."""
        index = np.asarray(rows, dtype=np.intp)
        return ManyOutcomes(self.models, self.scores[index], self.cost[index])


@dataclass(frozen=True)
class Completeness:
    """Which models and prompts `complete_cases` kept, and what it dropped."""

    models: tuple[str, ...]
    """Models kept, in the original order."""
    rows: Indices
    """Prompt rows kept, ascending."""
    dropped_models: dict[str, float]
    """Model → the share of prompts it had no score or cost on (in its worst group, with `groups`)."""
    dropped_prompts: int
    """Prompts dropped because a kept model had no score or cost on them."""


def complete_cases(
    models: Sequence[str],
    scores: npt.ArrayLike,
    cost: npt.ArrayLike,
    *,
    max_missing: float = 0.1,
    groups: npt.ArrayLike | None = None,
) -> Completeness:
    """Drop what lacks an outcome: first models missing more than `max_missing` of the prompts, then prompts.

    A score or a cost that is NaN counts as missing. Dropping sparse models first keeps one model
    that lacks most prompts from taking every prompt with it.

    Args:
        models: one name per column.
        scores, cost: `[n_prompts, n_models]`, NaN where missing.
        max_missing: the largest share of missing prompts a kept model may have.
        groups: a label per prompt (e.g. its split); a model is then dropped when it misses more than
            `max_missing` of *any* group's prompts, so that no group (e.g. a small `val`) is emptied.

    Raises:
        ConfigError: for mismatched shapes, a `max_missing` outside [0, 1], or when nothing is left.
    """
    if not 0.0 <= max_missing <= 1.0:
        raise ConfigError(f"`max_missing` must be a share in [0, 1], got {max_missing!r}.")
    names = tuple(models)
    s = _matrix("scores", scores, (None, len(names)), finite=False)
    missing = np.isnan(s) | np.isnan(_matrix("cost", cost, s.shape, finite=False))
    share = _worst_share(missing, groups)
    keep = share <= max_missing
    rows = np.flatnonzero(~missing[:, keep].any(axis=1)).astype(np.intp)
    if not keep.any() or rows.size == 0:
        shares = dict(zip(names, np.round(share, 3).tolist(), strict=True))
        raise ConfigError(
            f"No complete outcomes are left with `max_missing={max_missing!r}` (missing share per model: "
            f"{shares!r}). Raise `max_missing` or pass fewer models."
        )
    dropped = {name: float(v) for name, v, k in zip(names, share, keep, strict=True) if not k}
    kept = tuple(name for name, k in zip(names, keep, strict=True) if k)
    return Completeness(kept, rows, dropped, int(len(s) - rows.size))


def _worst_share(missing: npt.NDArray[np.bool_], groups: npt.ArrayLike | None) -> Matrix:
    """Per model, the share of prompts missing, in the group where that share is largest."""
    if groups is None:
        return np.asarray(missing.mean(axis=0), dtype=np.float64)
    labels = np.asarray(groups)
    if labels.shape != (len(missing),):
        raise ConfigError(f"`groups` needs one label per prompt ({len(missing)}), got shape {labels.shape}.")
    per_group = np.array([missing[labels == g].mean(axis=0) for g in np.unique(labels)], dtype=np.float64)
    worst: Matrix = per_group.max(axis=0)
    return worst


def expected_costs(
    prompt_chars: npt.ArrayLike,
    input_usd_per_mtok: npt.ArrayLike,
    output_usd_per_mtok: npt.ArrayLike,
    mean_output_tokens: npt.ArrayLike,
) -> Matrix:
    """The cost each call is expected to have before it is made, as the runtime estimates it.

    `E[i, j] = (chars_i / 4 · input price_j + output tokens_j · output price_j) / 10⁶`, with the
    runtime's 256 output tokens where a model's mean is NaN (unknown).

    Args:
        prompt_chars: characters of each prompt.
        input_usd_per_mtok, output_usd_per_mtok: each model's prices per million tokens.
        mean_output_tokens: each model's mean output tokens (on `train`), NaN where unknown.

    Raises:
        ConfigError: for a NaN price or prompt length (skip unpriced models first), or mismatched lengths.
    """
    hint = "Skip models without a price and pass one value per model."
    chars = _finite("prompt_chars", prompt_chars, "Pass one length per prompt.")
    prices_in = _finite("input_usd_per_mtok", input_usd_per_mtok, hint)
    prices_out = _finite("output_usd_per_mtok", output_usd_per_mtok, hint)
    tokens = np.asarray(mean_output_tokens, dtype=np.float64)
    if not prices_in.shape == prices_out.shape == tokens.shape:
        raise ConfigError(
            f"Prices and mean output tokens have {len(prices_in)}, {len(prices_out)} and {tokens.size} values. {hint}"
        )
    tokens = np.where(np.isnan(tokens), _DEFAULT_OUTPUT_TOKENS, tokens)
    expected = np.outer(chars / _CHARS_PER_TOKEN, prices_in) + tokens * prices_out
    return _in_range("expected costs", expected / 1e6, np.inf)


# ----------------------------------------------------------------------------------- internals


def _matrix(name: str, values: npt.ArrayLike, shape: tuple[int | None, ...], *, finite: bool = True) -> Matrix:
    """`values` as a non-empty float64 matrix of `shape` (None: any size), finite unless told otherwise."""
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"`{name}` must be numbers; converting it failed: {exc}.") from exc
    wanted = "x".join("n" if size is None else str(size) for size in shape)
    if array.ndim != 2 or array.size == 0 or any(s not in (None, a) for s, a in zip(shape, array.shape, strict=True)):
        raise ConfigError(
            f"`{name}` must be a non-empty prompts × models matrix of shape {wanted}, got shape {array.shape}. "
            "Pass one row per prompt and one column per model, in the same order everywhere."
        )
    bad = np.argwhere(~np.isfinite(array))
    if finite and bad.size:
        row, col = (int(v) for v in bad[0])
        raise ConfigError(
            f"`{name}` has {len(bad)} NaN or infinite value(s) (first: {float(array[row, col])!r} at row {row}, "
            f"column {col}). Drop models or prompts without an outcome or a price first (`complete_cases`)."
        )
    return array


def _in_range(name: str, array: Matrix, upper: float) -> Matrix:
    """Refuse values below 0 or above `upper`, naming the first offender."""
    bad = np.argwhere((array < 0) | (array > upper))
    if bad.size:
        row, col = (int(v) for v in bad[0])
        what = "in [0, 1]" if upper == 1.0 else "≥ 0"
        raise ConfigError(
            f"`{name}` has {len(bad)} value(s) not {what} (first: {float(array[row, col])!r} at row {row}, "
            f"column {col}). Fix or drop those outcomes."
        )
    return array
