"""`sw`: similarity-weighted ranking — the vectorised fit equals the direct one, pairs, errors, the shipped artifact."""

from __future__ import annotations

import itertools
import json
from importlib.resources import files
from pathlib import Path

import numpy as np
import pytest
import routerkit
from routerkit.artifacts import (
    EncoderRef,
    FileEntry,
    ModelEntry,
    PolicySpec,
    Roles,
    RouterManifest,
    TrainingData,
    sha256_of,
)
from routerkit.data import Battles
from routerkit.errors import ArtifactError, ConfigError, UnknownNameError
from routerkit.plugins import Plugins
from routerkit.routers.registry import load_encoder
from routerkit.routers.sw import TIERS_FILE, SWRouter, SWTiers, fit_bradley_terry
from routerkit.train.build_sw import HEAD_FILE, HEAD_INPUT, HEAD_OUTPUT, quantise_rows, similarity_head
from routerkit.train.sw import compute_tiers, global_ratings, prompt_tier_wins, reference_scores

scipy_optimize = pytest.importorskip("scipy.optimize")

MODELS = ("m0", "m1", "m2", "m3", "m4", "m5")
TIERS = 3
SHIPPED = Path(str(files("routerkit_models"))) / "routers" / "sw"


def _toy_battles(rng: np.random.Generator, n_prompts: int, dim: int) -> tuple[Battles, np.ndarray]:
    """Battles whose winners depend on the prompt's embedding, so similarity weighting matters."""
    emb = rng.normal(size=(n_prompts, dim)).astype(np.float32)
    skill = rng.normal(size=(len(MODELS), dim))
    prompt, winner, loser = [], [], []
    for p, (a, b) in itertools.product(range(n_prompts), itertools.combinations(range(len(MODELS)), 2)):
        if rng.random() < 0.6:
            a_wins = rng.random() < 1.0 / (1.0 + np.exp(-(skill[a] - skill[b]) @ emb[p] - (b - a) * 0.5))
            prompt.append(p)
            winner.append(a if a_wins else b)
            loser.append(b if a_wins else a)
    weight = rng.uniform(0.5, 2.0, size=len(prompt)).astype(np.float32)
    data = Battles(
        texts=tuple(f"prompt {i}" for i in range(n_prompts)),
        models=MODELS,
        prompt=np.array(prompt, dtype=np.int64),
        winner=np.array(winner, dtype=np.int64),
        loser=np.array(loser, dtype=np.int64),
        weight=weight,
        counts={"toy": {"prompts": n_prompts, "battles": len(prompt)}},
    )
    return data, emb


def _routellm_elo_fit(winner_tier: np.ndarray, loser_tier: np.ndarray, weight: np.ndarray, n: int) -> np.ndarray:
    """RouteLLM's `compute_elo_mle_with_tie` without ties: unpenalised weighted logistic regression
    (no intercept) on rows +ln 10 for the winner's tier and −ln 10 for the loser's, label 1; Elo = 400β + 1000."""
    x = np.zeros((winner_tier.size, n))
    x[np.arange(winner_tier.size), winner_tier] += np.log(10.0)
    x[np.arange(winner_tier.size), loser_tier] -= np.log(10.0)

    def loss(beta: np.ndarray) -> tuple[float, np.ndarray]:
        z = x @ beta
        p = 1.0 / (1.0 + np.exp(-z))
        return float(weight @ np.logaddexp(0.0, -z)), -(x.T @ (weight * (1.0 - p)))

    result = scipy_optimize.minimize(loss, np.zeros(n), jac=True, method="BFGS", options={"gtol": 1e-10})
    return 400.0 * result.x + 1000.0


def test_newton_fit_equals_routellm_logistic_regression() -> None:
    rng = np.random.default_rng(1)
    winner = rng.integers(0, 4, size=400)
    loser = (winner + rng.integers(1, 4, size=400)) % 4
    weight = rng.uniform(0.1, 3.0, size=400)
    elo = _routellm_elo_fit(winner, loser, weight, 4)
    wins = np.zeros((4, 4))
    np.add.at(wins, (winner, loser), weight)
    theta = fit_bradley_terry(wins, np.zeros(4), iterations=30)[0]
    expected = 1.0 / (1.0 + 10.0 ** ((elo[None, :] - elo[:, None]) / 400.0))  # P(row beats column)
    actual = 1.0 / (1.0 + np.exp(theta[None, :] - theta[:, None]))
    print("max |Δ P| vs RouteLLM's Elo fit:", np.abs(actual - expected).max())
    assert np.abs(actual - expected).max() < 1e-6


def test_fit_is_batched_and_scale_invariant() -> None:
    rng = np.random.default_rng(2)
    wins = rng.uniform(0.0, 5.0, size=(7, 4, 4)) * (1 - np.eye(4))
    batch = fit_bradley_terry(wins, np.zeros(4))
    one_by_one = np.concatenate([fit_bradley_terry(w, np.zeros(4)) for w in wins])
    np.testing.assert_array_equal(batch, one_by_one)
    np.testing.assert_allclose(fit_bradley_terry(wins * 1000.0, np.zeros(4)), batch, atol=1e-8)


def test_tiers_are_the_least_variance_contiguous_split() -> None:
    ratings = np.array([3.0, -1.0, 2.9, 0.1, -1.2, 0.0, 2.0])
    tiers = compute_tiers(ratings, 3)
    order = np.argsort(-ratings)
    best = min(
        (sum(float(np.var(g) * g.size) for g in np.split(ratings[order], cut)), cut)
        for cut in itertools.combinations(range(1, ratings.size), 2)
    )
    expected = np.empty(ratings.size, dtype=np.int64)
    for tier, group in enumerate(np.split(order, best[1])):
        expected[group] = tier
    np.testing.assert_array_equal(tiers, expected)
    assert tiers[0] == 0 and tiers[4] == 2  # strongest first
    with pytest.raises(ConfigError, match="cannot fill"):
        compute_tiers(ratings, 8)


def _write_artifact(folder: Path, data: Battles, emb: np.ndarray, tier_of: np.ndarray, encoder_sha: str) -> None:
    """What `build_sw` writes, on toy battles (gamma 10)."""
    per_prompt = prompt_tier_wins(data, tier_of, TIERS)
    q, scale = quantise_rows(emb[per_prompt.rows])
    (folder / HEAD_FILE).write_bytes(similarity_head(q, scale, per_prompt.wins, 10.0).SerializeToString())
    start = fit_bradley_terry(per_prompt.wins.sum(axis=0), np.zeros(TIERS), iterations=30)[0]
    tiers = SWTiers(tier_of=dict(zip(MODELS, tier_of.tolist(), strict=True)), start=tuple(start), iterations=12)
    (folder / TIERS_FILE).write_text(tiers.model_dump_json(), encoding="utf-8")
    manifest = RouterManifest(
        name="toy_sw",
        kind="sw",
        version="0.0.1",
        status="experimental",
        description="toy",
        encoder=EncoderRef(name="minilm_l6", sha256=encoder_sha),
        files={n: FileEntry(sha256=sha256_of(folder / n), bytes=1) for n in (HEAD_FILE, TIERS_FILE)},
        head_file=HEAD_FILE,
        head_input=HEAD_INPUT,
        head_output=HEAD_OUTPUT,
        models=tuple(ModelEntry(name=m) for m in MODELS),
        roles=Roles(strong="m0", weak="m5"),
        default_policy=PolicySpec(kind="threshold", value=0.5),
        training=TrainingData(datasets={}, recipe="none", hyperparameters={"gamma": 10.0}),
        metrics={},
        licence="test",
        routerkit_version="0",
        min_core_version="0.1.0",
    )
    (folder / "manifest.json").write_text(manifest.model_dump_json(), encoding="utf-8")


@pytest.fixture
def toy(tmp_path: Path, plugins: Plugins) -> tuple[Path, Battles, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    encoder = load_encoder("minilm_l6", plugins=plugins)
    data, emb = _toy_battles(rng, 40, encoder.dim)
    tier_of = compute_tiers(global_ratings(data), TIERS)
    _write_artifact(tmp_path, data, emb, tier_of, encoder.sha256)
    return tmp_path, data, emb, tier_of


def _router(folder: Path, plugins: Plugins, **options: str) -> SWRouter:
    manifest = RouterManifest.model_validate_json((folder / "manifest.json").read_text(encoding="utf-8"))
    return SWRouter(folder, manifest, load_encoder("minilm_l6", plugins=plugins), threads=1, **options)


def test_head_and_newton_equal_the_per_battle_reference(toy: tuple, plugins: Plugins) -> None:
    folder, data, emb, tier_of = toy
    router = _router(folder, plugins)
    rng = np.random.default_rng(3)
    # Queries near stored prompts (max cosine ≈ 0.5–1, as for real prompts), one equal to a stored prompt.
    queries = (emb[:16] + rng.uniform(0.0, 1.5, size=(16, 1)) * rng.normal(size=(16, emb.shape[1]))).astype(np.float32)
    queries[0] = emb[0]
    pair = (MODELS.index("m0"), MODELS.index("m5"))
    expected = reference_scores(queries, data, emb, tier_of, pair)
    actual = router.scores_of_embeddings(queries)[:, 0]
    print("max |Δ score| head vs reference:", np.abs(actual - expected).max())
    assert np.abs(actual - expected).max() < 1e-3
    assert np.ptp(actual) > 0.01  # the weighting does change the score from query to query


def test_pair_selection_and_errors(toy: tuple, plugins: Plugins) -> None:
    folder, _, emb, tier_of = toy
    default = _router(folder, plugins)
    assert (default.strong, default.weak) == ("m0", "m5")
    other_weak = next(m for m, t in zip(MODELS, tier_of, strict=True) if t not in (tier_of[0], tier_of[5]))
    other = _router(folder, plugins, weak=other_weak)
    assert other.weak == other_weak
    assert not np.allclose(other.scores_of_embeddings(emb[:5]), default.scores_of_embeddings(emb[:5]))
    swapped = _router(folder, plugins, strong="m5", weak="m0")
    np.testing.assert_allclose(swapped.scores_of_embeddings(emb[:5]), 1 - default.scores_of_embeddings(emb[:5]))
    with pytest.raises(UnknownNameError, match="'gpt-5'"):
        _router(folder, plugins, strong="gpt-5")


def test_tampered_or_foreign_files_are_refused(toy: tuple, plugins: Plugins) -> None:
    folder = toy[0]
    tiers = json.loads((folder / TIERS_FILE).read_text(encoding="utf-8"))
    tiers["tier_of"]["m0"] = 2
    (folder / TIERS_FILE).write_text(json.dumps(tiers), encoding="utf-8")
    with pytest.raises(ArtifactError, match="sha256"):
        _router(folder, plugins)


def test_tier_file_must_cover_the_manifest_models(toy: tuple, plugins: Plugins) -> None:
    folder = toy[0]
    tiers = json.loads((folder / TIERS_FILE).read_text(encoding="utf-8"))
    del tiers["tier_of"]["m3"]
    (folder / TIERS_FILE).write_text(json.dumps(tiers), encoding="utf-8")
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    manifest["files"][TIERS_FILE]["sha256"] = sha256_of(folder / TIERS_FILE)  # re-signed, still inconsistent
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(ArtifactError, match="does not match the manifest's models"):
        _router(folder, plugins)


def test_same_tier_pair_is_refused_by_name(toy: tuple, plugins: Plugins) -> None:
    folder, _, _, tier_of = toy
    counts = np.bincount(tier_of, minlength=TIERS)
    tier = int(np.argmax(counts))
    assert counts[tier] > 1
    a, b = [m for m, t in zip(MODELS, tier_of, strict=True) if t == tier][:2]
    with pytest.raises(ConfigError, match=f"both in tier {tier}"):
        _router(folder, plugins, strong=a, weak=b)


def test_shipped_artifact(plugins: Plugins) -> None:
    manifest = json.loads((SHIPPED / "manifest.json").read_text(encoding="utf-8"))
    assert sum(p.stat().st_size for p in SHIPPED.iterdir()) <= 8 * 1024 * 1024
    for name, entry in manifest["files"].items():
        assert sha256_of(SHIPPED / name) == entry["sha256"], name
    for group in ("routellm/mmlu", "routellm/gsm8k"):
        assert {"apgr", "cpt50", "n"} <= set(manifest["metrics"][group])
    router = routerkit.load("sw", threads=1)
    assert (router.strong, router.weak) == ("gpt-4-1106-preview", "mixtral-8x7b-instruct-v0.1")
    prompts = ["hi", "Prove that there are infinitely many primes.", "What is 17 * 23? Show your work."]
    filler = [f"filler prompt number {i} " + "word " * (i * 3 % 200) for i in range(61)]
    together = router.scores([*prompts, *filler])[:3, 0]  # a padded batch of 64
    alone = np.array([router.scores([p])[0, 0] for p in prompts])
    np.testing.assert_allclose(together, alone, atol=1e-6)
    assert ((together > 0) & (together < 1)).all()
    decision = router.route(prompts[1])
    assert decision.model in (router.strong, router.weak)
