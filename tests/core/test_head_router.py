"""`HeadRouter`: many-model scores from an ONNX head over the packaged encoder, verified and restrictable."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
import routerkit
from onnx import TensorProto, helper, numpy_helper
from routerkit.artifacts import (
    EncoderRef,
    FileEntry,
    ModelEntry,
    PolicySpec,
    RouterManifest,
    TrainingData,
    sha256_of,
)
from routerkit.errors import ArtifactError, ConfigError, UnknownNameError
from routerkit.plugins import Plugins
from routerkit.routers import CostAware
from routerkit.routers.head import HeadRouter
from routerkit.routers.registry import load_encoder

MODELS = ("cheap", "middle", "dear")


def _head(path: Path, weights: np.ndarray) -> None:
    """A linear head: scores = embeddings @ weights."""
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["sentence_embedding", "w"], ["quality"])],
        "head",
        [helper.make_tensor_value_info("sentence_embedding", TensorProto.FLOAT, ["n", weights.shape[0]])],
        [helper.make_tensor_value_info("quality", TensorProto.FLOAT, ["n", weights.shape[1]])],
        [numpy_helper.from_array(weights.astype(np.float32), "w")],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)


@pytest.fixture
def artifact(tmp_path: Path, plugins: Plugins) -> Path:
    encoder = load_encoder("minilm_l6", plugins=plugins)
    weights = np.random.default_rng(0).normal(size=(encoder.embed(["x"]).shape[1], len(MODELS)))
    _head(tmp_path / "head.onnx", weights)
    np.save(tmp_path / "weights.npy", weights)
    manifest = RouterManifest(
        name="toy",
        kind="knn",
        version="0.0.1",
        status="experimental",
        description="a linear toy head",
        encoder=EncoderRef(name="minilm_l6", sha256=encoder.sha256),
        files={"head.onnx": FileEntry(sha256=sha256_of(tmp_path / "head.onnx"), bytes=1)},
        head_file="head.onnx",
        head_input="sentence_embedding",
        head_output="quality",
        models=tuple(
            ModelEntry(name=m, input_usd_per_mtok=p, output_usd_per_mtok=p)
            for m, p in zip(MODELS, (0.1, 1, 10), strict=True)
        ),
        default_policy=PolicySpec(kind="cost_aware", value=0.0),
        training=TrainingData(datasets={}, recipe="none", hyperparameters={}),
        metrics={},
        licence="test",
        routerkit_version="0",
        min_core_version="0.1.0",
    )
    (tmp_path / "manifest.json").write_text(manifest.model_dump_json(), encoding="utf-8")
    return tmp_path


def _router(artifact: Path, plugins: Plugins, **options: object) -> HeadRouter:
    manifest = RouterManifest.model_validate_json((artifact / "manifest.json").read_text(encoding="utf-8"))
    return HeadRouter(artifact, manifest, load_encoder("minilm_l6", plugins=plugins), **options)  # type: ignore[arg-type]


def test_scores_are_the_head_over_the_embeddings(artifact: Path, plugins: Plugins) -> None:
    router = _router(artifact, plugins)
    prompts = ["What is 2 + 2?", "Write a sonnet about the sea."]
    expected = router.encoder.embed(prompts).astype(np.float64) @ np.load(artifact / "weights.npy")
    np.testing.assert_allclose(router.scores(prompts), expected, rtol=1e-4, atol=1e-5)
    decision = router.route(prompts[0])
    assert decision.model == MODELS[int(np.argmax(expected[0]))]  # cost weight 0: the best predicted
    assert set(decision.scores) == set(MODELS) and decision.role is None


def test_allowed_models_restrict_the_choice(artifact: Path, plugins: Plugins) -> None:
    full = _router(artifact, plugins)
    only = _router(artifact, plugins, models=["dear", "cheap"])
    prompts = ["hello", "Prove Fermat's little theorem."]
    np.testing.assert_allclose(only.scores(prompts), full.scores(prompts)[:, [2, 0]])
    assert all(d.model in {"dear", "cheap"} for d in only.route_batch(prompts))
    assert only.route("hello", CostAware(1000.0)).model == "cheap"  # cost dominates


@pytest.mark.parametrize(
    ("models", "error", "words"),
    [
        ([], ConfigError, "empty"),
        (["dear", "dear"], ConfigError, "repeats"),
        (["gpt-9"], UnknownNameError, "gpt-9"),
        ("dear", ConfigError, "string"),
    ],
)
def test_bad_model_lists_are_refused(artifact: Path, plugins: Plugins, models: object, error: type, words: str) -> None:
    with pytest.raises(error, match=words):
        _router(artifact, plugins, models=models)


def test_a_tampered_head_is_refused(artifact: Path, plugins: Plugins) -> None:
    with (artifact / "head.onnx").open("ab") as handle:
        handle.write(b"\0")
    with pytest.raises(ArtifactError, match=r"head\.onnx"):
        _router(artifact, plugins)


def test_the_kinds_load_through_the_registry(artifact: Path, plugins: Plugins) -> None:
    kinds = plugins.kinds()
    assert {"knn", "embedllm", "zooter"} <= set(kinds)
    manifest = json.loads((artifact / "manifest.json").read_text(encoding="utf-8"))
    router = kinds[manifest["kind"]].factory(
        artifact, RouterManifest.model_validate(manifest), load_encoder("minilm_l6", plugins=plugins)
    )
    assert isinstance(router, HeadRouter) and router.candidates[0].name == "cheap"
    assert routerkit.Router in type(router).__mro__


def test_another_encoder_is_refused(artifact: Path, plugins: Plugins) -> None:
    manifest = RouterManifest.model_validate_json((artifact / "manifest.json").read_text(encoding="utf-8"))
    other = manifest.model_copy(update={"encoder": EncoderRef(name="minilm_l6", sha256="0" * 64)})
    with pytest.raises(ArtifactError, match=r"'toy' \(knn\) was made with encoder 'minilm_l6'.*routerkit train"):
        HeadRouter(artifact, other, load_encoder("minilm_l6", plugins=plugins))
