"""Build a `classifier` router artifact: recipe → labels → fine-tune → fused ONNX → int8 → checks → manifest.

Run as `python -m routerkit.train.build_classifier --recipe onnx_models/recipes/classifier.json --out DIR`
(`make models` does this for the shipped router). `--checkpoint FILE` keeps the fine-tuned torch
weights: a file written from the same recipe is loaded instead of training again (one from another
recipe is replaced), so export and evaluation can be rerun without the CPU-heavy fine-tuning.

Steps: soft 3-way targets from the train/val splits (`routerkit.train.classifier`), fine-tuning with
the best validation checkpoint kept, export of transformer + pooling + head + softmax as one graph,
static QDQ int8 (`classifier_export`), parity of the shipped graph to torch (max |Δ P(strong better)|)
and batch invariance checked, the default threshold set on validation prompts, and RouteLLM metrics on
the recipe's evaluation datasets (test only) written into the manifest.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import time
from collections.abc import Sequence
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np

import routerkit
from routerkit.artifacts import EncoderRef, FileEntry, PolicySpec, RouterManifest, TrainingData
from routerkit.calibration import threshold_for_share
from routerkit.data import OutcomeTable, training_tables
from routerkit.errors import ArtifactError
from routerkit.routers.classifier import SPEC_FILE, ClassifierRouter, ClassifierSpec, make_tokenizer
from routerkit.routers.registry import load_encoder
from routerkit.runtime.encoder import Encoder
from routerkit.train._torch import require
from routerkit.train.classifier import (
    LABELS,
    ClassifierModel,
    ClassifierRecipe,
    Examples,
    fit_classifier,
    load_base_model,
    pair_targets,
    read_classifier_recipe,
    tier_columns,
)
from routerkit.train.classifier_export import MODES, quantise, torch_probs
from routerkit.train.manifest import model_entries, pair_test_metrics

__all__ = ["GRAPH_FILE", "build_classifier", "examples", "main", "measure_graph"]

GRAPH_FILE = "classifier.onnx"
PARITY_PROMPTS = 64
PARITY_TOLERANCE = 0.05
"""Largest |Δ P(strong better)| between the shipped int8 graph and torch fp32 that the build accepts."""
BATCH_TOLERANCE = 1e-4
N_CALIBRATION = 200


def examples(recipe: ClassifierRecipe) -> tuple[Examples, Examples]:
    """Train and val examples; tiers come from each dataset's train split."""
    hp = recipe.hyperparameters
    train, val = Examples(), Examples()
    for tr, va in zip(training_tables(recipe.datasets), training_tables(recipe.datasets, split="val"), strict=True):
        strong, weak = tier_columns(tr, hp.strong_share, hp.weak_share)
        for table, out in ((tr, train), (va, val)):
            targets = pair_targets(table, strong, weak)
            keep = np.flatnonzero(targets.sum(axis=1) > 0)
            out.add(table.name, [table.prompts[i].text for i in keep], targets[keep])
    return train.sample(hp.max_train_examples, hp.seed), val.sample(hp.max_val_examples, hp.seed + 1)


def _recipe_key(recipe: ClassifierRecipe) -> str:
    return hashlib.sha256(recipe.model_dump_json().encode()).hexdigest()[:16]


def train_or_load(
    recipe: ClassifierRecipe, encoder: Encoder, train: Examples, val: Examples, checkpoint: Path | None, log: Any
) -> tuple[ClassifierModel, dict[str, float | int | str]]:
    """Fine-tune (or load `checkpoint` written by an earlier run of the same recipe)."""
    torch = require("torch")
    hp = recipe.hyperparameters
    torch.set_num_threads(hp.threads)
    torch.manual_seed(hp.seed)  # the head's initial weights
    model = ClassifierModel(load_base_model(hp.dropout), hp.dropout)
    saved = torch.load(checkpoint, weights_only=False) if checkpoint is not None and checkpoint.is_file() else None
    if saved is not None and saved["recipe_key"] == _recipe_key(recipe):
        model.load_state_dict(saved["state"])
        model.eval()
        log(f"loaded fine-tuned weights from {checkpoint}")
        return model, dict(saved["info"])
    if saved is not None:
        log(f"checkpoint {checkpoint} was trained from another recipe: training again (it will be replaced)")
    tokenizer = make_tokenizer(encoder, hp.max_length)
    ids = {name: [e.ids for e in tokenizer.encode_batch(ex.texts)] for name, ex in (("train", train), ("val", val))}
    log(f"examples: train {train.counts}, val {val.counts}; max_length {hp.max_length}")
    result = fit_classifier(model, (ids["train"], *train.arrays()), (ids["val"], *val.arrays()), hp, log=log)
    info: dict[str, float | int | str] = {
        "best_step": result.best_step,
        "steps": len(result.train_curve),
        "train_examples_per_s": round(result.examples_per_s, 2),
        "val_loss_start": round(result.val_curve[0][1], 5),
        "val_loss_best": round(min(v for _, v in result.val_curve), 5),
        "val_curve": ", ".join(f"{s}:{v:.4f}" for s, v in result.val_curve),
    }
    log(f"training: {info}")
    if checkpoint is not None:
        checkpoint.parent.mkdir(parents=True, exist_ok=True)
        torch.save({"recipe_key": _recipe_key(recipe), "state": model.state_dict(), "info": info}, checkpoint)
    return result.model, info


def measure_graph(router: ClassifierRouter, model: ClassifierModel, texts: list[str], log: Any) -> dict[str, float]:
    """Parity to torch fp32 (max |Δ P(strong better)|) and batch invariance (alone vs in a padded batch)."""
    expected = torch_probs(model, router.tokenizer(), texts)[:, 0]
    batched = router.probabilities(texts)[:, 0]
    alone = np.array([router.probabilities([t])[0, 0] for t in texts])
    parity, batch = float(np.abs(batched - expected).max()), float(np.abs(batched - alone).max())
    log(f"graph vs torch fp32: max |Δ P| = {parity:.2e}; alone vs padded batch: max |Δ P| = {batch:.2e}")
    return {"parity_max_abs_diff": float(f"{parity:.3g}"), "batch_max_abs_diff": float(f"{batch:.3g}")}


def _passes(measured: dict[str, float]) -> bool:
    return measured["parity_max_abs_diff"] <= PARITY_TOLERANCE and measured["batch_max_abs_diff"] <= BATCH_TOLERANCE


def build_classifier(
    recipe_path: Path, out: Path, *, checkpoint: Path | None = None, log: Any = print
) -> RouterManifest:
    """Build, check, evaluate and describe a `classifier` router; returns the manifest written to `out`."""
    started = time.perf_counter()
    recipe = read_classifier_recipe(recipe_path)
    hp = recipe.hyperparameters
    encoder = load_encoder(recipe.encoder, threads=1)
    train, val = examples(recipe)
    model, info = train_or_load(recipe, encoder, train, val, checkpoint, log)
    out.mkdir(parents=True, exist_ok=True)
    spec = ClassifierSpec(max_length=hp.max_length, labels=LABELS)
    (out / SPEC_FILE).write_text(spec.model_dump_json(indent=2) + "\n", encoding="utf-8")
    tokenizer = make_tokenizer(encoder, hp.max_length)
    calibration = train.sample(N_CALIBRATION, hp.seed + 2).texts
    manifest, router, tried = None, None, {}
    for mode in MODES:  # static int8 first (DESIGN §8); weight-only int8 if static misses the checks
        quant = quantise(model, tokenizer, calibration, out / GRAPH_FILE, mode, log=log)
        manifest = _manifest(recipe, recipe_path, encoder, out, train, val, info | quant)
        router = ClassifierRouter(out, manifest, encoder, threads=1)
        tried[mode] = measure_graph(router, model, val.texts[:PARITY_PROMPTS], log)
        if _passes(tried[mode]):
            break
    if manifest is None or router is None or not _passes(tried[mode]):
        raise ArtifactError(f"No int8 graph passes the parity and batch checks: {tried}. Nothing shipped.")
    checks = {f"{m}_{k}": v for m, measured in tried.items() for k, v in measured.items()} | {"graph_mode": mode}
    threshold = threshold_for_share(router.scores(val.texts)[:, 0], recipe.default_strong_share)
    hyper = dict(manifest.training.hyperparameters) | checks
    manifest = manifest.model_copy(
        update={
            "default_policy": PolicySpec(kind="threshold", value=threshold),
            "training": manifest.training.model_copy(update={"hyperparameters": hyper}),
        }
    )
    router = ClassifierRouter(out, manifest, encoder, threads=1)
    manifest = manifest.model_copy(update={"metrics": pair_test_metrics(router, recipe.evaluation, log)})
    (out / "manifest.json").write_text(manifest.model_dump_json(indent=2) + "\n", encoding="utf-8")
    log(f"wrote {out} in {time.perf_counter() - started:.0f} s")
    return manifest


def _manifest(
    recipe: ClassifierRecipe,
    recipe_path: Path,
    encoder: Encoder,
    out: Path,
    train: Examples,
    val: Examples,
    info: dict[str, float | int | str],
) -> RouterManifest:
    files = {name: FileEntry.of(out / name) for name in (GRAPH_FILE, SPEC_FILE)}
    datasets = {name: {"train_prompts": n, "val_prompts": val.counts.get(name, 0)} for name, n in train.counts.items()}
    hyper: dict[str, float | int | str] = {
        **{k: v for k, v in recipe.hyperparameters.model_dump().items()},
        **info,
        "labels": ", ".join(LABELS),
        "score": "P(strong_better) (RouteLLM BERTRouter: p0)",
        "torch": version("torch"),
        "onnxruntime": version("onnxruntime"),
        "python": platform.python_version(),
    }
    tables: list[OutcomeTable] = training_tables(recipe.datasets)
    roles = recipe.roles
    return RouterManifest(
        name=recipe.name,
        kind="classifier",
        version=recipe.version,
        status="experimental",
        description=recipe.description,
        encoder=EncoderRef(name=encoder.manifest.name, sha256=encoder.sha256),
        files=files,
        head_file=GRAPH_FILE,
        head_input="input_ids",
        head_output="probs",
        models=model_entries([roles.strong, roles.weak], tables),
        roles=roles,
        default_policy=PolicySpec(kind="threshold", value=0.5),
        training=TrainingData(datasets=datasets, recipe=recipe_path.as_posix(), hyperparameters=hyper),
        metrics={},
        licence=recipe.licence,
        routerkit_version=routerkit.__version__,
        min_core_version="0.1.0",
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="python -m routerkit.train.build_classifier", description=__doc__)
    parser.add_argument("--recipe", type=Path, required=True, help="recipe JSON (onnx_models/recipes/classifier.json)")
    parser.add_argument("--out", type=Path, required=True, help="artifact folder to write")
    parser.add_argument("--checkpoint", type=Path, default=None, help="fine-tuned weights to reuse or write")
    parser.add_argument("--train-only", action="store_true", help="stop after writing --checkpoint")
    args = parser.parse_args(argv)
    if args.train_only:
        recipe = read_classifier_recipe(args.recipe)
        train, val = examples(recipe)
        train_or_load(recipe, load_encoder(recipe.encoder, threads=1), train, val, args.checkpoint, print)
        print(json.dumps({"checkpoint": str(args.checkpoint)}))
        return
    build_classifier(args.recipe, args.out, checkpoint=args.checkpoint)


if __name__ == "__main__":
    main()
