"""`evaluate`: RouteLLM metrics for routers on an outcome dataset, with every baseline beside them.

Each task group (the task's prefix before `/`, e.g. `mmlu`, `gsm8k`) gets its own table with the
routers, `random` (10 seeds), `length` (longer prompt → strong) and `oracle`, plus the weak-only and
strong-only (best single model) accuracies in its title.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from routerkit.data.format import OutcomeTable, load_dataset
from routerkit.errors import ConfigError
from routerkit.eval.cache import cached_scores
from routerkit.eval.metrics import Curve, Summary, oracle_curve, random_curve, summarize, threshold_sweep
from routerkit.routers.base import Router
from routerkit.routers.baselines import LengthRouter
from routerkit.routers.registry import load

__all__ = ["EvalResult", "GroupResult", "evaluate", "format_group"]

BASELINES = ("random", "length", "oracle")
Vector = npt.NDArray[np.float64]


@dataclass(frozen=True)
class GroupResult:
    """Metrics and curves of one task group."""

    dataset: str
    group: str
    n: int
    strong: str
    weak: str
    weak_mean: float
    strong_mean: float
    summaries: dict[str, Summary]
    curves: dict[str, Curve]


@dataclass(frozen=True)
class EvalResult:
    """Everything `evaluate` measured."""

    groups: list[GroupResult]
    plot: Path | None


def evaluate(
    routers: Sequence[str | Router] | None = None,
    *,
    dataset: str | OutcomeTable = "routellm",
    strong: str | None = None,
    weak: str | None = None,
    points: int = 101,
    plot: Path | None = None,
    progress: bool = True,
) -> EvalResult:
    """Evaluate strong/weak routers on every prompt of `dataset`, per task group.

    Args:
        routers: names for `routerkit.load` or router objects (default: `["mf"]`).
        dataset: a dataset name, folder, or loaded table.
        strong, weak: the pair (default: for a two-model dataset, the better model is strong).
        points: points of the threshold sweep (101 → every 1% of strong calls).
        plot: write a cost–quality PNG there (needs the `eval` extra).
        progress: show progress bars while scoring.

    Raises:
        ConfigError: for a dataset that does not name a strong/weak pair, or rows with missing outcomes.
    """
    table = dataset if isinstance(dataset, OutcomeTable) else load_dataset(dataset)
    strong, weak = _pair(table, strong, weak)
    named = [_as_router(r, strong, weak) for r in (routers or ["mf"])]
    # An adapted router was fitted on labelled prompts (`sample_ids`): no router is scored on them.
    fitted_on = frozenset().union(*(getattr(r, "sample_ids", frozenset()) for r in named))
    rows = [i for i in _complete_rows(table, strong, weak) if table.prompts[i].id not in fitted_on]
    texts = [table.prompts[i].text for i in rows]
    scores = {r.name: cached_scores(r, texts, progress=progress)[:, 0] for r in named}
    scores.setdefault("length", LengthRouter(strong=strong, weak=weak).scores(texts)[:, 0])
    strong_q, weak_q = table.column(strong)[rows], table.column(weak)[rows]
    groups = [
        _group(table.name, group, idx, scores, strong_q, weak_q, strong, weak, points)
        for group, idx in _task_groups(table, rows).items()
    ]
    path = None
    if plot is not None:
        from routerkit.eval.plot import plot_cost_quality

        title = f"{table.name}: {strong} vs {weak}"
        path = plot_cost_quality({g.group: g.curves for g in groups}, plot, title)
    return EvalResult(groups, path)


def _as_router(router: str | Router, strong: str, weak: str) -> Router:
    return router if isinstance(router, Router) else load(router, strong=strong, weak=weak)


def _pair(table: OutcomeTable, strong: str | None, weak: str | None) -> tuple[str, str]:
    if strong and weak:
        return strong, weak
    if len(table.models) != 2:
        raise ConfigError(
            f"Dataset {table.name!r} has {len(table.models)} models; pass `strong=` and `weak=` "
            f"(models: {', '.join(table.models)})."
        )
    means = {m: float(np.nanmean(table.column(m))) for m in table.models}
    ranked = sorted(means, key=means.__getitem__, reverse=True)
    return strong or ranked[0], weak or ranked[1]


def _complete_rows(table: OutcomeTable, strong: str, weak: str) -> list[int]:
    both = ~np.isnan(table.column(strong)) & ~np.isnan(table.column(weak))
    if not both.any():
        raise ConfigError(f"No prompt of {table.name!r} has outcomes for both {strong!r} and {weak!r}.")
    return [int(i) for i in np.flatnonzero(both)]


def _task_groups(table: OutcomeTable, rows: list[int]) -> dict[str, list[int]]:
    groups: dict[str, list[int]] = {}
    for position, row in enumerate(rows):
        groups.setdefault(table.prompts[row].task_group, []).append(position)
    return dict(sorted(groups.items()))


def _group(
    dataset: str,
    group: str,
    idx: list[int],
    scores: dict[str, Vector],
    strong_q: Vector,
    weak_q: Vector,
    strong: str,
    weak: str,
    points: int,
) -> GroupResult:
    s, w = strong_q[idx], weak_q[idx]
    curves = {name: threshold_sweep(values[idx], s, w, points=points) for name, values in scores.items()}
    curves["random"] = random_curve(s, w, points=points)
    curves["oracle"] = oracle_curve(s, w, points=points)
    order = [n for n in curves if n not in BASELINES] + list(BASELINES)
    curves = {name: curves[name] for name in order}
    summaries = {name: summarize(curve, s, w) for name, curve in curves.items()}
    return GroupResult(dataset, group, len(idx), strong, weak, float(w.mean()), float(s.mean()), summaries, curves)


def format_group(result: GroupResult) -> str:
    """A Markdown table of one group: routers first, then random, length and oracle."""
    lines = [
        f"{result.dataset} · {result.group}  (n={result.n}; weak {result.weak} {100 * result.weak_mean:.2f}%, "
        f"strong {result.strong} {100 * result.strong_mean:.2f}% = best single model)",
        "",
        "| router | APGR | CPT(20%) | CPT(50%) | CPT(80%) | AUC |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, s in result.summaries.items():
        flag = "" if s.monotone else " (non-monotone)"
        lines.append(
            f"| {name}{flag} | {s.apgr:.3f} | {_pct(s.cpt20)} | {_pct(s.cpt50)} | {_pct(s.cpt80)} | {100 * s.auc:.2f} |"
        )
    return "\n".join(lines)


def _pct(value: float) -> str:
    return "n/a" if np.isnan(value) else f"{100 * value:.1f}%"
