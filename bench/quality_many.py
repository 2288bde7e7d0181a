"""Many-model routing quality on `mmlu-pro`, `zeroeval` and `llmrouter` (test split), with real prices.

Run by `make bench` as `.venv/bin/python bench/quality_many.py` (well under a minute once the prompt
embeddings are cached by `routerkit.train.embeddings.table_embeddings`). For each dataset it evaluates
every many-model router that applies: the shipped `mf` (its Bradley–Terry strengths of the dataset's
models as predicted quality) and every artifact of kind `knn`, `embedllm` or `zooter` that
`routerkit.list_routers()` reports and that was trained on that dataset. Each router routes with
`CostAware(λ)` semantics: argmax of predicted quality − λ · expected cost / the prompt's largest
expected cost, where the expected cost is known before the call (prices × (prompt characters / 4 +
the model's mean output tokens on train)); what a choice costs is the dataset's own per-call cost.

Choices are made on `val` (λ for the most accurate val point, and λ for the cheapest val point as
accurate as the best single model on val); numbers are on `test`, beside the baselines of
`routerkit.eval.many_model`. The script writes the marked `quality-many` block of
`docs/benchmarks.md` (the rest of the page is untouched) and one plot per dataset,
`docs/img/many-model-<dataset>.png`.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import routerkit
from _blocks import write_section
from routerkit.data.format import OutcomeTable, load_dataset
from routerkit.errors import RouterkitError
from routerkit.eval.bootstrap import bootstrap_resamples, percentile_interval
from routerkit.eval.many_model import (
    Baselines,
    Completeness,
    ManyCurve,
    ManyOutcomes,
    Point,
    RouterResult,
    aiq,
    baselines,
    complete_cases,
    cost_saving,
    evaluate_router,
    expected_costs,
    gap_closed,
    route,
    routing_curve,
    tune_weight,
)
from routerkit.routers.base import Router
from routerkit.routers.head import HeadRouter
from routerkit.routers.mf import MFRouter
from routerkit.routers.registry import load_encoder
from routerkit.train.embeddings import table_embeddings

Matrix = npt.NDArray[np.float64]
Indices = npt.NDArray[np.intp]

DATASETS = ("mmlu-pro", "zeroeval", "llmrouter")
HEAD_KINDS = ("knn", "embedllm", "zooter")
MAX_MISSING = 0.1  # a model missing more of the val or of the test prompts than this is dropped, then prompts
PER_1K = 1000.0  # costs are shown in USD per 1,000 prompts
RESAMPLES, SEED = 1000, 0  # paired bootstrap of the test prompts
START, END = "<!-- quality-many:start -->", "<!-- quality-many:end -->"


# ------------------------------------------------------------------------------------- the data


@dataclass(frozen=True)
class Split:
    """One split's outcomes on the evaluated models, with the costs known before each call."""

    outcomes: ManyOutcomes
    expected: Matrix
    rows: Indices
    """Rows of the full table."""


@dataclass(frozen=True)
class Prepared:
    """A dataset reduced to what can be evaluated, and what was dropped on the way."""

    name: str
    unpriced: list[str]
    unscored: list[str]
    """Priced models some evaluated router does not score."""
    estimated: list[str]
    """Models whose cost per call is the estimate (the source has no output tokens)."""
    kept: Completeness
    mean_tokens: dict[str, float]
    prices: dict[str, dict[str, float | None]]
    val: Split
    test: Split


def priced_models(table: OutcomeTable) -> list[str]:
    """Models with both an input and an output price."""
    return [m for m in table.models if all(v is not None for v in table.prices[m].values())]


def mean_output_tokens(table: OutcomeTable, models: list[str]) -> Matrix:
    """Each model's mean output tokens on `train` (NaN where the source has none)."""
    train = table.split("train").output_tokens[:, [table.models.index(m) for m in models]]
    known = ~np.isnan(train)
    totals = np.where(known, train, 0.0).sum(axis=0)
    counts = known.sum(axis=0)
    means: Matrix = np.divide(totals, counts, out=np.full(len(models), np.nan), where=counts > 0)
    return means


def prepare(table: OutcomeTable, known: set[str]) -> Prepared:
    """Priced models every router scores; expected and paid costs; complete val and test outcomes."""
    priced = priced_models(table)
    models = [m for m in priced if m in known]
    columns = [table.models.index(m) for m in models]
    tokens = mean_output_tokens(table, models)
    price_in, price_out = (
        np.array([table.prices[m][key] for m in models], dtype=np.float64)  # priced: never None here
        for key in ("input_usd_per_mtok", "output_usd_per_mtok")
    )
    expected = expected_costs([len(p.text) for p in table.prompts], price_in, price_out, tokens)
    split = np.array([p.split for p in table.prompts])
    evaluated = np.flatnonzero((split == "val") | (split == "test"))
    paid = table.cost_usd[:, columns].copy()
    estimated = [m for j, m in enumerate(models) if np.isnan(paid[evaluated, j]).all()]
    for m in estimated:  # no output tokens in the source: the call's cost is the estimate
        paid[:, models.index(m)] = expected[:, models.index(m)]
    kept = complete_cases(
        models, table.scores[evaluated][:, columns], paid[evaluated], max_missing=MAX_MISSING, groups=split[evaluated]
    )
    keep = [models.index(m) for m in kept.models]
    rows = evaluated[kept.rows]

    def part(name: str) -> Split:
        mine = rows[split[rows] == name]
        return Split(
            ManyOutcomes(kept.models, table.scores[mine][:, [columns[j] for j in keep]], paid[mine][:, keep]),
            expected[mine][:, keep],
            mine,
        )

    return Prepared(
        name=table.name,
        unpriced=[m for m in table.models if m not in priced],
        unscored=[m for m in priced if m not in known],
        estimated=[m for m in estimated if m in kept.models],
        kept=kept,
        mean_tokens={m: float(t) for m, t in zip(models, tokens, strict=True)},
        prices={m: table.prices[m] for m in kept.models},
        val=part("val"),
        test=part("test"),
    )


# ---------------------------------------------------------------------------------- the routers


def routers_for(dataset: str) -> tuple[list[Router], list[str]]:
    """`mf`, and every `knn` / `embedllm` / `zooter` artifact trained on `dataset`, found at run time.

    Returns:
        The routers, and a line for each artifact that failed to load (skipped, not fatal: other
        artifacts may be mid-rebuild).
    """
    found: list[Router] = []
    skipped: list[str] = []
    for info in routerkit.list_routers():
        if info.kind != "mf" and info.kind not in HEAD_KINDS:
            continue
        try:
            router = routerkit.load(info.name, threads=1)
        except RouterkitError as exc:
            skipped.append(f"`{info.name}` ({type(exc).__name__}: {exc})")
            continue
        if info.kind == "mf" or dataset in router.manifest.training.datasets:  # type: ignore[attr-defined]
            found.append(router)
    return found, skipped


def model_listed(router: Router) -> list[str]:
    return [m.name for m in router.manifest.models]  # type: ignore[attr-defined]


def predicted_quality(router: Router, embeddings: npt.NDArray[np.float32], models: tuple[str, ...]) -> Matrix:
    """The router's score of each evaluated model for precomputed embeddings (columns in `models` order)."""
    if isinstance(router, HeadRouter):
        every = router.scores_of_embeddings(embeddings)
    elif isinstance(router, MFRouter):
        feed = {router.manifest.head_input: np.ascontiguousarray(embeddings, dtype=np.float32)}
        every = np.asarray(router.head().run([router.manifest.head_output], feed)[0], dtype=np.float64)
    else:
        raise SystemExit(f"No many-model scores for router {router.name!r} of type {type(router).__name__}.")
    names = model_listed(router)
    return every[:, [names.index(m) for m in models]]


def check_shortcut(router: Router, table: OutcomeTable, embeddings: npt.NDArray[np.float32]) -> None:
    """The head on cached embeddings must give what the router gives on the texts (4 prompts)."""
    texts = table.texts()[:4]
    models = tuple(model_listed(router))
    direct = router.strengths(texts) if isinstance(router, MFRouter) else router.scores(texts)
    via = predicted_quality(router, embeddings[:4], models)
    if not np.allclose(direct, via, atol=1e-5):
        raise SystemExit(f"Cached-embedding scores of {router.name!r} differ: max |Δ| {np.abs(direct - via).max()}")


# --------------------------------------------------------------------------------- evaluation


@dataclass(frozen=True)
class Evaluated:
    """One router on one dataset: val-tuned weights and what they give on test."""

    name: str
    result: RouterResult
    """The test curve, evaluated at the weight tuned on val for the most accurate point."""
    weight_match: float
    """λ of the cheapest val point as accurate as the best single model on val (NaN: none is)."""
    at_match: Point | None
    val_curve: ManyCurve
    choice: Indices
    """The model chosen per test prompt at `result.weight`."""


def evaluate(router: Router, data: Prepared, embeddings: npt.NDArray[np.float32], base: Baselines) -> Evaluated:
    """Tune λ on val, then sweep and score the router on test."""
    models = data.test.outcomes.models
    q_val = predicted_quality(router, embeddings[data.val.rows], models)
    q_test = predicted_quality(router, embeddings[data.test.rows], models)
    val_curve = routing_curve(q_val, data.val.outcomes, data.val.expected)
    val_base = baselines(data.val.outcomes)
    match = tune_weight(val_curve, target=float(val_base.singles.accuracy[val_base.best]))
    result = evaluate_router(q_test, data.test.outcomes, data.test.expected, tune_weight(val_curve), base)
    at_match = None
    if not np.isnan(match):
        matched = route(q_test, data.test.expected, match)
        rows = np.arange(len(matched))
        outcomes = data.test.outcomes
        at_match = Point(float(outcomes.cost[rows, matched].mean()), float(outcomes.scores[rows, matched].mean()))
    choice = route(q_test, data.test.expected, result.weight)
    return Evaluated(router.name, result, match, at_match, val_curve, choice)


# ---------------------------------------------------------------------------------------- tables


def money(usd_per_prompt: float) -> str:
    return f"${usd_per_prompt * PER_1K:.3g}"


def pct(value: float) -> str:
    return f"{100 * value:.1f}%"


def saving(value: float) -> str:
    return "not reached" if np.isnan(value) else f"{100 * value:.0f}%"


def listed(names: Iterable[str]) -> str:
    return ", ".join(f"`{name}`" for name in names) or "none"


def row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def router_rows(item: Evaluated, base: Baselines) -> list[str]:
    """Per router: its two val-tuned points, the random router with the first one's shares, its test curve."""
    best, oracle = base.singles.point(base.best), base.oracle
    r, name = item.result, f"`{item.name}`"

    def line(label: str, where: str, point: Point, curve: str = "·", saved: str = "·") -> str:
        gap = gap_closed(point.accuracy, best.accuracy, oracle.accuracy)
        return row([label, where, pct(point.accuracy), money(point.cost), curve, f"{gap:.3f}", saved])

    rows = [
        line(name, f"λ = {r.weight:.3g} tuned on val: most accurate", r.at_weight),
        line(f"random, same shares as {name}", "the shares of the row above", r.random_same_shares, "–", "–"),
    ]
    if item.at_match is None:
        rows.append(row([name, "λ tuned on val: no val point is as accurate as the best single", *["–"] * 5]))
    else:
        m = item.at_match
        less = "" if m.accuracy >= best.accuracy else ", less accurate"
        where = f"λ = {item.weight_match:.3g} tuned on val: cheapest as accurate as the best single"
        rows.append(line(name, where, m, saved=f"{saving(1 - m.cost / best.cost)} realised{less}"))
    where = "test curve: its best point; points chosen on test"
    rows.append(line(name, where, r.best_point, f"{r.aiq:.3f}", saving(r.saving)))
    return rows


def baseline_rows(data: Prepared, base: Baselines) -> list[str]:
    """Best single, oracle, random mixing of single models, cheapest single."""
    models = data.test.outcomes.models
    low, high = base.cost_range
    best, oracle = base.singles.point(base.best), base.oracle
    cheapest = int(np.argmin(base.singles.cost))
    single_curve = ManyCurve(base.singles.cost[[base.best]], base.singles.accuracy[[base.best]], np.array([np.nan]))
    oracle_saving = cost_saving(base.oracle_curve, best)
    cheap = base.singles.point(cheapest)
    return [
        row(
            [
                f"best single: `{models[base.best]}`",
                "always",
                pct(best.accuracy),
                money(best.cost),
                f"{aiq(single_curve, low, high):.3f}",
                "0",
                "0%",
            ]
        ),
        row(
            [
                "random mixing of single models",
                "hull of their points",
                "–",
                "–",
                f"{aiq(base.mixing, low, high):.3f}",
                "–",
                saving(cost_saving(base.mixing, best)),
            ]
        ),
        row(
            [
                f"cheapest single: `{models[cheapest]}`",
                "always",
                pct(cheap.accuracy),
                money(cheap.cost),
                "–",
                f"{gap_closed(cheap.accuracy, best.accuracy, oracle.accuracy):.3f}",
                "–",
            ]
        ),
        row(
            [
                "oracle",
                "cheapest best-scoring model per prompt",
                pct(oracle.accuracy),
                money(oracle.cost),
                f"{aiq(base.oracle_curve, low, high):.3f}",
                "1",
                saving(oracle_saving),
            ]
        ),
    ]


def singles_table(data: Prepared, base: Baselines) -> list[str]:
    """Every evaluated model on test, in a collapsed block."""
    models = data.test.outcomes.models
    lines = [
        "<details><summary>Each single model on test</summary>",
        "",
        "| model | accuracy | cost per 1k | price in / out per Mtok | mean output tokens (train) |",
        "|---|---|---|---|---|",
    ]
    for j in np.argsort(-base.singles.accuracy, kind="stable"):
        m = models[j]
        tokens = data.mean_tokens[m]
        shown = "unknown (256 assumed)" if np.isnan(tokens) else f"{tokens:.0f}"
        price = f"${data.prices[m]['input_usd_per_mtok']:g} / ${data.prices[m]['output_usd_per_mtok']:g}"
        lines.append(row([f"`{m}`", pct(base.singles.accuracy[j]), money(base.singles.cost[j]), price, shown]))
    return [*lines, "", "</details>"]


def differences(item: Evaluated, outcomes: ManyOutcomes, best: int) -> tuple[Matrix, Matrix]:
    """Per bootstrap resample of the test prompts: routed − best single, routed − random with the same shares."""
    rows = np.arange(len(outcomes))
    routed, single = outcomes.scores[rows, item.choice], outcomes.scores[:, best]
    versus_best, versus_random = [], []
    for sample in bootstrap_resamples(len(outcomes), resamples=RESAMPLES, seed=SEED):
        accuracy = routed[sample].mean()
        shares = np.bincount(item.choice[sample], minlength=len(outcomes.models)) / len(sample)
        versus_best.append(accuracy - single[sample].mean())
        versus_random.append(accuracy - shares @ outcomes.scores[sample].mean(axis=0))
    return np.array(versus_best), np.array(versus_random)


def embedllm_table(items: list[Evaluated], outcomes: ManyOutcomes, base: Baselines) -> list[str]:
    """EmbedLLM §5.2 on test: routed accuracy at the val-tuned λ beside best single and same-shares random."""
    best = float(base.singles.accuracy[base.best])
    lines = [
        f"Routed accuracy at the λ tuned on val (most accurate), against the best single model ({pct(best)}) and "
        f"the random router with the same shares; differences in points with paired 95% bootstrap intervals "
        f"({RESAMPLES} resamples of the test prompts):",
        "",
        row(["router", "accuracy", "− best single", "− random, same shares", "models used (share ≥ 1%)"]),
        "|---|---|---|---|---|",
    ]
    for item in items:
        r = item.result
        vs_best, vs_random = differences(item, outcomes, base.best)
        used = sum(share >= 0.01 for share in r.shares)
        lines.append(
            row(
                [
                    f"`{item.name}`",
                    pct(r.at_weight.accuracy),
                    points(r.at_weight.accuracy - best, vs_best),
                    points(r.at_weight.accuracy - r.random_same_shares.accuracy, vs_random),
                    f"{used} of {len(r.shares)}",
                ]
            )
        )
    return lines


def points(value: float, resampled: Matrix) -> str:
    """A difference in accuracy points with its bootstrap interval ("-0.0" shown as "+0.0")."""
    low, high = percentile_interval(resampled)
    shown = [round(100 * v, 1) + 0.0 for v in (value, low, high)]
    return f"{shown[0]:+.1f} [{shown[1]:+.1f}, {shown[2]:+.1f}]"


def dataset_section(data: Prepared, items: list[Evaluated], base: Baselines, skipped: list[str]) -> list[str]:
    """The Markdown of one dataset."""
    kept, low, high = data.kept, *base.cost_range
    dropped = ", ".join(f"`{m}` ({v:.0%} missing in its worst split)" for m, v in kept.dropped_models.items()) or "none"
    return [
        f"### `{data.name}`",
        "",
        f"Test prompts: {len(data.test.outcomes)} (val {len(data.val.outcomes)}); models: {len(kept.models)} priced. "
        f"Skipped without a price ({len(data.unpriced)}): {listed(data.unpriced)}. "
        f"Priced but not scored by every router: {listed(data.unscored)}. Dropped for missing outcomes "
        f"(> {MAX_MISSING:.0%} of val or of test): {dropped}; then {kept.dropped_prompts} val/test prompts lacking an "
        f"outcome. Costs per call estimated from prices (no output tokens in the source): {listed(data.estimated)}. "
        f"AIQ range: {money(low)} to {money(high)} per 1k prompts. Routers: {listed(item.name for item in items)}"
        f"{'; artifacts that failed to load: ' + '; '.join(skipped) if skipped else ''}.",
        "",
        f"![accuracy–cost curves on {data.name} test](img/many-model-{data.name}.png)",
        "",
        row(
            [
                "router or baseline",
                "operating point",
                "accuracy",
                "cost per 1k",
                "AIQ",
                "gap closed",
                "cost saving vs best single at equal accuracy",
            ]
        ),
        "|---|---|---|---|---|---|---|",
        *(line for item in items for line in router_rows(item, base)),
        *baseline_rows(data, base),
        "",
        *embedllm_table(items, data.test.outcomes, base),
        "",
        *singles_table(data, base),
        "",
    ]


def section(parts: list[list[str]], seconds: float) -> str:
    """The whole marked block."""
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    lines = [
        START,
        "## Many-model routing quality (`mmlu-pro`, `zeroeval`, `llmrouter`)",
        "",
        f"Generated by `bench/quality_many.py` in {seconds:.0f} s, {stamp}. "
        "A router answers each prompt with argmax of predicted quality − λ · expected cost / the prompt's largest "
        "expected cost (`CostAware(λ)`); the expected cost is known before the call (prices × (prompt characters / 4 "
        "+ the model's mean output tokens on train)), while the cost reported is the dataset's per-call cost. "
        "`mf`'s predicted quality is its Bradley–Terry strength (a logit), so its λ is on another scale than the "
        "heads' (P(correct) or shares); every λ is tuned on val. Numbers are on test.",
        "",
        "Reading the columns: *AIQ* (RouterBench) is the mean, over costs from the cheapest to the most expensive "
        "single model, of the best accuracy reachable by mixing the router's test operating points within that cost "
        "(0 below its cheapest point); *gap closed* is (accuracy − best single) / (oracle − best single); *cost "
        "saving* is 1 − cost / best single's cost at the cheapest test point at least as accurate as the best single "
        "model (on a router's test-curve row; 'realised' is that saving at the λ chosen on val); "
        "*random, same shares* uses each model as often as the router's row above it, on random prompts (EmbedLLM "
        "§5.2, exact expectation). The best single model is the most accurate on test (the most accurate on val "
        "sets the target of the λ tuned to match it); the oracle picks, per prompt, the cheapest model with the "
        "highest score.",
        "",
    ]
    for part in parts:
        lines += part
    return "\n".join([*lines, END, ""])


# -------------------------------------------------------------------------------------- the plot

COLORS = ("tab:blue", "tab:red", "tab:green", "tab:purple", "tab:orange", "tab:brown")


def plot(data: Prepared, items: list[Evaluated], base: Baselines, path: Path) -> None:
    """Accuracy (%) against cost per 1k test prompts (log scale): router sweeps, baselines, single models."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    figure = Figure(figsize=(11.0, 5.6), dpi=110, layout="constrained")
    FigureCanvasAgg(figure)
    ax = figure.subplots()
    for item, color in zip(items, COLORS, strict=False):
        curve = item.result.curve
        ax.plot(curve.cost * PER_1K, 100 * curve.accuracy, color=color, linewidth=1.2, label=f"{item.name} (λ sweep)")
        tuned = item.result.at_weight
        ax.plot(
            tuned.cost * PER_1K,
            100 * tuned.accuracy,
            marker="D",
            color=color,
            linestyle="",
            label=f"{item.name}, λ tuned on val",
        )
        same = item.result.random_same_shares
        ax.plot(
            same.cost * PER_1K,
            100 * same.accuracy,
            marker="x",
            color=color,
            linestyle="",
            label=f"random, same shares as {item.name}",
        )
    oracle_cost, oracle_accuracy = dense(base.oracle_curve)
    ax.plot(
        oracle_cost * PER_1K,
        100 * oracle_accuracy,
        color="black",
        linestyle="--",
        linewidth=1.0,
        label="oracle (λ sweep)",
    )
    mix_cost, mix_accuracy = dense(base.mixing)
    ax.plot(mix_cost * PER_1K, 100 * mix_accuracy, color="0.5", linestyle=":", label="random mixing of single models")
    ax.plot(
        base.singles.cost * PER_1K,
        100 * base.singles.accuracy,
        marker="o",
        color="0.5",
        linestyle="",
        markersize=4,
        label="single models",
    )
    best = base.singles.point(base.best)
    ax.plot(
        best.cost * PER_1K,
        100 * best.accuracy,
        marker="*",
        color="black",
        markersize=12,
        linestyle="",
        label=f"best single: {data.test.outcomes.models[base.best]}",
    )
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"${value:g}"))
    ax.xaxis.set_minor_formatter(FuncFormatter(minor_label))
    ax.tick_params(axis="x", which="minor", labelsize="x-small")
    ax.set_xlabel("cost per 1k test prompts (USD, log scale)")
    ax.set_ylabel("accuracy (%)")
    ax.set_title(f"{data.name} test: {len(data.test.outcomes)} prompts, {len(data.test.outcomes.models)} priced models")
    ax.grid(True, alpha=0.3, which="both")
    figure.legend(*ax.get_legend_handles_labels(), loc="outside right upper", fontsize="small")
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)


def minor_label(value: float, _: object) -> str:
    """Label only the minor ticks at 2 and 5 × a power of ten, so that a wide range stays readable."""
    lead = round(value / 10 ** np.floor(np.log10(value))) if value > 0 else 0
    return f"${value:g}" if lead in (2, 5) else ""


def dense(curve: ManyCurve, steps: int = 40) -> tuple[Matrix, Matrix]:
    """Points along each segment between consecutive points (a mixture of the two: straight in linear cost),
    so that a log cost axis draws it right."""
    t = np.linspace(0.0, 1.0, steps, endpoint=False)
    cost = (curve.cost[:-1, None] + t * np.diff(curve.cost)[:, None]).ravel()
    accuracy = (curve.accuracy[:-1, None] + t * np.diff(curve.accuracy)[:, None]).ravel()
    return np.append(cost, curve.cost[-1]), np.append(accuracy, curve.accuracy[-1])


# ------------------------------------------------------------------------------------------ main


def run_dataset(name: str, img: Path) -> list[str]:
    """Evaluate every router that applies to one dataset; draw its plot; return its Markdown."""
    table = load_dataset(name)
    routers, skipped = routers_for(name)
    data = prepare(table, set.intersection(*(set(model_listed(r)) for r in routers)))
    embeddings = table_embeddings(load_encoder("minilm_l6", threads=1), table)
    base = baselines(data.test.outcomes)
    items = []
    for router in routers:
        check_shortcut(router, table, embeddings)
        items.append(evaluate(router, data, embeddings, base))
    plot(data, items, base, img / f"many-model-{name}.png")
    return dataset_section(data, items, base, skipped)


def main() -> None:
    """Evaluate every dataset, write the block into the page and print it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/benchmarks.md"))
    parser.add_argument("--img", type=Path, default=Path("docs/img"))
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=DATASETS)
    args = parser.parse_args()
    started = time.perf_counter()
    parts = [run_dataset(name, args.img) for name in args.datasets]
    seconds = time.perf_counter() - started
    block = section(parts, seconds)
    print(block)
    write_section(args.out, START, END, block)
    print(f"wrote the quality-many block into {args.out} and the plots into {args.img}; run time {seconds:.1f} s")


if __name__ == "__main__":
    main()
