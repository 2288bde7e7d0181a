"""`classifier` kind: labels, a training step, the fused int8 graph (parity, batch invariance), errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

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
from routerkit.data import OutcomeTable
from routerkit.data.format import Prompt
from routerkit.errors import ArtifactError, ConfigError
from routerkit.plugins import Plugins
from routerkit.routers.classifier import SPEC_FILE, ClassifierRouter, ClassifierSpec, make_tokenizer
from routerkit.routers.registry import load_encoder

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from routerkit.train.classifier import (  # noqa: E402  (after the importorskip of the train extra)
    ClassifierHyperparameters,
    ClassifierModel,
    fit_classifier,
    pair_targets,
    read_classifier_recipe,
    tier_columns,
)
from routerkit.train.classifier_export import quantise, torch_probs  # noqa: E402

PROMPTS = [
    "What is the capital of France?",
    "Prove that there are infinitely many primes, step by step.",
    "hi",
    "Translate 'good morning' into German and explain the grammar. " * 12,  # truncated at max_length
    "Compute 17 * 23.",
    "Write a haiku about autumn leaves.",
]


def _table(scores: list[list[float]]) -> OutcomeTable:
    values = np.array(scores, dtype=np.float64)
    prompts = tuple(Prompt(id=str(i), text=f"q{i}", task="t", hash=str(i), split="train") for i in range(len(values)))
    models = tuple(f"m{j}" for j in range(values.shape[1]))
    return OutcomeTable("toy", prompts, models, values, np.full_like(values, np.nan), np.full_like(values, np.nan))


def _tiny_model(seed: int = 0) -> ClassifierModel:
    """A 2-layer, 32-wide BERT on the real 30,522-token vocabulary (fast, same graph structure)."""
    torch.manual_seed(seed)
    config = transformers.BertConfig(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, max_position_embeddings=64
    )
    config._attn_implementation = "eager"
    model = ClassifierModel(transformers.BertModel(config, add_pooling_layer=False), dropout=0.0)
    with torch.no_grad():
        model.head.weight.normal_(0.0, 2.0)  # spread the probabilities so parity is a real check
    return model.eval()


def test_tiers_rank_models_by_mean_score() -> None:
    table = _table([[1, 0, 0.5, 0], [1, 1, 0.5, 0], [0, 1, 0.5, 0], [1, 0, 0.5, 1]])
    # means: m0 0.75, m1 0.5, m2 0.5, m3 0.25 → strong {m0}, weak the next half {m1, m2}
    assert tier_columns(table, 0.25, 0.5) == ([0], [1, 2])
    with pytest.raises(ConfigError, match="toy"):
        tier_columns(_table([[1.0], [0.0]]), 0.25, 0.5)


def test_targets_are_shares_of_strong_better_tie_weak_better() -> None:
    table = _table([[1, 0, 1], [0, 1, 0], [1, np.nan, np.nan], [0.5, 0.5, 0]])
    targets = pair_targets(table, strong=[0], weak=[1, 2])
    np.testing.assert_allclose(targets[0], [0.5, 0.5, 0.0])
    np.testing.assert_allclose(targets[1], [0.0, 0.5, 0.5])
    np.testing.assert_allclose(targets[2], [0.0, 0.0, 0.0])  # no pair scored on both sides: dropped later
    np.testing.assert_allclose(targets[3], [0.5, 0.5, 0.0])


def test_a_training_run_lowers_the_validation_loss() -> None:
    torch.set_num_threads(1)
    model = _tiny_model()
    tokenizer = make_tokenizer(load_encoder("minilm_l6"), 16)
    ids = [e.ids for e in tokenizer.encode_batch(PROMPTS)]
    targets = np.eye(3, dtype=np.float32)[[0, 1, 2, 0, 1, 2]]
    weights = np.ones(len(PROMPTS), dtype=np.float32)
    hp = ClassifierHyperparameters(lr=3e-3, head_lr=3e-2, batch_size=3, epochs=8, evals_per_epoch=1, dropout=0.0)
    result = fit_classifier(model, (ids, targets, weights), (ids, targets, weights), hp, log=lambda _: None)
    start, best = result.val_curve[0][1], min(v for _, v in result.val_curve)
    assert best < 0.8 * start
    assert result.best_step > 0 and len(result.train_curve) == 8 * 2


def _artifact(directory: Path, model: ClassifierModel, mode: str, max_length: int = 24) -> ClassifierRouter:
    encoder = load_encoder("minilm_l6")
    tokenizer = make_tokenizer(encoder, max_length)
    quantise(model, tokenizer, PROMPTS, directory / "classifier.onnx", mode, log=lambda _: None)
    (directory / SPEC_FILE).write_text(ClassifierSpec(max_length=max_length).model_dump_json(), encoding="utf-8")
    manifest = RouterManifest(
        name="toy_classifier",
        kind="classifier",
        version="0.0.1",
        status="experimental",
        description="a tiny classifier",
        encoder=EncoderRef(name="minilm_l6", sha256=encoder.sha256),
        files={n: FileEntry(sha256=sha256_of(directory / n), bytes=1) for n in ("classifier.onnx", SPEC_FILE)},
        head_file="classifier.onnx",
        head_input="input_ids",
        head_output="probs",
        models=(ModelEntry(name="big"), ModelEntry(name="small")),
        roles=Roles(strong="big", weak="small"),
        default_policy=PolicySpec(kind="threshold", value=0.5),
        training=TrainingData(datasets={}, recipe="none", hyperparameters={}),
        metrics={},
        licence="test",
        routerkit_version="0",
        min_core_version="0.1.0",
    )
    (directory / "manifest.json").write_text(manifest.model_dump_json(), encoding="utf-8")
    return ClassifierRouter(directory, manifest, encoder, threads=1)


@pytest.mark.parametrize(("mode", "tolerance"), [("weight_only", 0.02), ("static", 0.15)])
def test_the_fused_graph_matches_torch_and_ignores_the_batch(tmp_path: Path, mode: str, tolerance: float) -> None:
    model = _tiny_model()
    router = _artifact(tmp_path, model, mode)
    expected = torch_probs(model, router.tokenizer(), PROMPTS)
    batched = router.probabilities(PROMPTS)
    diff = float(np.abs(batched - expected).max())
    print(f"{mode}: max |Δ P| graph vs torch = {diff:.2e}")
    assert diff < tolerance
    alone = np.vstack([router.probabilities([p]) for p in PROMPTS])
    np.testing.assert_allclose(alone, batched, atol=1e-5)  # alone vs inside a padded batch
    np.testing.assert_allclose(batched.sum(axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(router.scores(PROMPTS)[:, 0], batched[:, 0])  # score = P(strong better)
    assert router.route(PROMPTS[0]).model in {"big", "small"}


def test_artifact_errors_name_the_problem(tmp_path: Path, plugins: Plugins) -> None:
    router = _artifact(tmp_path, _tiny_model(), "weight_only")
    manifest, encoder = router.manifest, router.encoder
    other = manifest.model_copy(update={"encoder": EncoderRef(name="minilm_l6", sha256="0" * 64)})
    with pytest.raises(ArtifactError, match="encoder"):
        ClassifierRouter(tmp_path, other, encoder)
    with (tmp_path / "classifier.onnx").open("ab") as handle:
        handle.write(b"\0")
    with pytest.raises(ArtifactError, match=r"classifier\.onnx"):
        ClassifierRouter(tmp_path, manifest, encoder)


def test_a_bad_spec_or_mode_or_recipe_is_refused(tmp_path: Path) -> None:
    router = _artifact(tmp_path, _tiny_model(), "weight_only")
    (tmp_path / SPEC_FILE).write_text('{"max_length": 0}', encoding="utf-8")
    files = dict(router.manifest.files) | {SPEC_FILE: FileEntry(sha256=sha256_of(tmp_path / SPEC_FILE), bytes=1)}
    with pytest.raises(ArtifactError, match=r"classifier\.json"):
        ClassifierRouter(tmp_path, router.manifest.model_copy(update={"files": files}), router.encoder)
    with pytest.raises(ValueError, match="dynamic"):
        quantise(_tiny_model(), router.tokenizer(), PROMPTS, tmp_path / "x.onnx", "dynamic")
    recipe = tmp_path / "recipe.json"
    recipe.write_text(json.dumps({"name": "bad-name"}), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"recipe\.json"):
        read_classifier_recipe(recipe)
    with pytest.raises(ConfigError, match="does not exist"):
        read_classifier_recipe(tmp_path / "missing.json")


def test_the_shipped_classifier_routes_and_records_its_metrics(plugins: Plugins) -> None:
    router: Any = routerkit.load("classifier")
    assert isinstance(router, ClassifierRouter)
    assert (router.strong, router.weak) == ("gpt-4-1106-preview", "mixtral-8x7b-instruct-v0.1")
    batched = router.scores(PROMPTS)[:, 0]
    alone = np.array([router.scores([p])[0, 0] for p in PROMPTS])
    np.testing.assert_allclose(alone, batched, atol=1e-5)
    assert ((batched > 0) & (batched < 1)).all()
    assert {"routellm/mmlu", "routellm/gsm8k"} <= set(router.manifest.metrics)
    hyper = router.manifest.training.hyperparameters
    assert float(hyper[f"{hyper['graph_mode']}_parity_max_abs_diff"]) <= 0.05
    assert sum(f.bytes for f in router.manifest.files.values()) <= 25_000_000


def test_any_pair_of_its_models_can_be_routed_with_the_same_score(plugins: object) -> None:
    default = routerkit.load("classifier")
    names = [m.name for m in default.manifest.models]  # type: ignore[attr-defined]
    other = routerkit.load("classifier", strong=names[0], weak=names[-1])
    assert (other.strong, other.weak) == (names[0], names[-1])
    prompts = ["What is 2 + 2?", "Prove that the square root of 2 is irrational."]
    assert np.allclose(other.scores(prompts), default.scores(prompts))
    with pytest.raises(routerkit.errors.UnknownNameError, match="gpt-9"):
        routerkit.load("classifier", strong="gpt-9")
