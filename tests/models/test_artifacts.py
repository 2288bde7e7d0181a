"""The shipped artifacts: manifests, tokenizer settings, hashes, batch invariance, golden scores."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from importlib.resources import files
from pathlib import Path

import numpy as np
import pytest
import routerkit
from routerkit.artifacts import EncoderManifest, RouterManifest, read_manifest
from routerkit.errors import ArtifactError, UnknownNameError
from routerkit.plugins import Plugins
from routerkit.runtime import Encoder

MODELS = Path(str(files("routerkit_models")))
ENCODER_DIR = MODELS / "encoders" / "minilm_l6"
MF_DIR = MODELS / "routers" / "mf"
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
DISTRIBUTION = Path(__file__).resolve().parents[2] / "onnx_models"  # the `routerkit-models` source tree

PROMPTS = [
    "hi",
    "What is the capital of France?",
    "Write a Python function that returns the n-th Fibonacci number using memoisation.",
    "Janet has 3 apples and buys 2 bags of 6 apples each. She gives away a third. How many are left?",
    "Prove that there are infinitely many primes. " * 40,  # longer than 256 tokens: truncated
]


def test_encoder_manifest_pins_tokenizer_settings() -> None:
    manifest = read_manifest(ENCODER_DIR, EncoderManifest)
    assert isinstance(manifest, EncoderManifest)
    assert manifest.tokenizer.max_length == 256 and manifest.tokenizer.padding == "longest"
    assert manifest.fidelity["mean_cosine_to_torch"] >= 0.99
    tokenizer = Encoder(ENCODER_DIR).tokenizer()
    short, long = tokenizer.encode_batch(["hi", "a longer prompt with several words"])
    assert len(short.ids) == len(long.ids) < 128  # padded to the longest, not to a fixed 128
    assert len(tokenizer.encode(PROMPTS[-1]).ids) == 256


def test_router_manifest_declares_roles_and_metrics() -> None:
    manifest = read_manifest(MF_DIR, RouterManifest)
    assert isinstance(manifest, RouterManifest)
    assert manifest.status == "experimental"
    assert manifest.roles is not None and manifest.roles.strong == "gpt-4-1106-preview"
    assert manifest.encoder.sha256 == read_manifest(ENCODER_DIR, EncoderManifest).files["model.onnx"].sha256  # type: ignore[union-attr]
    assert {"routellm/mmlu", "routellm/gsm8k"} <= set(manifest.metrics)
    assert set(manifest.training.datasets) == {"mmlu-pro", "zeroeval", "llmrouter", "arena-bench-v1"}


def test_same_prompt_same_score_alone_or_in_a_padded_batch_of_64(plugins: Plugins) -> None:
    router = routerkit.load("mf")
    filler = [f"filler prompt number {i} " + "word " * (i * 3 % 200) for i in range(59)]
    batch = [*PROMPTS, *filler]
    assert len(batch) == 64
    batched = router.scores(batch)[: len(PROMPTS), 0]
    alone = np.array([router.scores([p])[0, 0] for p in PROMPTS])
    assert np.max(np.abs(batched - alone)) <= 1e-4


def test_golden_scores_at_batch_size_1(plugins: Plugins) -> None:
    """Scores taken at batch size 1 when the artifact was built (tests/fixtures/mf_golden.json)."""
    golden = json.loads((FIXTURES / "mf_golden.json").read_text(encoding="utf-8"))
    router = routerkit.load("mf")
    assert golden["head_sha256"] == router.manifest.files["head.onnx"].sha256
    for prompt, expected in zip(golden["prompts"], golden["scores"], strict=True):
        assert router.scores([prompt])[0, 0] == pytest.approx(expected, abs=1e-4)


def test_any_trained_pair_can_be_routed(plugins: Plugins) -> None:
    router = routerkit.load("mf", strong="gpt-4o-2024-05-13", weak="llama-3.1-8b-instruct")
    assert (router.strong, router.weak) == ("gpt-4o-2024-05-13", "llama-3.1-8b-instruct")
    assert router.scores(PROMPTS).shape == (len(PROMPTS), 1)
    with pytest.raises(UnknownNameError, match=r"Unknown model 'gpt-5'.*'gpt-4o-2024-05-13'"):
        routerkit.load("mf", strong="gpt-5")


def _tampered_copy(tmp_path: Path, which: str) -> Plugins:
    """A registry whose `mf` and `minilm_l6` point at copies, with one byte of `which` flipped."""
    encoder, router = tmp_path / "minilm_l6", tmp_path / "mf"
    shutil.copytree(ENCODER_DIR, encoder)
    shutil.copytree(MF_DIR, router)
    target = {"head": router / "head.onnx", "encoder": encoder / "model.onnx"}[which]
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0xFF
    target.write_bytes(bytes(data))

    class Copies:
        @routerkit.hookimpl
        def register_router_artifacts(self, register):  # type: ignore[no-untyped-def]
            register("mf_copy", router)

        @routerkit.hookimpl
        def register_encoders(self, register):  # type: ignore[no-untyped-def]
            register("minilm_l6_copy", encoder)

    manifest = json.loads((router / "manifest.json").read_text())
    manifest["encoder"]["name"] = "minilm_l6_copy"
    (router / "manifest.json").write_text(json.dumps(manifest))
    plugins = Plugins()
    plugins.register(Copies())
    return plugins


@pytest.mark.parametrize("which", ["head", "encoder"])
def test_tampered_artifact_names_the_file(tmp_path: Path, which: str) -> None:
    plugins = _tampered_copy(tmp_path, which)
    name = "head.onnx" if which == "head" else "model.onnx"
    with pytest.raises(ArtifactError, match=rf"{name}' failed its sha256 check: expected [0-9a-f]{{64}}, got"):
        routerkit.load("mf_copy", plugins=plugins)


def test_wheel_contains_every_manifest_and_file(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(DISTRIBUTION),
        ],
        check=True,
    )
    (wheel,) = tmp_path.glob("routerkit_models-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for folder in (ENCODER_DIR, MF_DIR):
        prefix = f"routerkit_models/{folder.parent.name}/{folder.name}/"
        manifest = json.loads((folder / "manifest.json").read_text())
        assert prefix + "manifest.json" in names
        assert {prefix + f for f in manifest["files"]} <= names
    assert any(n.endswith("entry_points.txt") for n in names)
