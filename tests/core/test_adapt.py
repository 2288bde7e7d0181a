"""`routerkit adapt`: the sample, the combiner, the artifact (load, tamper, base check) and the errors."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import routerkit
from routerkit.cli import main
from routerkit.data import OutcomeTable, Prompt, load_dataset, write_dataset
from routerkit.errors import ArtifactError, ConfigError, UnknownNameError
from routerkit.eval.metrics import summarize, threshold_sweep
from routerkit.eval.report import evaluate
from routerkit.plugins import Plugins
from routerkit.routers.adapted import SAMPLE_FILE, AdaptedRouter, adapted_features
from routerkit.train.adapt import MAX_SHARE, adapt_router, draw_sample, fit_combiner, soft_targets

STRONG, WEAK = "big-model", "small-model"


def _apgr(score: np.ndarray, s: np.ndarray, w: np.ndarray) -> float:
    return summarize(threshold_sweep(score, s, w), s, w).apgr


def test_the_sample_is_seeded_stratified_and_sized() -> None:
    groups = ["a"] * 900 + ["b"] * 100
    labelled = np.arange(1000, dtype=np.intp)
    rows = draw_sample(groups, labelled, 0.05, seed=3)
    assert len(rows) == 50 and len(set(rows.tolist())) == 50
    assert sum(groups[i] == "b" for i in rows) == 5  # the group's proportional quota
    np.testing.assert_array_equal(rows, draw_sample(groups, labelled, 0.05, seed=3))
    assert not np.array_equal(rows, draw_sample(groups, labelled, 0.05, seed=4))
    assert set(draw_sample(groups, labelled[::2], 0.1, seed=0).tolist()) <= set(labelled[::2].tolist())


def test_ties_count_half_a_win() -> None:
    np.testing.assert_allclose(soft_targets(np.array([1, 0, 1, 0.5]), np.array([0, 1, 1, 0.0])), [1, 0, 0.5, 0.75])


def test_the_combiner_recovers_a_planted_direction() -> None:
    rng = np.random.default_rng(0)
    n, dim = 4000, 24
    spread = np.linspace(3.0, 0.5, dim)  # the planted direction is the strongest principal component
    embeddings = rng.normal(size=(n, dim)) * spread
    gain = 1.0 / (1.0 + np.exp(-2.0 * embeddings[:, 0]))  # P(strong wins) rises along the first axis
    s = (rng.random(n) < gain).astype(float)
    w = (rng.random(n) < 0.3).astype(float)  # the weak model is right 30% of the time, anywhere
    texts = ["x" * int(k) for k in rng.integers(20, 400, size=n)]  # length carries no signal here
    features = adapted_features(embeddings, rng.random(n), texts)  # an uninformative base router
    rows = draw_sample(["g"] * n, np.arange(n, dtype=np.intp), 0.05, seed=1)
    combiner = fit_combiner(features[rows], soft_targets(s[rows], w[rows]), embeddings, seed=1)
    held = np.setdiff1d(np.arange(n), rows)
    adapted = _apgr(combiner.predict(features[held]), s[held], w[held])
    length = _apgr(features[held, -1], s[held], w[held])
    print(f"held-out APGR: adapted {adapted:.3f}, length {length:.3f}, k={combiner.components}")
    assert combiner.components >= 1 and adapted > 0.75 > length + 0.15


def _domain(folder: Path, n: int = 120) -> OutcomeTable:
    """A toy domain (one task group): the strong model wins the proofs, the two tie on the greetings."""
    prompts, scores = [], []
    for i in range(n):
        proof = i % 2 == 0
        text = f"Prove that {i} + {i + 2} is even, using induction on n." if proof else f"Say hello to friend {i}."
        digest = hashlib.sha1(text.encode()).hexdigest()
        prompts.append(Prompt(f"p{i}", text, "toy/proofs" if proof else "toy/chat", digest, "test"))
        scores.append([1.0, 0.0] if proof else [1.0, 1.0])
    grid = np.array(scores)
    table = OutcomeTable(
        "toy",
        tuple(prompts),
        (STRONG, WEAK),
        grid,
        np.full_like(grid, 100.0),
        np.full_like(grid, 0.001),
        {STRONG: {"input_usd_per_mtok": 10.0, "output_usd_per_mtok": 30.0}, WEAK: {}},
    )
    write_dataset(table, folder)
    return load_dataset(folder)


@pytest.fixture
def adapted(tmp_path: Path, plugins: Plugins) -> tuple[Path, OutcomeTable]:
    table = _domain(tmp_path / "toy")
    out = tmp_path / "routers" / "toy_adapted"
    lines: list[str] = []
    adapt_router(
        "length", tmp_path / "toy", out, share=0.25, seed=0, strong=STRONG, weak=WEAK,
        allow_larger_sample=True, log=lines.append,
    )  # fmt: skip
    assert any("max abs diff" in line for line in lines)
    return out, table


def test_the_artifact_loads_routes_and_records_its_sample(adapted: tuple[Path, OutcomeTable]) -> None:
    out, table = adapted
    router = routerkit.load(out)
    assert isinstance(router, AdaptedRouter) and router.pairwise and (router.strong, router.weak) == (STRONG, WEAK)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["kind"] == "adapted" and manifest["training"]["hyperparameters"]["base_router"] == "length"
    assert SAMPLE_FILE in manifest["files"] and manifest["training"]["datasets"]["toy"]["sample"] == 30
    assert len(router.sample_ids) == 30 and router.sample_ids <= {p.id for p in table.prompts}
    held = [p for p in table.prompts if p.id not in router.sample_ids]  # what an honest evaluation scores
    assert len(held) == len(table) - 30
    scores = router.scores([p.text for p in held])[:, 0]
    proofs = np.array([p.task == "toy/proofs" for p in held])
    assert scores[proofs].min() > scores[~proofs].max()  # learnt from the sample alone
    assert router.route("Prove that 40 + 42 is even, using induction on n.").model == STRONG
    sampled = router.scores([p.text for p in table.prompts if p.id in router.sample_ids])[:, 0]
    threshold = router.default_policy.params()["threshold"]
    assert abs(np.mean(sampled >= threshold) - 0.5) <= 1 / 30 + 1e-9  # the default sends half the sample strong
    one = router.scores([held[0].text])
    np.testing.assert_allclose(one, router.scores([p.text for p in held[:5]])[:1], atol=1e-6)


def test_tampered_files_and_a_changed_base_are_refused(adapted: tuple[Path, OutcomeTable]) -> None:
    out, _ = adapted
    ids = out / SAMPLE_FILE
    original = ids.read_bytes()
    ids.write_bytes(original.replace(b"p", b"q", 1))
    with pytest.raises(ArtifactError, match=r"sample_ids\.json"):
        routerkit.load(out)
    ids.write_bytes(original)
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["training"]["hyperparameters"]["base_fingerprint"] = "LengthRouter:length:1:a,b:scale=9.0"
    (out / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match="fingerprint"):
        routerkit.load(out)


def test_bad_requests_are_refused_with_clear_errors(tmp_path: Path, plugins: Plugins) -> None:
    _domain(tmp_path / "toy")
    pair = {"strong": STRONG, "weak": WEAK}
    with pytest.raises(ConfigError, match="allow-larger-sample"):
        adapt_router("length", tmp_path / "toy", tmp_path / "a", share=MAX_SHARE * 2, **pair)
    with pytest.raises(ConfigError, match="at least 20"):
        adapt_router("length", tmp_path / "toy", tmp_path / "a", share=0.05, **pair)
    with pytest.raises(UnknownNameError, match="'gpt-9'"):
        adapt_router("length", tmp_path / "toy", tmp_path / "a", strong="gpt-9", weak=WEAK)
    with pytest.raises(ConfigError, match="must match"):
        adapt_router("length", tmp_path / "toy", tmp_path / "Bad-Name", **pair)
    half = _domain(tmp_path / "half", n=40)
    half.scores[::2, 1] = np.nan  # the pair is never labelled on the same prompt
    half.scores[1::2, 0] = np.nan
    write_dataset(half, tmp_path / "half", overwrite=True)
    with pytest.raises(ConfigError, match="no prompt with outcomes for both"):
        adapt_router("length", tmp_path / "half", tmp_path / "a", **pair)


def test_the_cli_adapts_and_reports(tmp_path: Path, plugins: Plugins, capsys: pytest.CaptureFixture[str]) -> None:
    _domain(tmp_path / "toy")
    out = tmp_path / "cli_adapted"
    base = ["adapt", "--router", "length", "--data", str(tmp_path / "toy"), "--out", str(out)]
    pair = ["--strong", STRONG, "--weak", WEAK]
    assert main([*base, *pair, "--sample", "0.2", "--allow-larger-sample"]) == 0
    printed = capsys.readouterr().out
    assert f"wrote {out}" in printed and "sample_ids.json" in printed and "toy/sample_cv" in printed
    assert main([*base, *pair, "--sample", "0.2"]) == 2
    assert "allow-larger-sample" in capsys.readouterr().err


def test_evaluation_leaves_the_sample_out_and_the_pair_is_fixed(adapted: tuple[Path, OutcomeTable]) -> None:
    out, table = adapted
    result = evaluate([str(out)], dataset=table, strong=STRONG, weak=WEAK, plot=None, progress=False)
    (group,) = result.groups
    assert group.n == len(table) - 30  # the 30 labelled prompts are scored by no router
    assert routerkit.load(out, strong=STRONG, weak=WEAK).strong == STRONG
    with pytest.raises(ConfigError, match="adapted for"):
        routerkit.load(out, strong=WEAK, weak=STRONG)
