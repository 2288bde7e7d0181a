"""Offline cascade vs direct routing on `zeroeval`, with each model's real per-prompt cost.

Run by `make bench` as `.venv/bin/python bench/cascade_offline.py` (about 10 s once the `mf` scores
of the 2,840 prompts are cached under `ROUTERKIT_CACHE_DIR`; the first run encodes them, about a
minute on 2 idle cores). Every decision is made on `train`
and `val` only: which models are eligible, the weak/strong pairs, the features and penalty of the
learned confidence, and the thresholds of the fixed-threshold table. Everything is reported on
`test`. For each pair the script traces, on the test prompts, the cost–accuracy curves of

- direct routing on the shipped `mf` router's score s = P(strong beats weak), on the prompt-length
  baseline, on a learned P(weak answer correct | s, task) (the cascade's model without the answer),
  at random, and with an oracle (cheapest correct model of the pair);
- a cascade (the weak model always answers and is paid; deferral adds the strong call) deferring on
  1 − s, on a learned P(weak answer correct | s, weak output tokens, task), at random, and with an
  oracle (defer exactly the wrong weak answers);

beside the weak-only, strong-only and best-single-model points. It writes the tables into the marked
`cascade-offline` block of `docs/benchmarks.md` and of `docs/cascade-evaluation.md` (the rest of each
page is untouched), draws `docs/img/cascade-zeroeval.png`, and prints the block.
"""

from __future__ import annotations

import argparse
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import routerkit
from _blocks import write_section
from routerkit._env import cache_dir
from routerkit.data.format import OutcomeTable, load_dataset
from routerkit.eval.bootstrap import bootstrap_resamples, percentile_interval
from routerkit.eval.cascade import (
    CostCurve,
    OperatingPoint,
    PairOutcomes,
    accuracy_at_cost,
    cascade_at,
    cascade_curve,
    cost_to_reach,
    oracle_cascade_curve,
    oracle_routing_curve,
    random_cascade_curve,
    random_routing_curve,
    routing_at,
    routing_curve,
    single_model_point,
    threshold_to_reach,
)
from routerkit.eval.logistic import LogisticModel, fit_logistic
from routerkit.routers.mf import MFRouter

Vector = npt.NDArray[np.float64]

DATASET = "zeroeval"
START, END = "<!-- cascade-offline:start -->", "<!-- cascade-offline:end -->"
TARGETS = (0.5, 0.8, 1.0)  # cost to recover these fractions of the weak → strong accuracy gap (PGR)
FIXED_TARGET = 0.8  # the gap fraction the val-chosen thresholds aim for
CHEAP_SHARE = 0.10  # the close pair's weak model costs at most this share of the strong one on val
RESAMPLES, SEED = 200, 0
L2_GRID = (0.1, 1.0, 10.0, 100.0, 1000.0)
# Candidate feature sets, chosen between on val. The cascade may use the weak answer (its output tokens);
# "learned routing" gets the same model without it, so the two differ only by what the answer adds.
CASCADE_FEATURES = (("tokens",), ("score", "tokens"), ("tokens", "task"), ("score", "tokens", "task"))
ROUTING_FEATURES = (("score",), ("score", "task"))
FEATURE_NAMES = {"score": "logit s", "tokens": "log(1 + weak output tokens)", "task": "task one-hot"}
METHOD_LINK = "method and reading in [cascade-evaluation.md](cascade-evaluation.md)"
PER_1K = 1000.0  # costs are shown in USD per 1,000 prompts

ROUTING = ("mf routing", "length routing", "learned routing", "random routing", "oracle routing")
CASCADE = ("cascade, 1 − s", "cascade, learned", "random deferral", "oracle cascade")
POINTS = ("weak only", "strong only", "best single model")


@dataclass(frozen=True)
class Pair:
    """One weak/strong pair and why it was picked."""

    strong: str
    weak: str
    rule: str


@dataclass(frozen=True)
class Learned:
    """One learned P(weak correct) of a pair: what val chose, its quality, and its values on val and test."""

    features: tuple[str, ...]
    l2: float
    val_loss: float
    base_loss: float
    val_auc: float
    test_auc: float
    test_confidence: Vector
    val_confidence: Vector


@dataclass(frozen=True)
class PairResult:
    """Everything measured for one pair on test."""

    pair: Pair
    n: int
    curves: dict[str, CostCurve]
    learned: dict[str, Learned]
    """The learned P(weak correct) of the cascade ("cascade") and of learned routing ("routing")."""
    points: dict[str, list[OperatingPoint]]
    cis: dict[str, list[tuple[float, float]]]
    resampled: list[dict[str, list[OperatingPoint]]]
    fixed: list[str]
    groups: list[str]
    budget: float
    single: str
    outcomes: PairOutcomes
    mf_auc: tuple[float, float]
    """AUC of 1 − s for 'weak answer correct' on val and on test."""


# ------------------------------------------------------------------------------------- the data


def column(table: OutcomeTable, model: str, field: str) -> Vector:
    """One model's `score`, `cost_usd` or `output_tokens` column."""
    matrix: Vector = getattr(table, field)
    return matrix[:, table.models.index(model)]


def complete(table: OutcomeTable, model: str) -> bool:
    """Whether `model` has a score and a cost on every prompt of `table`."""
    return bool(np.all(~np.isnan(column(table, model, "scores")) & ~np.isnan(column(table, model, "cost_usd"))))


def eligible_models(table: OutcomeTable, known: set[str]) -> tuple[list[str], list[str], list[str]]:
    """(eligible, unpriced, partial): priced models `mf` knows with outcomes on all train and val prompts."""
    priced = [m for m in table.models if all(v is not None for v in table.prices[m].values())]
    unpriced = [m for m in table.models if m not in priced]
    seen = table.split("train", "val")
    partial = [m for m in priced if m not in known or not complete(seen, m)]
    return [m for m in priced if m not in partial], unpriced, partial


def pick_pairs(val: OutcomeTable, models: list[str]) -> list[Pair]:
    """The pairs, by rules applied to val accuracy and val mean cost only."""
    accuracy = {m: float(column(val, m, "scores").mean()) for m in models}
    cost = {m: float(column(val, m, "cost_usd").mean()) for m in models}
    strong = max(models, key=accuracy.__getitem__)
    cheapest = min(models, key=cost.__getitem__)
    cheap = [m for m in models if cost[m] <= CHEAP_SHARE * cost[strong]]
    close = max(cheap, key=accuracy.__getitem__)
    if close == cheapest:
        raise SystemExit(f"The close and the cheapest weak model are both {close!r}; revise the pair rules.")
    return [
        Pair(strong, close, f"close: best val accuracy among models costing ≤ {CHEAP_SHARE:.0%} of the strong one"),
        Pair(strong, cheapest, "wide: the cheapest model on val"),
        Pair(close, cheapest, "budget: the close weak model as strong, the cheapest as weak"),
    ]


def strengths(texts: list[str]) -> tuple[Vector, list[str]]:
    """The `mf` head's strength of every model for every prompt (one encoder pass), cached on disk."""
    router = routerkit.load("mf")
    assert isinstance(router, MFRouter)  # the shipped `mf` artifact is of this kind
    digest = hashlib.sha256(router.fingerprint().encode())
    for text in texts:
        digest.update(hashlib.sha256(text.encode()).digest())
    path = cache_dir() / "scores" / f"mf-strengths-{digest.hexdigest()[:32]}.npy"
    names = [m.name for m in router.manifest.models]
    if path.is_file():
        return np.load(path), names
    order = np.argsort([len(t) for t in texts], kind="stable")  # similar lengths batch with little padding
    values = np.empty((len(texts), len(names)))
    for start in range(0, len(texts), 64):
        rows = order[start : start + 64]
        values[rows] = router.strengths([texts[i] for i in rows])
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, values)
    return values, names


def pair_scores(table: OutcomeTable, pair: Pair, delta: Vector, names: list[str]) -> Vector:
    """σ(δ_strong − δ_weak): the score `routerkit.load("mf", strong=, weak=)` gives, checked on 8 prompts."""
    gap = delta[:, names.index(pair.strong)] - delta[:, names.index(pair.weak)]
    scores = 1.0 / (1.0 + np.exp(-gap))
    router = routerkit.load("mf", strong=pair.strong, weak=pair.weak)
    check = router.scores(table.texts()[:8])[:, 0]
    if not np.allclose(check, scores[:8], atol=1e-9):
        raise SystemExit(f"Shortcut scores differ from the router's for {pair}: {check} vs {scores[:8]}")
    return scores


def outcomes(table: OutcomeTable, pair: Pair) -> PairOutcomes:
    """The pair's scores and costs on the prompts of `table`."""
    return PairOutcomes(
        column(table, pair.weak, "scores"),
        column(table, pair.strong, "scores"),
        column(table, pair.weak, "cost_usd"),
        column(table, pair.strong, "cost_usd"),
    )


# --------------------------------------------------------------------------- learned confidence


def features(table: OutcomeTable, weak: str, scores: Vector, which: tuple[str, ...], tasks: list[str]) -> Vector:
    """The feature matrix of one feature set: logit(s), log(1 + weak output tokens), task one-hot."""
    parts: dict[str, Callable[[], Vector]] = {
        "score": lambda: np.log(scores / (1 - scores))[:, None],
        "tokens": lambda: np.log1p(column(table, weak, "output_tokens"))[:, None],
        "task": lambda: np.array([[p.task_group == t for t in tasks] for p in table.prompts], dtype=np.float64),
    }
    return np.hstack([parts[name]() for name in which])


def log_loss(p: Vector, y: Vector) -> float:
    """Mean negative log-likelihood of 0/1 labels `y` under probabilities `p`."""
    p = np.clip(p, 1e-12, 1 - 1e-12)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def auc(score: Vector, y: Vector) -> float:
    """P(score of a positive > score of a negative), ties counted half (the Mann–Whitney AUC)."""
    ranks = np.empty(len(score))
    order = np.argsort(score, kind="stable")
    ranks[order] = np.arange(1, len(score) + 1)
    for value in np.unique(score):  # average the ranks of ties
        tied = score == value
        ranks[tied] = ranks[tied].mean()
    positives = int(y.sum())
    return float((ranks[y == 1].sum() - positives * (positives + 1) / 2) / (positives * (len(y) - positives)))


def learn_confidence(
    table: OutcomeTable, pair: Pair, scores: Vector, candidates: tuple[tuple[str, ...], ...]
) -> Learned:
    """Fit P(weak correct) on train for each feature set and penalty; keep the one with the best val log-loss."""
    split = np.array([p.split for p in table.prompts])
    tasks = sorted({p.task_group for p in table.prompts})
    y = column(table, pair.weak, "scores")
    train, val, test = (split == "train"), (split == "val"), (split == "test")
    fitted: dict[tuple[tuple[str, ...], float], tuple[float, LogisticModel]] = {}
    for which in candidates:
        x = features(table, pair.weak, scores, which, tasks)
        for l2 in L2_GRID:
            model = fit_logistic(x[train], y[train], l2=l2)
            fitted[which, l2] = (log_loss(model.predict(x[val]), y[val]), model)
    which, l2 = min(fitted, key=lambda key: fitted[key][0])
    loss, model = fitted[which, l2]
    confidence = model.predict(features(table, pair.weak, scores, which, tasks))
    return Learned(
        features=which,
        l2=l2,
        val_loss=loss,
        base_loss=log_loss(np.full(int(val.sum()), y[train].mean()), y[val]),
        val_auc=auc(confidence[val], y[val]),
        test_auc=auc(confidence[test], y[test]),
        test_confidence=confidence[test],
        val_confidence=confidence[val],
    )


# ------------------------------------------------------------------------------------ the curves


@dataclass(frozen=True)
class Values:
    """Per prompt: the decision value of every method that has a threshold."""

    mf: Vector
    """mf's P(strong beats weak)."""
    length: Vector
    """The length baseline's score."""
    routing_learned: Vector
    """Learned P(weak correct) from pre-call features only."""
    cascade_learned: Vector
    """Learned P(weak correct) that also sees the weak answer."""

    def take(self, rows: npt.NDArray[np.intp]) -> Values:
        return Values(self.mf[rows], self.length[rows], self.routing_learned[rows], self.cascade_learned[rows])

    def decisions(self) -> dict[str, tuple[bool, Vector]]:
        """Method → (is a cascade, its values): routing sends high values strong, a cascade defers low ones."""
        return {
            "mf routing": (False, self.mf),
            "length routing": (False, self.length),
            "learned routing": (False, 1 - self.routing_learned),
            "cascade, 1 − s": (True, 1 - self.mf),
            "cascade, learned": (True, self.cascade_learned),
        }


def method_curves(pair: PairOutcomes, values: Values, single: PairOutcomes) -> dict[str, CostCurve]:
    """Every method's curve (or point) on one set of prompts; `single` holds the best single model."""
    swept = {
        name: (cascade_curve if cascade else routing_curve)(decided, pair)
        for name, (cascade, decided) in values.decisions().items()
    }
    return {
        "weak only": single_model_point(pair.weak_score, pair.weak_cost, strong=False),
        "strong only": single_model_point(pair.strong_score, pair.strong_cost, strong=True),
        "best single model": single_model_point(single.strong_score, single.strong_cost, strong=True),
        **swept,
        "random routing": random_routing_curve(pair),
        "oracle routing": oracle_routing_curve(pair),
        "random deferral": random_cascade_curve(pair),
        "oracle cascade": oracle_cascade_curve(pair),
    }


def gap_target(pair: PairOutcomes, fraction: float) -> float:
    """The accuracy that recovers `fraction` of the weak → strong gap: w + fraction · (s − w)."""
    weak = float(pair.weak_score.mean())
    return weak + fraction * (float(pair.strong_score.mean()) - weak)


def gap_share(pair: PairOutcomes, point: OperatingPoint) -> float:
    """The fraction of the weak → strong accuracy gap that `point` recovers (PGR)."""
    weak = float(pair.weak_score.mean())
    return (point.accuracy - weak) / (float(pair.strong_score.mean()) - weak)


def summary(curves: dict[str, CostCurve], pair: PairOutcomes) -> dict[str, list[OperatingPoint]]:
    """Per method: the points recovering each of `TARGETS` of the accuracy gap, then the point at the budget."""
    budget = float((pair.weak_cost.mean() + pair.strong_cost.mean()) / 2)
    return {
        name: [*(cost_to_reach(curve, gap_target(pair, t)) for t in TARGETS), accuracy_at_cost(curve, budget)]
        for name, curve in curves.items()
    }


def resampled_summaries(
    pair: PairOutcomes, values: Values, single: PairOutcomes
) -> list[dict[str, list[OperatingPoint]]]:
    """`summary` on each bootstrap resample of the prompts (targets and budget re-derived per resample)."""
    return [
        summary(method_curves(pair.take(rows), values.take(rows), single.take(rows)), pair.take(rows))
        for rows in bootstrap_resamples(len(pair), resamples=RESAMPLES, seed=SEED)
    ]


def _slot_value(point: OperatingPoint, slot: int) -> float:
    """The number a summary slot reports: cost for the targets, accuracy for the budget."""
    return point.accuracy if slot == len(TARGETS) else point.cost


def intervals(resampled: list[dict[str, list[OperatingPoint]]]) -> dict[str, list[tuple[float, float]]]:
    """95% percentile intervals of every summary number."""
    slots = range(len(TARGETS) + 1)
    return {
        name: [percentile_interval([_slot_value(r[name][slot], slot) for r in resampled]) for slot in slots]
        for name in resampled[0]
    }


def paired_difference(
    resampled: list[dict[str, list[OperatingPoint]]], a: str, b: str, slot: int
) -> tuple[tuple[float, float], int]:
    """95% interval of `a` minus `b` in one summary slot over the resamples where both reach it, and their count."""
    pairs = [(_slot_value(r[a][slot], slot), _slot_value(r[b][slot], slot)) for r in resampled]
    values = [x - y for x, y in pairs if np.isfinite(x) and np.isfinite(y)]
    return (percentile_interval(values) if values else (np.nan, np.nan)), len(values)


def fixed_thresholds(val: tuple[PairOutcomes, Values], test: tuple[PairOutcomes, Values]) -> list[str]:
    """Rows: thresholds chosen on val to recover `FIXED_TARGET` of the gap there, applied unchanged to test."""
    rows = []
    tested = test[1].decisions()
    for name, (cascade, on_val) in val[1].decisions().items():
        curve, at = (cascade_curve, cascade_at) if cascade else (routing_curve, routing_at)
        threshold = threshold_to_reach(curve(on_val, val[0]), gap_target(val[0], FIXED_TARGET))
        chosen, applied = at(on_val, val[0], threshold), at(tested[name][1], test[0], threshold)
        cells = [f"{threshold:.3f}", _point(chosen), _point(applied), f"{gap_share(test[0], applied):.0%}"]
        rows.append(_row([name, *cells]))
    return rows


GROUP_METHODS = ("mf routing", "length routing", "learned routing", "cascade, learned", "oracle cascade")


def group_rows(test: OutcomeTable, pair: PairOutcomes, values: Values) -> list[str]:
    """Per task group: cost to recover `FIXED_TARGET` of the group's own gap, for `GROUP_METHODS`."""
    groups = np.array([p.task_group for p in test.prompts])
    rows = []
    for group in sorted(set(groups)):
        index = np.flatnonzero(groups == group)
        part = pair.take(index)
        curves = method_curves(part, values.take(index), part)
        target = gap_target(part, FIXED_TARGET)
        cells = [_money(cost_to_reach(curves[name], target)) for name in GROUP_METHODS]
        if part.strong_score.mean() <= part.weak_score.mean():
            cells = ["weak ≥ strong here"] * len(GROUP_METHODS)
        ends = [f"{100 * part.weak_score.mean():.1f}% · {_money_value(part.weak_cost.mean())}"]
        ends.append(f"{100 * part.strong_score.mean():.1f}% · {_money_value(part.strong_cost.mean())}")
        rows.append(_row([group, str(len(index)), *ends, *cells]))
    return rows


# ----------------------------------------------------------------------------------- formatting


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _money_value(usd_per_prompt: float) -> str:
    return f"${usd_per_prompt * PER_1K:.3f}"


def _money(point: OperatingPoint) -> str:
    return f"{_money_value(point.cost)} · {point.strong_rate:.0%}" if point.reached else "not reached"


def _point(point: OperatingPoint) -> str:
    if not point.reached:
        return "not reached"
    return f"{100 * point.accuracy:.1f}% · {_money_value(point.cost)} · {point.strong_rate:.0%}"


def _interval(low: float, high: float, *, money: bool) -> str:
    def one(value: float) -> str:
        if not np.isfinite(value):
            return "∞"
        return f"{value * PER_1K:.3f}" if money else f"{100 * value:.1f}"

    return f"[{one(low)}, {one(high)}]"


def summary_rows(points: dict[str, list[OperatingPoint]], cis: dict[str, list[tuple[float, float]]]) -> list[str]:
    """The main table: per method, cost to reach each target and accuracy at the budget, with CIs."""
    rows = []
    for name in (*POINTS, *ROUTING, *CASCADE):
        cells = []
        for slot, point in enumerate(points[name]):
            low, high = cis[name][slot]
            if slot < len(TARGETS):
                cells.append(f"{_money(point)} {_interval(low, high, money=True)}" if point.reached else "not reached")
            elif point.reached:
                cells.append(
                    f"{100 * point.accuracy:.1f}% · {point.strong_rate:.0%} {_interval(low, high, money=False)}"
                )
            else:
                cells.append("over budget")
        rows.append(_row([name, *cells]))
    return rows


# ------------------------------------------------------------------------------------ one pair


@dataclass(frozen=True)
class Inputs:
    """The prompts one pair is evaluated on and the decision values of every method over them."""

    table: OutcomeTable
    """The prompts where both models have a score and a cost (all splits)."""
    scores: Vector
    """mf's P(strong beats weak) per prompt of `table`."""
    length: Vector
    """The length baseline's score per prompt of `table`."""

    def mask(self, split: str) -> npt.NDArray[np.bool_]:
        return np.array([p.split == split for p in self.table.prompts])


def best_single(test: OutcomeTable, candidates: list[str]) -> str:
    """The most accurate model on `test` among `candidates` with a score and a cost on every prompt."""
    complete_here = [m for m in candidates if complete(test, m)]
    return max(complete_here, key=lambda m: float(column(test, m, "scores").mean()))


def evaluate_pair(pair: Pair, inputs: Inputs, priced: list[str]) -> PairResult:
    """All curves, summaries with CIs, fixed-threshold rows and task-group rows of one pair on test."""
    learned = {
        "cascade": learn_confidence(inputs.table, pair, inputs.scores, CASCADE_FEATURES),
        "routing": learn_confidence(inputs.table, pair, inputs.scores, ROUTING_FEATURES),
    }
    masks = {split: inputs.mask(split) for split in ("val", "test")}
    tables = {split: inputs.table.subset([int(i) for i in np.flatnonzero(m)]) for split, m in masks.items()}
    values = {
        split: Values(
            inputs.scores[mask],
            inputs.length[mask],
            getattr(learned["routing"], f"{split}_confidence"),
            getattr(learned["cascade"], f"{split}_confidence"),
        )
        for split, mask in masks.items()
    }
    on_test, test = outcomes(tables["test"], pair), values["test"]
    single_name = best_single(tables["test"], priced)
    single = outcomes(tables["test"], Pair(single_name, single_name, "best single"))
    curves = method_curves(on_test, test, single)
    resampled = resampled_summaries(on_test, test, single)
    return PairResult(
        pair=pair,
        n=len(on_test),
        curves=curves,
        learned=learned,
        points=summary(curves, on_test),
        cis=intervals(resampled),
        resampled=resampled,
        fixed=fixed_thresholds((outcomes(tables["val"], pair), values["val"]), (on_test, test)),
        groups=group_rows(tables["test"], on_test, test),
        budget=float((on_test.weak_cost.mean() + on_test.strong_cost.mean()) / 2),
        single=single_name,
        outcomes=on_test,
        mf_auc=(
            auc(1 - values["val"].mf, column(tables["val"], pair.weak, "scores")),
            auc(1 - test.mf, on_test.weak_score),
        ),
    )


# -------------------------------------------------------------------------------------- the page


def pair_section(number: int, result: PairResult) -> list[str]:
    """The Markdown of one pair: setting, learned confidences, main table, fixed thresholds, task groups."""
    o, pair = result.outcomes, result.pair
    wrong = o.weak_score < 1
    head = [f"to recover {t:.0%} of the gap" for t in TARGETS]
    return [
        f"### Pair {number}: `{pair.strong}` (strong) vs `{pair.weak}` (weak)",
        "",
        f"Rule: {pair.rule}. Test prompts: {result.n}. Weak only: {100 * o.weak_score.mean():.1f}% at "
        f"{_money_value(o.weak_cost.mean())} per 1k prompts; strong only: {100 * o.strong_score.mean():.1f}% at "
        f"{_money_value(o.strong_cost.mean())}; best single model (by test accuracy, among priced models with "
        f"outcomes on every test prompt): `{result.single}`. Budget for the last column: "
        f"{_money_value(result.budget)} per 1k prompts (the mean cost of sending half the prompts to each model). "
        f"The weak model is wrong on {wrong.mean():.1%} of the test prompts; the strong model is right on "
        f"{o.strong_score[wrong].mean():.0%} of those.",
        "",
        "How well each decision value predicts 'the weak answer is correct' (AUC; the learned models were fitted "
        "on train, their feature set and L2 penalty chosen on val by log-loss):",
        "",
        "| decision value | features | L2 | val log-loss (train base rate) | AUC val | AUC test |",
        "|---|---|---|---|---|---|",
        _learned_row("cascade, learned (sees the weak answer)", result.learned["cascade"]),
        _learned_row("learned routing (before any call)", result.learned["routing"]),
        f"| mf alone: 1 − s | – | – | – | {result.mf_auc[0]:.3f} | {result.mf_auc[1]:.3f} |",
        "",
        "Cost per 1k prompts to recover a share of the weak → strong accuracy gap on test (· share of prompts the "
        "strong model answered), and accuracy within the budget; [95% bootstrap interval, "
        f"{RESAMPLES} resamples of the test prompts; ∞: some resamples never reach it]:",
        "",
        _row(["method", *head, f"accuracy at {_money_value(result.budget)}"]),
        "|---|---|---|---|---|",
        *summary_rows(result.points, result.cis),
        "",
        *reading(result),
        "",
        f"Thresholds fixed on val (the cheapest point recovering {FIXED_TARGET:.0%} of the gap on val), "
        "then applied unchanged to test (accuracy · cost per 1k · strong share):",
        "",
        _row(["method", "threshold", "val", "test", "gap recovered on test"]),
        "|---|---|---|---|---|",
        *result.fixed,
        "",
        f"Per task group on test: cost per 1k prompts to recover {FIXED_TARGET:.0%} of the group's own gap "
        "(no intervals; crux and math-l5 have under 100 test prompts each):",
        "",
        _row(["group", "n", "weak only", "strong only", *GROUP_METHODS]),
        "|---|---|---|---|" + "---|" * len(GROUP_METHODS),
        *result.groups,
        "",
    ]


def _learned_row(name: str, learned: Learned) -> str:
    chosen = ", ".join(FEATURE_NAMES[f] for f in learned.features)
    loss = f"{learned.val_loss:.3f} ({learned.base_loss:.3f})"
    return _row([name, chosen, f"{learned.l2:g}", loss, f"{learned.val_auc:.3f}", f"{learned.test_auc:.3f}"])


COMPARED = (
    ("cascade, 1 − s", "mf routing"),
    ("cascade, learned", "mf routing"),
    ("cascade, learned", "length routing"),
    ("cascade, learned", "learned routing"),
)


def reading(result: PairResult) -> list[str]:
    """Generated bullets: the differences that matter, with paired bootstrap intervals."""
    slot, end = TARGETS.index(FIXED_TARGET), len(TARGETS)
    lines = []
    for a, b in COMPARED:
        (low, high), count = paired_difference(result.resampled, a, b, slot)
        if count:
            lines.append(
                f"- Cost to recover {FIXED_TARGET:.0%} of the gap, *{a}* minus *{b}*: "
                f"{_signed(result.points[a][slot].cost - result.points[b][slot].cost)} USD per 1k prompts "
                f"[{_signed(low)}, {_signed(high)}] ({count} of {RESAMPLES} resamples where both reach it)."
            )
    for a, b in COMPARED[1:]:
        (low, high), count = paired_difference(result.resampled, a, b, end)
        first, second = result.points[a][end], result.points[b][end]
        if count and first.reached and second.reached:
            lines.append(
                f"- Accuracy within the budget, *{a}* minus *{b}*: "
                f"{100 * (first.accuracy - second.accuracy):+.1f} points [{100 * low:+.1f}, {100 * high:+.1f}]."
            )
    return lines


def _signed(usd_per_prompt: float) -> str:
    return f"{usd_per_prompt * PER_1K:+.3f}"


def section(results: list[PairResult], setting: list[str], seconds: float) -> str:
    """The whole marked block."""
    lines = [
        START,
        "## Cascade vs routing, offline on `zeroeval` with real costs",
        "",
        f"Generated by `bench/cascade_offline.py`; {METHOD_LINK}. Every choice (models, pairs, confidence features "
        "and penalty, fixed thresholds) was made on `train`/`val`; the numbers are on `test`. "
        f"Run time {seconds:.0f} s, "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.",
        "",
        *setting,
        "",
        "![Cost–accuracy curves of routing and cascades on zeroeval test](img/cascade-zeroeval.png)",
        "",
    ]
    for number, result in enumerate(results, start=1):
        lines += pair_section(number, result)
    return "\n".join([*lines, END, ""])


# -------------------------------------------------------------------------------------- the plot

STYLES = {
    "mf routing": ("tab:blue", "-"),
    "length routing": ("tab:cyan", "-"),
    "learned routing": ("tab:purple", "-"),
    "random routing": ("tab:blue", ":"),
    "oracle routing": ("tab:blue", "--"),
    "cascade, 1 − s": ("tab:red", "-"),
    "cascade, learned": ("tab:orange", "-"),
    "random deferral": ("tab:orange", ":"),
    "oracle cascade": ("tab:orange", "--"),
}
MARKERS = {"weak only": "o", "strong only": "s", "best single model": "*"}


def plot(results: list[PairResult], path: Path) -> None:
    """One panel per pair: accuracy (%) against cost per 1k prompts (log scale), one shared legend."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(5.6 * len(results), 5.4), dpi=110, layout="constrained")
    FigureCanvasAgg(figure)
    for ax, result in zip(figure.subplots(1, len(results), squeeze=False)[0], results, strict=True):
        for name, (color, style) in STYLES.items():
            cost, accuracy = _dense(result.curves[name])
            ax.plot(cost * PER_1K, 100 * accuracy, color=color, linestyle=style, linewidth=1.4, label=name)
        for name, marker in MARKERS.items():
            point = result.curves[name]
            ax.plot(point.cost * PER_1K, 100 * point.accuracy, marker=marker, color="black", linestyle="", label=name)
        target = 100 * gap_target(result.outcomes, FIXED_TARGET)
        ax.axhline(target, color="0.6", linewidth=0.8, label=f"{FIXED_TARGET:.0%} of the gap recovered")
        ax.set_xscale("log")
        ax.set_title(f"{result.pair.strong}\nvs {result.pair.weak} (n={result.n})", fontsize="medium")
        ax.set_xlabel("cost per 1k test prompts (USD, log scale)")
        ax.set_ylabel("accuracy (%)")
        ax.grid(True, alpha=0.3, which="both")
    handles, labels = figure.axes[0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="outside lower center", ncol=7, fontsize="small")
    figure.suptitle("zeroeval test: direct routing vs deferral cascades, real per-prompt costs")
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)


def _dense(curve: CostCurve, steps: int = 40) -> tuple[Vector, Vector]:
    """The curve's points with `steps` points on each segment: mixing two thresholds moves cost and
    accuracy linearly, which a log-scaled cost axis would otherwise draw as a straight chord."""
    if len(curve) == 1 or len(curve) > 200:
        return curve.cost, curve.accuracy
    t = np.linspace(0.0, 1.0, steps, endpoint=False)
    cost = (curve.cost[:-1, None] + t * np.diff(curve.cost)[:, None]).ravel()
    accuracy = (curve.accuracy[:-1, None] + t * np.diff(curve.accuracy)[:, None]).ravel()
    return np.append(cost, curve.cost[-1]), np.append(accuracy, curve.accuracy[-1])


# -------------------------------------------------------------------------------------- main


def setting_lines(
    table: OutcomeTable, eligible: list[str], unpriced: list[str], partial: list[str], pairs: list[Pair]
) -> list[str]:
    """What the run used: prompts per split and group, skipped models, the pairs and their val figures."""
    test = table.split("test")
    groups = sorted({p.task_group for p in test.prompts})
    counts = ", ".join(f"{g} {sum(p.task_group == g for p in test.prompts)}" for g in groups)
    val = table.split("val")
    val_groups = sorted({p.task_group for p in val.prompts})
    rows = [
        _row([f"`{p.strong}` vs `{p.weak}`", p.rule, *(_val_figures(val, m) for m in (p.strong, p.weak))])
        for p in pairs
    ]
    return [
        f"Prompts: train {len(table.split('train'))}, val {len(val)} ({', '.join(val_groups)} only), test "
        f"{len(test)} ({counts}). Models: {len(table.models)}; {len(unpriced)} have no price and are skipped; "
        f"priced but skipped (no outcome or cost on some train/val prompt, or unknown to `mf`): "
        f"{', '.join(f'`{m}`' for m in partial) or 'none'}. Eligible: {len(eligible)} priced models.",
        "",
        "| pair | rule (on val) | strong on val (accuracy · cost per 1k) | weak on val |",
        "|---|---|---|---|",
        *rows,
    ]


def _val_figures(val: OutcomeTable, model: str) -> str:
    return f"{100 * column(val, model, 'scores').mean():.1f}% · {_money_value(column(val, model, 'cost_usd').mean())}"


def main() -> None:
    """Pick pairs on val, score once with `mf`, evaluate every pair on test, write the pages and the plot."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, nargs="+", default=[Path("docs/benchmarks.md"), Path("docs/cascade-evaluation.md")]
    )
    parser.add_argument("--plot", type=Path, default=Path("docs/img/cascade-zeroeval.png"))
    args = parser.parse_args()
    started = time.perf_counter()
    table = load_dataset(DATASET)
    delta, names = strengths(table.texts())
    eligible, unpriced, partial = eligible_models(table, set(names))
    pairs = pick_pairs(table.split("val"), eligible)
    priced = [m for m in table.models if m not in unpriced]
    results = [evaluate_pair(pair, pair_inputs(table, pair, delta, names), priced) for pair in pairs]
    block = section(results, setting_lines(table, eligible, unpriced, partial, pairs), time.perf_counter() - started)
    plot(results, args.plot)
    print(block)
    for out in args.out:
        # The method page holds the block itself: point up and down instead of to itself.
        here = out.name == "cascade-evaluation.md"
        write_section(out, START, END, block.replace(METHOD_LINK, "method above, reading below") if here else block)
        print(f"wrote the cascade-offline block into {out}")
    print(f"wrote {args.plot}")


def pair_inputs(table: OutcomeTable, pair: Pair, delta: Vector, names: list[str]) -> Inputs:
    """The prompts where both models have a score and a cost, with mf's and the length baseline's scores."""
    usable = [i for i in range(len(table)) if _has(table, pair.strong, i) and _has(table, pair.weak, i)]
    sub = table.subset(usable)
    length = routerkit.load("length", strong=pair.strong, weak=pair.weak).scores(sub.texts())[:, 0]
    return Inputs(sub, pair_scores(sub, pair, delta[usable], names), length)


def _has(table: OutcomeTable, model: str, row: int) -> bool:
    j = table.models.index(model)
    return not (
        np.isnan(table.scores[row, j]) or np.isnan(table.cost_usd[row, j]) or np.isnan(table.output_tokens[row, j])
    )


if __name__ == "__main__":
    main()
