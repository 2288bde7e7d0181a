"""The shipped `knn_*` and `zooter_*` artifacts: loading, sha256 checks, batch invariance, recorded quality."""

from __future__ import annotations

import json
import shutil
from importlib.resources import files
from pathlib import Path

import numpy as np
import pytest
import routerkit
from routerkit.artifacts import RouterManifest, read_manifest
from routerkit.errors import ArtifactError
from routerkit.plugins import Plugins
from routerkit.routers.head import HeadRouter
from routerkit.routers.registry import load_encoder

ROUTERS = Path(str(files("routerkit_models"))) / "routers"
KINDS = ("knn", "zooter")
NAMES = sorted(
    folder.name
    for folder in ROUTERS.iterdir()
    if (folder / "manifest.json").is_file()
    and json.loads((folder / "manifest.json").read_text(encoding="utf-8"))["kind"] in KINDS
)
PROMPTS = [
    "hi",
    "What is the capital of France?",
    "Write a Python function that returns the n-th Fibonacci number using memoisation.",
    "Janet has 3 apples and buys 2 bags of 6 apples each. She gives away a third. How many are left?",
    "Prove that there are infinitely many primes. " * 40,
]


def _manifest(name: str) -> RouterManifest:
    manifest = read_manifest(ROUTERS / name, RouterManifest)
    assert isinstance(manifest, RouterManifest)
    return manifest


def test_every_kind_and_dataset_is_shipped() -> None:
    for kind in KINDS:
        assert {f"{kind}_{d}" for d in ("mmlu_pro", "zeroeval", "llmrouter")} <= set(NAMES)


@pytest.fixture(scope="module")
def embedded() -> tuple[np.ndarray, np.ndarray]:
    """`PROMPTS` embedded one at a time, and inside a padded batch of 32 (computed once: the encoder is shared)."""
    encoder = load_encoder("minilm_l6")
    filler = [f"filler prompt number {i} " + "word " * (i * 7 % 200) for i in range(32 - len(PROMPTS))]
    alone = np.concatenate([encoder.embed([p]) for p in PROMPTS])
    return alone, encoder.embed([*PROMPTS, *filler])[: len(PROMPTS)]


@pytest.mark.parametrize("name", NAMES)
def test_loads_routes_and_is_batch_invariant(
    name: str, plugins: Plugins, embedded: tuple[np.ndarray, np.ndarray]
) -> None:
    router = routerkit.load(name)
    assert isinstance(router, HeadRouter) and router.manifest.kind == name.split("_")[0]
    alone = np.concatenate([router.scores_of_embeddings(e[None]) for e in embedded[0]])
    batched = router.scores_of_embeddings(embedded[1])
    assert batched.shape == (len(PROMPTS), len(router.manifest.models))
    assert np.max(np.abs(batched - alone)) <= 1e-4
    np.testing.assert_allclose(router.scores(PROMPTS[:1]), alone[:1], atol=1e-4)  # the full path agrees
    decision = router.route(PROMPTS[1])  # the default policy works even where models have no price
    assert decision.model in {m.name for m in router.manifest.models} and decision.policy == "cost_aware"


@pytest.mark.parametrize("name", NAMES)
def test_manifest_records_test_quality_above_the_random_router(name: str) -> None:
    manifest = _manifest(name)
    (dataset,) = manifest.training.datasets
    test = manifest.metrics[f"{dataset}/test"]
    assert test["random_accuracy"] < test["routed_accuracy"] <= test["oracle_accuracy"]
    assert test["best_single_accuracy"] <= test["oracle_accuracy"]
    assert manifest.roles is None and manifest.default_policy.kind == "cost_aware"
    assert sum(f.bytes for f in manifest.files.values()) <= 8 * 1024 * 1024


@pytest.mark.parametrize("name", NAMES)
def test_a_tampered_head_is_refused(name: str, tmp_path: Path) -> None:
    copy = tmp_path / name
    shutil.copytree(ROUTERS / name, copy)
    head = copy / _manifest(name).head_file
    data = bytearray(head.read_bytes())
    data[len(data) // 2] ^= 0xFF
    head.write_bytes(bytes(data))

    class Copy:
        @routerkit.hookimpl
        def register_router_artifacts(self, register):  # type: ignore[no-untyped-def]
            register(f"{name}_copy", copy)

    plugins = Plugins()
    plugins.load_entry_points()
    plugins.register(Copy())
    with pytest.raises(ArtifactError, match=r"head\.onnx' failed its sha256 check: expected [0-9a-f]{64}, got"):
        routerkit.load(f"{name}_copy", plugins=plugins)
