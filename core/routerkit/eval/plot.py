"""`plot_cost_quality`: one cost–quality panel per task group, routers beside their baselines."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from routerkit.errors import ConfigError, MissingDependencyError
from routerkit.eval.metrics import Curve

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["plot_cost_quality"]

_STYLES: dict[str, tuple[str, str | None]] = {"oracle": ("--", "0.15"), "random": (":", "0.45")}
"""(line style, colour) of the baselines; routers are solid and keep the colour cycle to themselves."""

_PANEL_INCHES = (5.5, 4.5)


def plot_cost_quality(curves: Mapping[str, Mapping[str, Curve]], path: Path, title: str) -> Path:
    """Write a PNG of quality (%) against strong calls (%), one panel per task group.

    Each panel draws one line per router or baseline (the legend uses the names; `oracle` is
    dashed, `random` dotted) and horizontal reference lines at weak-only quality (every curve's
    first point) and strong-only quality (the last point of the first curve that is not `oracle`,
    whose curve ends above it).

    Args:
        curves: `{task group: {router name: Curve}}`, e.g. `{"mmlu": {"mf": ..., "random": ...}}`.
        path: where to write the PNG (parent folders are created).
        title: the figure title.

    Returns:
        `path`.

    Raises:
        ConfigError: if `curves` or one of its groups is empty.
        MissingDependencyError: if matplotlib (the `eval` extra) is not installed.
    """
    try:
        import matplotlib  # noqa: F401  (checked first, so a missing package fails here)
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise MissingDependencyError.for_extra("Plotting", "eval", "matplotlib") from exc
    _check_groups(curves)
    width, height = _PANEL_INCHES
    figure = Figure(figsize=(width * len(curves), height), dpi=120, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(1, len(curves), squeeze=False)[0]
    for ax, (group, named) in zip(axes, curves.items(), strict=True):
        _draw_panel(ax, group, named)
    figure.suptitle(title)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    return path


def _check_groups(curves: Mapping[str, Mapping[str, Curve]]) -> None:
    if not curves:
        raise ConfigError("`curves` is empty: pass `{task group: {router name: Curve}}`.")
    for group, named in curves.items():
        if not named:
            raise ConfigError(f"Task group {group!r} has no curves; drop it or add a router's curve.")


def _draw_panel(ax: Axes, group: str, named: Mapping[str, Curve]) -> None:
    for name, curve in named.items():
        linestyle, color = _STYLES.get(name, ("-", None))
        x, y = 100 * curve.strong_share, 100 * curve.quality
        ax.plot(x, y, label=name, linewidth=1.6, linestyle=linestyle, color=color)
    _reference_lines(ax, named)
    ax.set_title(group)
    ax.set_xlabel("strong-model calls (%)")
    ax.set_ylabel("quality (%)")
    ax.set_xlim(0, 100)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="lower right", fontsize="small")


def _reference_lines(ax: Axes, named: Mapping[str, Curve]) -> None:
    first = next(iter(named.values()))
    weak = 100 * float(first.quality[0])
    ax.axhline(weak, color="tab:red", linewidth=0.9, linestyle="-.", label=f"weak only ({weak:.1f}%)")
    swept = [c for name, c in named.items() if name != "oracle"]
    if swept:
        strong = 100 * float(swept[0].quality[-1])
        ax.axhline(strong, color="tab:green", linewidth=0.9, linestyle="-.", label=f"strong only ({strong:.1f}%)")
