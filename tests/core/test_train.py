"""The MF trainer and its ONNX export (extra `train`), on small synthetic battles."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from routerkit.data import Battles
from routerkit.errors import ConfigError
from routerkit.train.export import export_head, parity
from routerkit.train.mf import fit_mf
from routerkit.train.recipe import MFHyperparameters, read_recipe


def synthetic_battles(rng: np.random.Generator, n_prompts: int, n_battles: int) -> tuple[Battles, np.ndarray]:
    """Three models; model 0 wins when the prompt's first coordinate is positive, else model 2."""
    emb = rng.normal(size=(n_prompts, 16)).astype(np.float32)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    prompt = rng.integers(0, n_prompts, n_battles)
    winner = np.where(emb[prompt, 0] > 0, 0, 2)
    loser = np.full(n_battles, 1)
    data = Battles(
        texts=tuple(f"p{i}" for i in range(n_prompts)),
        models=("a", "b", "c"),
        prompt=prompt.astype(np.int64),
        winner=winner.astype(np.int64),
        loser=loser.astype(np.int64),
        weight=np.ones(n_battles, dtype=np.float32),
        counts={"synthetic": {"battles": n_battles}},
    )
    return data, emb


def test_fit_learns_export_matches_torch(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    train, train_emb = synthetic_battles(rng, 200, 4000)
    val, val_emb = synthetic_battles(rng, 50, 1000)
    hp = MFHyperparameters(dim=8, lr=0.05, batch_size=256, max_epochs=15, patience=3)
    epochs: list[int] = []
    result = fit_mf(train, train_emb, val, val_emb, hp, on_epoch=lambda e, tr, va: epochs.append(e))
    assert result.val_loss[result.best_epoch - 1] == min(result.val_loss)
    assert min(result.val_loss) < 0.5 * result.val_loss[0] or min(result.val_loss) < 0.3
    head = tmp_path / "head.onnx"
    export_head(result.model, head)
    assert parity(result.model, head, val_emb) <= 1e-4
    import torch

    with torch.no_grad():
        strengths = result.model(torch.from_numpy(val_emb)).numpy()
    a_over_c = strengths[:, 0] > strengths[:, 2]
    assert np.mean(a_over_c == (val_emb[:, 0] > 0)) > 0.9  # it learned who wins where


def test_train_and_val_must_share_models() -> None:
    rng = np.random.default_rng(1)
    train, emb = synthetic_battles(rng, 10, 50)
    other = Battles(train.texts, ("x",), train.prompt, train.winner, train.loser, train.weight, {})
    with pytest.raises(ValueError, match="same model list"):
        fit_mf(train, emb, other, emb, MFHyperparameters(max_epochs=1))


def test_shipped_recipe_is_valid() -> None:
    recipe = read_recipe(Path("onnx_models/recipes/mf.json"))
    assert recipe.roles.strong == "gpt-4-1106-preview" and "arena-bench-v1" in recipe.datasets


def test_bad_recipe_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    path.write_text('{"name": "Bad-Name"}', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"r.json' is invalid"):
        read_recipe(path)


def test_missing_train_extra_names_the_install_command() -> None:
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "try:\n    import routerkit.train.mf\n"
        "except ImportError as exc:\n    print(type(exc).__name__, exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.startswith("MissingDependencyError")
    assert 'pip install "routerkit-core[train]"' in out
