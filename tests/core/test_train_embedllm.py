"""EmbedLLM: training recovers a planted low-rank correctness structure, the ONNX head matches torch,
probe fitting recovers a planted model, the measures are right on hand-checked cases, errors are clear."""

from __future__ import annotations

import json
from importlib.resources import files
from pathlib import Path

import numpy as np
import pytest
import routerkit
from routerkit.artifacts import ModelEntry, RouterManifest, read_manifest
from routerkit.errors import ArtifactError, ConfigError
from routerkit.plugins import Plugins
from routerkit.routers.head import HeadRouter

torch = pytest.importorskip("torch")
torch.set_num_threads(1)  # the tensors are tiny; threads only contend on a shared CPU

from routerkit.train.build_embedllm import HEAD_OUTPUT, parity, read_embedllm_recipe  # noqa: E402
from routerkit.train.embedllm import (  # noqa: E402
    EmbedLLMHyperparameters,
    fit_embedllm,
    fit_embedllm_tuned,
    predict,
)
from routerkit.train.embedllm_eval import auc_score, forecast_metrics, routing_summary, spearman  # noqa: E402
from routerkit.train.embedllm_head import head_arrays, write_head  # noqa: E402
from routerkit.train.embedllm_probes import ModelPrior, add_model, fit_new_model, tower_features  # noqa: E402

RECIPES = Path(__file__).resolve().parents[2] / "onnx_models" / "recipes"
HP = EmbedLLMHyperparameters(dims=(4,), dropout=0.0, lr=0.02, batch_size=128, max_epochs=80, patience=8)


def _planted(n: int = 1500, models: int = 8, rank: int = 3, seed: int = 0) -> dict[str, np.ndarray]:
    """Prompts in 16-d, correctness logits of rank `rank`: logit = (e T) V^T + b."""
    rng = np.random.default_rng(seed)
    emb = rng.normal(size=(n, 16)).astype(np.float32)
    tower = rng.normal(size=(16, rank)) / 2.0
    v = rng.normal(size=(models, rank))
    b = rng.normal(scale=0.5, size=models)
    logits = emb @ tower @ v.T + b
    labels = (rng.random(logits.shape) < 1.0 / (1.0 + np.exp(-logits))).astype(np.float32)
    labels[rng.random(labels.shape) < 0.1] = np.nan  # missing cells are masked, not zeros
    return {"emb": emb, "labels": labels, "logits": logits, "tower": tower, "v": v, "b": b}


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


@pytest.fixture(scope="module")
def trained() -> tuple[dict[str, np.ndarray], object]:
    data = _planted()
    train = (data["emb"][:1000], data["labels"][:1000])
    val = (data["emb"][1000:1250], data["labels"][1000:1250])
    return data, fit_embedllm(train, val, HP, 4)


def test_training_recovers_a_planted_low_rank_structure(trained: tuple[dict[str, np.ndarray], object]) -> None:
    data, result = trained
    test = slice(1250, None)
    predicted = predict(result.model, data["emb"][test])  # type: ignore[attr-defined]
    truth = 1.0 / (1.0 + np.exp(-data["logits"][test]))
    learned, ideal = forecast_metrics(predicted, data["labels"][test]), forecast_metrics(truth, data["labels"][test])
    print(f"accuracy {learned['accuracy']:.3f} (truth {ideal['accuracy']:.3f}), auc {learned['auc']:.3f}")
    assert learned["accuracy"] >= ideal["accuracy"] - 0.03
    assert learned["auc"] >= ideal["auc"] - 0.03
    assert np.corrcoef(predicted.ravel(), truth.ravel())[0, 1] > 0.95


def test_width_is_chosen_on_validation() -> None:
    data = _planted(n=600, rank=2, seed=1)
    hp = HP.model_copy(update={"dims": (1, 2), "max_epochs": 30})
    result = fit_embedllm_tuned(
        (data["emb"][:400], data["labels"][:400]), (data["emb"][400:], data["labels"][400:]), hp
    )
    assert result.dim == 2  # rank 1 cannot express a planted rank-2 structure


def test_onnx_head_matches_torch_and_keeps_the_tower(
    tmp_path: Path, trained: tuple[dict[str, np.ndarray], object]
) -> None:
    data, result = trained
    path = tmp_path / "head.onnx"
    write_head(result.model.arrays(), path, input_name="sentence_embedding", output_name=HEAD_OUTPUT)  # type: ignore[attr-defined]
    diff = parity(result.model, path, data["emb"][:300])  # type: ignore[attr-defined]
    print(f"torch vs onnxruntime max |Δ P(correct)| = {diff:.2e}")
    assert diff < 1e-5
    stored = head_arrays(path)
    for name, value in result.model.arrays().items():  # type: ignore[attr-defined]
        np.testing.assert_array_equal(stored[name], value)


def test_probe_fit_recovers_a_planted_model(trained: tuple[dict[str, np.ndarray], object]) -> None:
    data, result = trained
    arrays = result.model.arrays()  # type: ignore[attr-defined]
    prior = ModelPrior.from_models(arrays["models"], arrays["bias"])
    rng = np.random.default_rng(7)
    v_true = arrays["models"][0] * 1.5 + rng.normal(scale=0.2, size=arrays["models"].shape[1])
    features = tower_features(arrays, data["emb"])
    labels = (rng.random(len(features)) < 1.0 / (1.0 + np.exp(-(features @ v_true - 0.3)))).astype(float)
    v, b = fit_new_model(features[:1000], labels[:1000], prior)
    cosine = float(v @ v_true / np.linalg.norm(v) / np.linalg.norm(v_true))
    gap = np.abs(_sigmoid(features[1000:] @ v + b) - _sigmoid(features[1000:] @ v_true - 0.3))
    print(f"cosine to planted embedding {cosine:.3f}, mean |Δp| on unseen prompts {gap.mean():.3f}")
    assert cosine > 0.95 and gap.mean() < 0.05
    few_v, _ = fit_new_model(features[:3], labels[:3], prior)  # 3 probes: the prior dominates
    assert np.linalg.norm(few_v - prior.mean[:-1]) < np.linalg.norm(v - prior.mean[:-1])


def test_probe_fit_rejects_bad_input(trained: tuple[dict[str, np.ndarray], object]) -> None:
    _, result = trained
    arrays = result.model.arrays()  # type: ignore[attr-defined]
    prior = ModelPrior.from_models(arrays["models"], arrays["bias"])
    with pytest.raises(ConfigError, match="k ≥ 1 probes"):
        fit_new_model(np.zeros((0, 4)), np.zeros(0), prior)
    with pytest.raises(ConfigError, match="width 5"):
        fit_new_model(np.zeros((3, 5)), np.zeros(3), prior)
    with pytest.raises(ConfigError, match=r"in \[0, 1\]"):
        fit_new_model(np.zeros((2, 4)), np.array([1.0, np.nan]), prior)
    with pytest.raises(ConfigError, match="at least 2 trained models"):
        ModelPrior.from_models(arrays["models"][:1], arrays["bias"][:1])


def test_training_and_recipe_errors(tmp_path: Path) -> None:
    emb = np.zeros((4, 3), dtype=np.float32)
    with pytest.raises(ConfigError, match="every correctness label is missing"):
        fit_embedllm((emb, np.full((4, 2), np.nan, np.float32)), (emb, np.ones((4, 2), np.float32)), HP, 2)
    with pytest.raises(ConfigError, match="one row per prompt"):
        fit_embedllm((emb, np.ones((3, 2), np.float32)), (emb, np.ones((4, 2), np.float32)), HP, 2)
    bad = tmp_path / "r.json"
    bad.write_text(json.dumps({**json.loads((RECIPES / "embedllm_llmrouter.json").read_text()), "dimz": 3}))
    with pytest.raises(ConfigError, match=r"(?s)r\.json.*dimz"):
        read_embedllm_recipe(bad)
    not_a_head = tmp_path / "x.onnx"
    not_a_head.write_bytes(b"not onnx")
    with pytest.raises(ArtifactError, match=r"x\.onnx"):
        head_arrays(not_a_head)


def test_measures_on_hand_checked_cases() -> None:
    assert auc_score([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]) == pytest.approx(0.75)
    assert auc_score([0.5, 0.5], [0, 1]) == pytest.approx(0.5)  # a tie counts half
    assert spearman([1, 2, 3, 4], [10, 20, 40, 30]) == pytest.approx(0.8)
    scores = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, np.nan], [0.0, 0.0]])
    costs = np.array([[1.0, 3.0]] * 4) / 1000.0
    summary = routing_summary(np.array([0, 1, 0, 1]), scores, costs)
    assert summary.routed == pytest.approx(0.75)
    assert summary.oracle == pytest.approx(0.75)
    assert (summary.best_model, summary.best_single) == (0, pytest.approx(0.5))
    # shares 1/2, 1/2; model means 1/2 and 1/3
    assert summary.random_same_shares == pytest.approx(0.5 * 0.5 + 0.5 / 3)
    assert summary.cost_per_1k == pytest.approx(2.0)


@pytest.mark.parametrize("name", ["embedllm_mmlu_pro", "embedllm_zeroeval", "embedllm_llmrouter"])
def test_shipped_artifact_scores_every_model(plugins: Plugins, name: str) -> None:
    folder = Path(str(files("routerkit_models"))) / "routers" / name
    manifest = read_manifest(folder, RouterManifest)
    assert isinstance(manifest, RouterManifest) and manifest.kind == "embedllm"
    assert manifest.default_policy.kind == "cost_aware"
    assert sum(f.stat().st_size for f in folder.iterdir()) <= 8 * 2**20
    router = routerkit.load(name)
    scores = router.scores(["What is 17 * 23?", "Name the capital of Peru."])
    assert scores.shape == (2, len(manifest.models))
    assert np.all((scores > 0) & (scores < 1))


@pytest.mark.parametrize("name", ["embedllm_mmlu_pro", "embedllm_zeroeval", "embedllm_llmrouter"])
def test_shipped_router_routes_with_its_default_policy(plugins: Plugins, name: str) -> None:
    router = routerkit.load(name)
    decision = router.route("Solve for x: 3x + 5 = 20.")
    assert decision.policy == "cost_aware"
    assert decision.model in {m.name for m in router.manifest.models}  # type: ignore[attr-defined]
    manifest: RouterManifest = router.manifest  # type: ignore[attr-defined]
    (dataset,) = manifest.training.datasets
    # the val-tuned weight is the default only where every model has a price; else argmax (weight 0)
    unpriced = any(m.input_usd_per_mtok is None for m in manifest.models)
    expected = 0.0 if unpriced else manifest.metrics[dataset]["priced_cost_weight"]
    assert manifest.default_policy.value == expected


def test_add_model_appends_a_probe_fitted_model_to_a_shipped_head(plugins: Plugins, tmp_path: Path) -> None:
    """A "new" model that answers like an existing one, fitted from 200 probes, scores like that model."""
    source = Path(str(files("routerkit_models"))) / "routers" / "embedllm_llmrouter"
    original = routerkit.load("embedllm_llmrouter")
    rng = np.random.default_rng(3)
    probes = rng.normal(size=(400, 384)).astype(np.float32)
    probes /= np.linalg.norm(probes, axis=1, keepdims=True)  # MiniLM embeddings are unit vectors
    twin = original.scores_of_embeddings(probes)[:, 2]  # type: ignore[attr-defined]
    labels = (rng.random(400) < twin).astype(float)
    entry = ModelEntry(name="twin-of-model-2", input_usd_per_mtok=0.1, output_usd_per_mtok=0.1)
    manifest = add_model(source, tmp_path / "extended", entry, probes[:200], labels[:200])
    assert [m.name for m in manifest.models][-1] == "twin-of-model-2"
    assert manifest.metrics["probes/twin-of-model-2"]["k"] == 200
    router = HeadRouter(tmp_path / "extended", manifest, original.encoder)  # type: ignore[attr-defined]
    scores = router.scores_of_embeddings(probes[200:])
    np.testing.assert_allclose(scores[:, :-1], original.scores_of_embeddings(probes[200:]), atol=1e-6)  # type: ignore[attr-defined]
    correlation = np.corrcoef(scores[:, -1], twin[200:])[0, 1]
    print(f"correlation of the probe-fitted column with its twin on unseen prompts: {correlation:.3f}")
    assert correlation > 0.8
    assert router.route("Translate 'cat' to French.").model in {m.name for m in manifest.models}
    with pytest.raises(ConfigError, match="already scores 'twin-of-model-2'"):
        add_model(tmp_path / "extended", tmp_path / "again", entry, probes[:5], labels[:5])
    with pytest.raises(ConfigError, match="write the extended copy elsewhere"):
        add_model(source, source, entry.model_copy(update={"name": "x"}), probes[:5], labels[:5])
