"""Zooter: soft targets and tag smoothing by hand, training recovers planted experts, ONNX parity, recipes."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest
from routerkit.errors import ConfigError
from routerkit.plugins import Plugins
from routerkit.routers.head import HeadRouter
from routerkit.routers.registry import load_encoder
from routerkit.train.build_heads import build_head
from routerkit.train.head_recipe import KnnRecipe, ZooterRecipe, read_head_recipe
from routerkit.train.zooter import (
    ZooterHyperparameters,
    export_zooter,
    fit_zooter,
    predict_shares,
    sample_targets,
    smoothed_targets,
    tag_means,
    zooter_parity,
)

NAN = float("nan")


def test_sample_targets_are_a_softmax_over_available_models() -> None:
    targets, mask = sample_targets(np.array([[1.0, 0.0, NAN], [NAN, NAN, NAN]]), tau=1.0)
    e = np.e
    np.testing.assert_allclose(targets[0], [e / (e + 1), 1 / (e + 1), 0.0])
    np.testing.assert_array_equal(targets[1], [0.0, 0.0, 0.0])  # nothing measured: no target
    assert mask.tolist() == [[True, True, False], [False, False, False]]
    with pytest.raises(ConfigError, match="τ must be positive"):
        sample_targets(np.zeros((1, 2)), tau=0.0)


def test_tag_smoothing_by_hand() -> None:
    targets = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    mask = np.array([[True, True, True], [True, True, True], [True, False, True]])
    tags = ["a", "a", "b"]
    means = tag_means(targets, tags)
    np.testing.assert_allclose(means["a"], [0.5, 0.5, 0.0])
    np.testing.assert_array_equal(smoothed_targets(targets, mask, tags, means, beta=1.0), targets)
    out = smoothed_targets(targets, mask, tags, means, beta=0.3)
    np.testing.assert_allclose(out[0], [0.3 + 0.7 * 0.5, 0.7 * 0.5, 0.0])
    np.testing.assert_allclose(out[2], [0.0, 0.0, 1.0])  # tag b's mean is its own prompt
    # Renormalised over the prompt's available models: tag a's mean restricted to models 0 and 2 → [1, 0, 0].
    only = smoothed_targets(targets, mask, ["b", "b", "a"], means, beta=0.0)
    np.testing.assert_allclose(only[2], [1.0, 0.0, 0.0])
    with pytest.raises(ConfigError, match="β must be in"):
        smoothed_targets(targets, mask, tags, means, beta=1.5)


def _planted(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Two clusters; model 0 is right on cluster 0, model 1 on cluster 1, model 2 never; model 3 unmeasured."""
    rng = np.random.default_rng(seed)
    cluster = rng.integers(0, 2, n)
    centres = rng.normal(size=(2, 16)) * 3
    emb = (centres[cluster] + rng.normal(size=(n, 16))).astype(np.float32)
    scores = np.zeros((n, 4))
    scores[np.arange(n), cluster] = 1.0
    scores[:, 3] = NAN
    return emb, scores


def test_training_recovers_planted_experts_and_exports_exactly(tmp_path: Path) -> None:
    emb, scores = _planted(400, 0)
    sample, mask = sample_targets(scores, tau=0.3)
    hp = ZooterHyperparameters(hidden=16, max_epochs=20, batch_size=64, lr=1e-2)
    result = fit_zooter((emb[:300], sample[:300], mask[:300]), (emb[300:], sample[300:], mask[300:]), hp)
    shares = predict_shares(result.model, emb[300:])
    np.testing.assert_allclose(shares.sum(1), 1.0, atol=1e-5)
    expert = np.argmax(scores[300:, :3], axis=1)
    assert np.mean(np.argmax(shares[:, :3], axis=1) == expert) >= 0.95
    assert np.isfinite(result.val_loss).all() and 1 <= result.best_epoch <= 20
    export_zooter(result.model, tmp_path / "head.onnx")
    diff = zooter_parity(result.model, tmp_path / "head.onnx", emb[300:])
    print(f"zooter: torch vs onnxruntime max |Δ| = {diff:.2e}")
    assert diff <= 1e-5


def test_training_is_deterministic() -> None:
    emb, scores = _planted(120, 1)
    sample, mask = sample_targets(scores, tau=1.0)
    hp = ZooterHyperparameters(hidden=0, max_epochs=3, batch_size=32)
    runs = [fit_zooter((emb, sample, mask), (emb, sample, mask), hp) for _ in range(2)]
    np.testing.assert_array_equal(predict_shares(runs[0].model, emb), predict_shares(runs[1].model, emb))


def test_recipes_are_read_by_kind_and_unknown_keys_refused(tmp_path: Path) -> None:
    common = {"name": "x", "version": "0", "description": "d", "encoder": "minilm_l6", "dataset": "d", "licence": "l"}
    (tmp_path / "knn.json").write_text(json.dumps({**common, "kind": "knn", "ks": [3]}))
    (tmp_path / "zooter.json").write_text(json.dumps({**common, "kind": "zooter", "betas": [0.3]}))
    (tmp_path / "bad.json").write_text(json.dumps({**common, "kind": "zooter", "beta": 0.3}))
    assert isinstance(read_head_recipe(tmp_path / "knn.json"), KnnRecipe)
    assert isinstance(read_head_recipe(tmp_path / "zooter.json"), ZooterRecipe)
    with pytest.raises(ConfigError, match=r"(?s)bad\.json.*beta"):
        read_head_recipe(tmp_path / "bad.json")
    with pytest.raises(ConfigError, match="does not exist"):
        read_head_recipe(tmp_path / "missing.json")


@pytest.mark.parametrize("name", ["knn_mmlu_pro", "zooter_llmrouter"])
def test_shipped_recipes_are_valid(name: str) -> None:
    recipe = read_head_recipe(Path(__file__).resolve().parents[2] / "onnx_models" / "recipes" / f"{name}.json")
    assert recipe.name == name and recipe.kind == name.split("_")[0]


MATH = [f"Compute {a} plus {b} and show the arithmetic." for a, b in zip(range(11, 43), range(57, 89), strict=True)]
POEMS = [
    f"Write a short poem about the {adjective} {noun}."
    for adjective in ("quiet", "stormy", "golden", "frozen")
    for noun in ("ocean", "forest", "moon", "river", "city", "garden", "mountain", "meadow")
]


def _write_planted_dataset(folder: Path) -> None:
    """`mathy` answers the arithmetic prompts, `poet` the poems, `dud` neither; splits 20/6/6 per task."""
    folder.mkdir(parents=True)
    prompts, outcomes = [], ["id,model,score,output_tokens,cost_usd"]
    for task, texts in (("math", MATH), ("poem", POEMS)):
        for i, text in enumerate(texts):
            split = "train" if i < 20 else "val" if i < 26 else "test"
            pid = f"{task}{i}"
            prompts.append({"id": pid, "text": text, "task": task, "hash": f"{i:040x}", "split": split})
            for model, right in (("mathy", task == "math"), ("poet", task == "poem"), ("dud", False)):
                outcomes.append(f"{pid},{model},{int(right)},100,")
    with gzip.open(folder / "prompts.jsonl.gz", "wt", encoding="utf-8") as handle:
        handle.write("".join(json.dumps(p) + "\n" for p in prompts))
    with gzip.open(folder / "outcomes.csv.gz", "wt", encoding="utf-8") as handle:
        handle.write("\n".join(outcomes) + "\n")
    prices = {"mathy": 1.0, "poet": 2.0, "dud": None}
    models = {m: {"input_usd_per_mtok": p, "output_usd_per_mtok": p} for m, p in prices.items()}
    (folder / "models.json").write_text(json.dumps(models), encoding="utf-8")


@pytest.mark.parametrize("kind", ["knn", "zooter"])
def test_build_head_end_to_end_on_planted_data(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, plugins: Plugins
) -> None:
    _write_planted_dataset(tmp_path / "data" / "planted")
    monkeypatch.setenv("ROUTERKIT_DATA_DIR", str(tmp_path / "data"))
    common = {"version": "0", "description": "d", "encoder": "minilm_l6", "dataset": "planted", "licence": "l"}
    grid = {"ks": [1, 5]} if kind == "knn" else {"taus": [0.3], "betas": [0.3], "hyperparameters": {"max_epochs": 30}}
    recipe = tmp_path / f"{kind}.json"
    recipe.write_text(json.dumps({**common, "kind": kind, "name": f"{kind}_planted", **grid}))
    manifest = build_head(recipe, tmp_path / "out", log=lambda _: None)
    test = manifest.metrics["planted/test"]
    assert test["routed_accuracy"] == 1.0 and test["best_single_accuracy"] == 0.5 and test["oracle_accuracy"] == 1.0
    assert test["random_accuracy"] == pytest.approx(1 / 3, abs=1e-4) and test["n_models"] == 3
    assert manifest.default_policy.value == 0.0  # `dud` has no price, so only weight 0 is meaningful
    assert manifest.training.datasets == {"planted": {"train_prompts": 40, "val_prompts": 12, "test_prompts": 12}}
    folder = tmp_path / "out" / f"{kind}_planted"
    router = HeadRouter(folder, manifest, load_encoder("minilm_l6", plugins=plugins), threads=1)
    assert [d.model for d in router.route_batch([MATH[-1], POEMS[-1]])] == ["mathy", "poet"]
