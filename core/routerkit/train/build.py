"""Build an `mf` router artifact from a recipe: data → battles → torch → ONNX head → manifest.

Run as `python -m routerkit.train.build --recipe onnx_models/recipes/mf.json --out DIR [--golden FILE]`
(`make models` does this for the shipped router). After training, the router is evaluated on the
recipe's evaluation datasets (test metrics go into the manifest) and, with `--golden`, its batch-size-1
scores on a few fixed prompts are written for the artifact tests.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

import routerkit
from routerkit.artifacts import (
    EncoderRef,
    FileEntry,
    PolicySpec,
    RouterManifest,
    TrainingData,
)
from routerkit.calibration import threshold_for_share
from routerkit.data import OutcomeTable, battles, training_tables
from routerkit.routers.mf import MFRouter
from routerkit.routers.registry import load_encoder
from routerkit.runtime.encoder import Encoder
from routerkit.train._torch import require
from routerkit.train.embeddings import embed_cached
from routerkit.train.export import HEAD_INPUT, HEAD_OUTPUT, export_head, parity
from routerkit.train.manifest import model_entries, pair_test_metrics
from routerkit.train.mf import MFModel, fit_mf
from routerkit.train.recipe import MFRecipe, read_recipe

torch: Any = require("torch")

__all__ = ["build_mf", "main"]

HEAD_FILE = "head.onnx"
GOLDEN_PROMPTS = (
    "hi",
    "What is the capital of France?",
    "Write a Python function that returns the n-th Fibonacci number using memoisation.",
    "Janet has 3 apples and buys 2 bags of 6 apples each. She gives away a third. How many are left?",
    "Prove that there are infinitely many primes. " * 40,
)


def build_mf(recipe_path: Path, out: Path, *, golden: Path | None = None, log: Any = print) -> RouterManifest:
    """Train, export, evaluate and describe an `mf` router; returns the manifest written to `out`."""
    started = time.perf_counter()
    recipe = read_recipe(recipe_path)
    encoder = load_encoder(recipe.encoder)
    train_tables = training_tables(recipe.datasets, split="train")
    val_tables = training_tables(recipe.datasets, split="val")
    train_b, val_b = battles(train_tables), battles(val_tables)
    log(f"battles: train {len(train_b):,} ({train_b.counts}), val {len(val_b):,}")
    train_emb = embed_cached(encoder, train_b.texts)
    val_emb = embed_cached(encoder, val_b.texts)
    result = fit_mf(
        train_b,
        train_emb,
        val_b,
        val_emb,
        recipe.hyperparameters,
        on_epoch=lambda e, tr, va: log(f"epoch {e:3d}  train loss {tr:.4f}  val loss {va:.4f}"),
    )
    log(f"best epoch {result.best_epoch} (val loss {min(result.val_loss):.4f})")
    out.mkdir(parents=True, exist_ok=True)
    export_head(result.model, out / HEAD_FILE)
    diff = parity(result.model, out / HEAD_FILE, val_emb)
    log(f"torch vs onnxruntime max |Δ strength| = {diff:.2e}")
    threshold = _default_threshold(result.model, train_b.models, recipe, val_emb)
    manifest = _manifest(
        recipe,
        recipe_path,
        encoder,
        out,
        train_b.models,
        train_tables,
        threshold,
        {"train": train_b.counts, "val": val_b.counts},
        result.best_epoch,
    )
    router = MFRouter(out, manifest, encoder)
    manifest = manifest.model_copy(update={"metrics": pair_test_metrics(router, recipe.evaluation, log)})
    (out / "manifest.json").write_text(manifest.model_dump_json(indent=2) + "\n", encoding="utf-8")
    if golden is not None:
        _write_golden(router, golden)
    log(f"wrote {out} in {time.perf_counter() - started:.0f} s")
    return manifest


def _write_golden(router: MFRouter, path: Path) -> None:
    """Scores of `GOLDEN_PROMPTS`, each taken alone, pinned to this head for the artifact tests."""
    scores = [float(router.scores([prompt])[0, 0]) for prompt in GOLDEN_PROMPTS]
    head = router.manifest.files[router.manifest.head_file].sha256
    record = {"prompts": list(GOLDEN_PROMPTS), "scores": scores, "head_sha256": head}
    path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")


def _default_threshold(model: MFModel, models: Sequence[str], recipe: MFRecipe, val_emb: np.ndarray) -> float:
    """Threshold that sends `default_strong_share` of the validation prompts to the strong model."""
    with torch.no_grad():
        strengths = model(torch.from_numpy(val_emb)).numpy().astype(np.float64)
    gap = strengths[:, models.index(recipe.roles.strong)] - strengths[:, models.index(recipe.roles.weak)]
    return threshold_for_share(1.0 / (1.0 + np.exp(-gap)), recipe.default_strong_share)


def _manifest(
    recipe: MFRecipe,
    recipe_path: Path,
    encoder: Encoder,
    out: Path,
    models: Sequence[str],
    tables: Sequence[OutcomeTable],
    threshold: float,
    counts: dict[str, dict[str, dict[str, int]]],
    best_epoch: int,
) -> RouterManifest:
    head = out / HEAD_FILE
    datasets = {
        name: {f"{split}_{what}": n for split, per in counts.items() for what, n in per[name].items()}
        for name in counts["train"]
    }
    hyper = {
        **recipe.hyperparameters.model_dump(),
        "best_epoch": best_epoch,
        "torch": torch.__version__,
        "python": platform.python_version(),
    }
    return RouterManifest(
        name=recipe.name,
        kind="mf",
        version=recipe.version,
        status="experimental",
        description=recipe.description,
        encoder=EncoderRef(name=encoder.manifest.name, sha256=encoder.sha256),
        files={HEAD_FILE: FileEntry.of(head)},
        head_file=HEAD_FILE,
        head_input=HEAD_INPUT,
        head_output=HEAD_OUTPUT,
        models=model_entries(models, tables),
        roles=recipe.roles,
        default_policy=PolicySpec(kind="threshold", value=threshold),
        training=TrainingData(datasets=datasets, recipe=recipe_path.as_posix(), hyperparameters=hyper),
        metrics={},
        licence=recipe.licence,
        routerkit_version=routerkit.__version__,
        min_core_version="0.1.0",
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="python -m routerkit.train.build", description=__doc__)
    parser.add_argument("--recipe", type=Path, required=True, help="recipe JSON (onnx_models/recipes/mf.json)")
    parser.add_argument("--out", type=Path, required=True, help="artifact folder to write")
    parser.add_argument("--golden", type=Path, help="also write batch-size-1 scores of fixed prompts here")
    args = parser.parse_args(argv)
    build_mf(args.recipe, args.out, golden=args.golden)


if __name__ == "__main__":
    main()
