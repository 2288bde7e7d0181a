"""RouteLLM metrics: hand-computed sweeps, baselines, CPT on envelopes, input errors, real data."""

from __future__ import annotations

import csv
import gzip
import inspect
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from routerkit.errors import ConfigError, MissingDependencyError
from routerkit.eval import metrics
from routerkit.eval.metrics import (
    Curve,
    apgr,
    auc,
    cpt,
    is_monotone,
    oracle_curve,
    pgr,
    random_curve,
    summarize,
    threshold_sweep,
)

Vector = npt.NDArray[np.float64]
STRONG, WEAK = "gpt-4-1106-preview", "mixtral-8x7b-instruct-v0.1"

# Four prompts, five target shares (0, 25, 50, 75, 100%); every value below is worked out by hand.
SCORES = [0.9, 0.8, 0.3, 0.1]
S4 = [1.0, 1.0, 0.0, 1.0]
W4 = [0.0, 1.0, 0.0, 0.0]


def synthetic(n: int, seed: int = 0) -> tuple[Vector, Vector, Vector]:
    """0/1 outcomes driven by a latent difficulty; the difficulty itself is a good router score."""
    rng = np.random.default_rng(seed)
    difficulty = rng.random(n)
    strong = (rng.random(n) > 0.6 * difficulty).astype(np.float64)
    weak = (rng.random(n) > 1.2 * difficulty).astype(np.float64)
    return difficulty, strong, weak


# ----------------------------------------------------------------------------------- the sweep


def test_hand_computed_sweep() -> None:
    curve = threshold_sweep(SCORES, S4, W4, points=5)
    np.testing.assert_array_equal(curve.strong_share, [0.0, 0.25, 0.5, 0.75, 1.0])
    np.testing.assert_allclose(curve.quality, [0.25, 0.5, 0.5, 0.5, 0.75])
    assert auc(curve) == pytest.approx(0.5)
    assert apgr(curve, 0.25, 0.75) == pytest.approx(0.5)


def test_hand_computed_summary() -> None:
    summary = summarize(threshold_sweep(SCORES, S4, W4, points=5), S4, W4)
    assert (summary.n, summary.weak_mean, summary.strong_mean) == (4, 0.25, 0.75)
    assert summary.apgr == pytest.approx(0.5)
    assert summary.cpt20 == pytest.approx(0.1)  # target 0.35 on (0, .25) → (.25, .5)
    assert summary.cpt50 == pytest.approx(0.25)  # target 0.5 is first met at 25%
    assert summary.cpt80 == pytest.approx(0.9)  # target 0.65 on (.75, .5) → (1, .75)
    assert summary.monotone


def test_endpoints_are_exact() -> None:
    scores, strong, weak = synthetic(997)
    curve = threshold_sweep(scores, strong, weak)
    assert len(curve.strong_share) == 101
    assert curve.strong_share[0] == 0.0 and curve.strong_share[-1] == 1.0
    assert curve.quality[0] == weak.mean() and curve.quality[-1] == strong.mean()
    assert np.all(np.diff(curve.strong_share) > 0)  # no ties: every 1% target is its own point


def test_shares_are_the_ceiling_of_each_target() -> None:
    scores, strong, weak = synthetic(250)
    curve = threshold_sweep(scores, strong, weak, points=101)
    expected = np.ceil(np.arange(101) * 250 / 100) / 250
    np.testing.assert_array_equal(curve.strong_share, expected)


def test_ties_go_to_the_same_model() -> None:
    curve = threshold_sweep([1, 1, 0, 0], [1, 0, 1, 1], [0, 0, 0, 1], points=5)
    # Achievable counts are 0, 2 and 4: targets 1 and 3 round up to the next tie-group boundary.
    np.testing.assert_array_equal(curve.strong_share, [0.0, 0.5, 0.5, 1.0, 1.0])
    np.testing.assert_allclose(curve.quality, [0.25, 0.5, 0.5, 0.75, 0.75])


def test_all_ties_give_a_two_point_curve() -> None:
    _, strong, weak = synthetic(500)
    curve = threshold_sweep(np.full(500, 0.5), strong, weak)
    points = sorted(set(zip(curve.strong_share.tolist(), curve.quality.tolist(), strict=True)))
    assert points == [(0.0, weak.mean()), (1.0, strong.mean())]
    summary = summarize(curve, strong, weak)
    assert summary.apgr == pytest.approx(0.5)
    assert summary.cpt50 == pytest.approx(0.5)
    assert summary.monotone


def test_discrete_scores_do_not_crash() -> None:
    scores, strong, weak = synthetic(1000)
    levels = np.round(scores * 3)  # four distinct values, like a discrete router
    curve = threshold_sweep(levels, strong, weak)
    group_sizes = np.unique(levels, return_counts=True)[1][::-1]  # highest score first
    achievable = {0.0, *(np.cumsum(group_sizes) / 1000).tolist()}
    assert set(curve.strong_share.tolist()) <= achievable
    assert 0.5 < apgr(curve, weak.mean(), strong.mean()) < 1.0


def test_order_within_ties_does_not_matter() -> None:
    scores, strong, weak = synthetic(600)
    levels = np.round(scores * 10)
    flip = np.arange(600)[::-1]
    a = threshold_sweep(levels, strong, weak)
    b = threshold_sweep(levels[flip], strong[flip], weak[flip])
    np.testing.assert_allclose(a.quality, b.quality)


def test_plain_lists_and_integer_arrays_are_accepted() -> None:
    a = threshold_sweep(SCORES, S4, W4, points=5)
    b = threshold_sweep(np.array([9, 8, 3, 1]), np.array([1, 1, 0, 1]), np.array([0, 1, 0, 0]), points=5)
    np.testing.assert_array_equal(a.quality, b.quality)


# ------------------------------------------------------------------------------------ baselines


def test_perfect_router_equals_oracle_when_weak_is_a_subset_of_strong() -> None:
    rng = np.random.default_rng(1)
    strong = (rng.random(400) < 0.8).astype(np.float64)
    weak = strong * (rng.random(400) < 0.7)  # weak right ⇒ strong right
    perfect = (strong - weak) + 0.5 * rng.random(400)  # every gain-1 prompt outranks the rest
    routed, oracle = threshold_sweep(perfect, strong, weak), oracle_curve(strong, weak)
    np.testing.assert_array_equal(routed.strong_share, oracle.strong_share)
    np.testing.assert_allclose(routed.quality, oracle.quality)
    assert oracle.quality[-1] == pytest.approx(strong.mean())


def test_oracle_hand_computed() -> None:
    # Gains 1, −1, 1, 0: the oracle buys the two gains of 1 and never the loss.
    curve = oracle_curve([1, 0, 1, 0], [0, 1, 0, 0], points=5)
    np.testing.assert_allclose(curve.quality, [0.25, 0.5, 0.75, 0.75, 0.75])
    assert apgr(curve, 0.25, 0.5) == pytest.approx(1.5)  # beats always-strong: APGR > 1
    assert is_monotone(curve)


def test_oracle_graded_buys_only_positive_gains() -> None:
    curve = oracle_curve([0.9, 0.2, 0.5], [0.1, 0.4, 0.5], points=4)
    np.testing.assert_allclose(curve.quality, np.array([0, 0.8, 0.8, 0.8]) / 3 + 1 / 3)


def test_random_is_about_half_and_deterministic() -> None:
    _, strong, weak = synthetic(20_000)
    curve = random_curve(strong, weak)
    assert apgr(curve, weak.mean(), strong.mean()) == pytest.approx(0.5, abs=0.02)
    np.testing.assert_array_equal(curve.quality, random_curve(strong, weak).quality)
    assert not np.array_equal(curve.quality, random_curve(strong, weak, seeds=3).quality)


def test_inverse_router_is_below_random() -> None:
    scores, strong, weak = synthetic(2000)
    r_w, r_s = weak.mean(), strong.mean()
    good = apgr(threshold_sweep(scores, strong, weak), r_w, r_s)
    inverse = apgr(threshold_sweep(-scores, strong, weak), r_w, r_s)
    chance = apgr(random_curve(strong, weak), r_w, r_s)
    assert inverse < chance - 0.1 < good - 0.2
    assert inverse == pytest.approx(1 - good)  # n divisible by 100: the grids mirror exactly


# ---------------------------------------------------------------------------------------- CPT


def test_cpt_uses_the_running_max_envelope() -> None:
    curve = Curve(np.array([0, 0.25, 0.5, 0.75, 1.0]), np.array([0.0, 0.6, 0.4, 0.5, 1.0]))
    assert not is_monotone(curve)
    assert cpt(curve, 0.5, 0.0, 1.0) == pytest.approx(0.25 * 0.5 / 0.6)
    # Envelope (0, .6, .6, .6, 1): 0.7 lies on the last segment, not on the dip at 50%.
    assert cpt(curve, 0.7, 0.0, 1.0) == pytest.approx(0.75 + 0.25 * 0.1 / 0.4)
    assert cpt(curve, 0.55, 0.0, 1.0) == pytest.approx(0.25 * 0.55 / 0.6)


def test_cpt_edges() -> None:
    curve = threshold_sweep(SCORES, S4, W4, points=5)
    assert cpt(curve, 0.0, 0.25, 0.75) == 0.0
    assert cpt(curve, 1.0, 0.25, 0.75) == 1.0
    assert np.isnan(cpt(curve, 1.01, 0.25, 0.75))
    oracle = oracle_curve([1, 0, 1, 0], [0, 1, 0, 0], points=5)
    # PGR 1.5 → quality .625, halfway along (.25, .5) → (.5, .75): above always-strong quality.
    assert cpt(oracle, 1.5, 0.25, 0.5) == pytest.approx(0.375)


def test_pgr_scalar_and_array() -> None:
    assert pgr(0.5, 0.25, 0.75) == 0.5
    assert isinstance(pgr(0.5, 0.25, 0.75), float)
    np.testing.assert_allclose(pgr(np.array([0.25, 0.75, 1.0]), 0.25, 0.75), [0.0, 1.0, 1.5])


def test_no_numpy_1_only_calls() -> None:
    source = inspect.getsource(metrics)
    assert "trapz(" not in source and "pandas" not in source


# ---------------------------------------------------------------------------------- bad input


FLAT = Curve(np.array([0.0, 1.0]), np.array([0.5, 0.5]))
LINE = Curve(np.array([0.0, 1.0]), np.array([0.0, 1.0]))
NAN = float("nan")
BAD_INPUTS = [
    (
        "scores-length",
        lambda: threshold_sweep([0.1, 0.2], [1, 0, 1], [0, 0, 1]),
        r"`scores` has 2 values but the outcomes have 3\. Score exactly the prompts",
    ),
    (
        "outcome-length",
        lambda: threshold_sweep([0.1], [1, 0], [0]),
        r"`strong` has 2 values but `weak` has 1\. Pass both",
    ),
    ("empty", lambda: threshold_sweep([], [], []), r"`strong` is empty\. Pass one value per prompt"),
    (
        "nan-score",
        lambda: threshold_sweep([0.1, NAN], [1, 0], [0, 0]),
        r"1 NaN value\(s\) \(first at index 1\)\. NaN cannot be ranked",
    ),
    (
        "2d-scores",
        lambda: threshold_sweep([[0.1], [0.2]], [1, 0], [0, 0]),
        r"must be 1-D .* shape \(2, 1\)\. .*pass `scores\[:, 0\]`",
    ),
    (
        "quality-above-1",
        lambda: threshold_sweep([0.1, 0.2], [1, 2], [0, 0]),
        r"`strong` has 1 value\(s\) outside \[0, 1\] \(first: 2\.0 at index 1\)\. Rescale",
    ),
    (
        "quality-nan",
        lambda: oracle_curve([1, 0], [0, NAN]),
        r"`weak` has 1 value\(s\) outside \[0, 1\] \(first: nan at index 1\)",
    ),
    ("strings", lambda: threshold_sweep(["a", "b"], [1, 0], [0, 0]), r"`scores` must be numbers"),
    (
        "points",
        lambda: threshold_sweep([0.1, 0.2], [1, 0], [0, 0], points=1),
        r"`points` must be an integer ≥ 2, got 1",
    ),
    ("seeds", lambda: random_curve([1, 0], [0, 0], seeds=0), r"`seeds` must be an integer ≥ 1, got 0"),
    (
        "equal-means",
        lambda: summarize(FLAT, [1, 0], [0, 1]),
        r"same mean quality \(0\.5\).*undefined.*another model pair",
    ),
    ("pgr-equal-means", lambda: pgr(0.3, 0.5, 0.5), r"PGR, APGR and CPT are undefined"),
    ("cpt-x", lambda: cpt(LINE, NAN, 0.0, 1.0), r"`x` must be a finite PGR"),
    (
        "curve-start",
        lambda: Curve(np.array([0.1, 1.0]), np.array([0.0, 1.0])),
        r"from exactly 0\.0 to exactly 1\.0, got 0\.1",
    ),
    ("curve-shapes", lambda: Curve(np.array([0.0, 1.0]), np.array([0.0])), r"equal length ≥ 2"),
]


@pytest.mark.parametrize(("call", "message"), [pytest.param(c, m, id=i) for i, c, m in BAD_INPUTS])
def test_bad_input_raises_config_error(call: Callable[[], object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        call()


def test_config_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="empty"):
        oracle_curve([], [])


# --------------------------------------------------------------------------------------- plot


def test_plot_writes_a_png(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from routerkit.eval.plot import plot_cost_quality

    scores, strong, weak = synthetic(300)
    group = {
        "difficulty": threshold_sweep(scores, strong, weak),
        "random": random_curve(strong, weak),
        "oracle": oracle_curve(strong, weak),
    }
    path = plot_cost_quality({"mmlu": group, "gsm8k": group}, tmp_path / "out" / "plot.png", "test")
    assert path == tmp_path / "out" / "plot.png"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 10_000


def test_plot_without_matplotlib(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from routerkit.eval.plot import plot_cost_quality

    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(MissingDependencyError, match=r"routerkit\[eval\]"):
        plot_cost_quality({"g": {}}, tmp_path / "p.png", "t")


# ---------------------------------------------------------------------------------- real data


def routellm_dir() -> Path:
    """`$ROUTERKIT_DATA_DIR/routellm` (default `../shared/data`); skip if missing, fail on CI."""
    path = Path(os.environ.get("ROUTERKIT_DATA_DIR", "../shared/data")) / "routellm"
    if not (path / "prompts.jsonl.gz").is_file():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true but the RouteLLM data {str(path)!r} is missing")
        pytest.skip(f"RouteLLM data {str(path)!r} not found (set ROUTERKIT_DATA_DIR)")
    return path


@pytest.fixture(scope="module")
def routellm_groups() -> dict[str, tuple[Vector, Vector, Vector]]:
    """`{task group: (prompt length, strong score, weak score)}` read with gzip/json/csv only."""
    folder = routellm_dir()
    with gzip.open(folder / "outcomes.csv.gz", "rt", encoding="utf-8") as handle:
        outcome = {(row["id"], row["model"]): float(row["score"]) for row in csv.DictReader(handle)}
    rows: dict[str, list[tuple[float, float, float]]] = {}
    with gzip.open(folder / "prompts.jsonl.gz", "rt", encoding="utf-8") as handle:
        for line in handle:
            prompt = json.loads(line)
            key = prompt["task"].split("/")[0]
            rows.setdefault(key, []).append(
                (len(prompt["text"]), outcome[(prompt["id"], STRONG)], outcome[(prompt["id"], WEAK)])
            )
    groups = {}
    for key, values in rows.items():
        length, strong, weak = (np.array(column) for column in zip(*values, strict=True))
        groups[key] = (length, strong, weak)
    return groups


@pytest.mark.parametrize(("group", "expected"), [("mmlu", 0.586), ("gsm8k", 0.598)])
def test_length_baseline_on_routellm(
    routellm_groups: dict[str, tuple[Vector, Vector, Vector]], group: str, expected: float
) -> None:
    length, strong, weak = routellm_groups[group]
    summary = summarize(threshold_sweep(length, strong, weak, points=101), strong, weak)
    assert round(summary.apgr, 3) == expected
    assert summarize(random_curve(strong, weak), strong, weak).apgr == pytest.approx(0.5, abs=0.02)
    assert summarize(oracle_curve(strong, weak), strong, weak).apgr > 1.1
