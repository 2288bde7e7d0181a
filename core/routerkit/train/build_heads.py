"""Build `knn` and `zooter` router artifacts from recipes: train split → choices on val → head → test metrics.

Run as `python -m routerkit.train.build_heads --out-root DIR RECIPE.json [RECIPE.json ...]` (`make
models` builds every shipped `knn_*` / `zooter_*` recipe). Each artifact lands in `DIR/<recipe name>/`
(`manifest.json` + `head.onnx`) and runs through `routerkit.routers.head.HeadRouter`. The manifest's
metrics hold the test-split routed accuracy at the default policy beside the best single model, the
oracle and the random router, all on the same complete sub-matrix (`routerkit.train.head_eval`).
"""

from __future__ import annotations

import argparse
import platform
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
from tqdm import tqdm

import routerkit
from routerkit.artifacts import EncoderRef, FileEntry, PolicySpec, RouterManifest, TrainingData
from routerkit.data import OutcomeTable, load_dataset
from routerkit.routers.head import HeadRouter
from routerkit.routers.registry import load_encoder
from routerkit.train import zooter as z
from routerkit.train.embeddings import table_embeddings
from routerkit.train.export import HEAD_INPUT
from routerkit.train.head_eval import (
    EvalSplit,
    accuracy_of,
    cost_per_1k,
    eval_split,
    expected_costs,
    routed_choice,
    tune_cost_weight,
)
from routerkit.train.head_recipe import KnnRecipe, ZooterRecipe, read_head_recipe
from routerkit.train.knn import KNN_OUTPUT, Weighting, export_knn, knn_head, knn_parity, predict
from routerkit.train.manifest import model_entries

__all__ = ["build_head", "main"]

HEAD_FILE = "head.onnx"
Log = Callable[[str], object]
Hyper = dict[str, float | int | str]


def build_head(recipe_path: Path, out_root: Path, *, log: Log = print) -> RouterManifest:
    """Train, export, tune and measure one `knn` or `zooter` artifact; returns the manifest written."""
    started = time.perf_counter()
    recipe = read_head_recipe(recipe_path)
    encoder = load_encoder(recipe.encoder)
    table = load_dataset(recipe.dataset)
    embeddings = table_embeddings(encoder, table)
    train = np.array([i for i, p in enumerate(table.prompts) if p.split == "train"], dtype=np.int64)
    val, test = eval_split(table, embeddings, "val"), eval_split(table, embeddings, "test")
    out = out_root / recipe.name
    out.mkdir(parents=True, exist_ok=True)
    if isinstance(recipe, KnnRecipe):
        hyper = _build_knn(recipe, table, embeddings, train, val, out / HEAD_FILE, log)
    else:
        hyper = _build_zooter(recipe, table, embeddings, train, val, out / HEAD_FILE, log)
    counts = {"train_prompts": int(train.size), "val_prompts": len(val.texts), "test_prompts": len(test.texts)}
    manifest = _manifest(
        recipe, recipe_path, EncoderRef(name=encoder.manifest.name, sha256=encoder.sha256), out, table, hyper, counts
    )
    router = HeadRouter(out, manifest, encoder, threads=1)
    weight, val_accuracy = tune_cost_weight(
        router, val, router.scores_of_embeddings(val.embeddings), recipe.cost_weights, recipe.cost_tolerance
    )
    log(f"{recipe.name}: default cost weight {weight} (val routed accuracy {val_accuracy:.4f})")
    metrics = {f"{recipe.dataset}/test": _test_metrics(router, test, weight, hyper)}
    metrics[f"{recipe.dataset}/val"] = {"routed_accuracy": round(val_accuracy, 4), **_rounded(val.baselines())}
    manifest = manifest.model_copy(
        update={"default_policy": PolicySpec(kind="cost_aware", value=weight), "metrics": metrics}
    )
    (out / "manifest.json").write_text(manifest.model_dump_json(indent=2) + "\n", encoding="utf-8")
    log(f"{recipe.name}: test {metrics[f'{recipe.dataset}/test']}")
    log(f"wrote {out} in {time.perf_counter() - started:.0f} s")
    return manifest


def _build_knn(
    recipe: KnnRecipe,
    table: OutcomeTable,
    embeddings: npt.NDArray[np.float32],
    train: npt.NDArray[np.int64],
    val: EvalSplit,
    path: Path,
    log: Log,
) -> Hyper:
    """Pick k and the weighting on val (argmax routing), export the chosen head, check parity."""
    best: tuple[float, int, Weighting] = (-1.0, 0, "mean")
    grid = [(w, k) for w in recipe.weightings for k in recipe.ks if k <= min(train.size, recipe.max_stored)]
    for weighting, k in tqdm(grid, desc=f"{recipe.name}: k × weighting on val", leave=False):
        head = knn_head(
            embeddings[train],
            table.scores[train],
            k=k,
            weighting=weighting,
            max_stored=recipe.max_stored,
            seed=recipe.seed,
        )
        accuracy = accuracy_of(val, np.argmax(predict(head, val.embeddings)[:, val.columns], axis=1))
        if accuracy > best[0]:  # ties keep the earlier (smaller k, unweighted) choice
            best = (accuracy, k, weighting)
    accuracy, k, weighting = best
    head = knn_head(
        embeddings[train], table.scores[train], k=k, weighting=weighting, max_stored=recipe.max_stored, seed=recipe.seed
    )
    export_knn(head, path)
    diff = knn_parity(head, path, val.embeddings)
    log(f"{recipe.name}: k={k} {weighting} (val accuracy {accuracy:.4f}); numpy vs onnxruntime max |Δ| = {diff:.2e}")
    return {
        "k": k,
        "weighting": weighting,
        "stored_prompts": int(head.bank.shape[0]),
        "max_stored": recipe.max_stored,
        "parity_max_abs_diff": diff,
        "seed": recipe.seed,
    }


def _build_zooter(
    recipe: ZooterRecipe,
    table: OutcomeTable,
    embeddings: npt.NDArray[np.float32],
    train: npt.NDArray[np.int64],
    val: EvalSplit,
    path: Path,
    log: Log,
) -> Hyper:
    """Train one head per (τ, β), keep the best by val routed accuracy, export it, check parity."""
    z.torch.set_num_threads(1)  # the build machines are small and shared
    tags = [table.prompts[i].task for i in train]
    val_rows = np.array([i for i, p in enumerate(table.prompts) if p.split == "val"], dtype=np.int64)
    val_tags = [table.prompts[i].task for i in val_rows]
    best: tuple[float, float, float, z.ZooterResult | None] = (-1.0, 0.0, 0.0, None)
    grid = [(tau, beta) for tau in recipe.taus for beta in recipe.betas]
    for tau, beta in tqdm(grid, desc=f"{recipe.name}: τ × β on val", leave=False):
        sample, mask = z.sample_targets(table.scores[train], tau)
        means = z.tag_means(sample, tags)
        val_sample, val_mask = z.sample_targets(table.scores[val_rows], tau)
        result = z.fit_zooter(
            (embeddings[train], z.smoothed_targets(sample, mask, tags, means, beta), mask),
            (embeddings[val_rows], z.smoothed_targets(val_sample, val_mask, val_tags, means, beta), val_mask),
            recipe.hyperparameters,
        )
        shares = z.predict_shares(result.model, val.embeddings)
        accuracy = accuracy_of(val, np.argmax(shares[:, val.columns], axis=1))
        log(f"{recipe.name}: τ={tau} β={beta} best epoch {result.best_epoch} val accuracy {accuracy:.4f}")
        if accuracy > best[0]:  # ties keep the earlier grid point (recipe order)
            best = (accuracy, tau, beta, result)
    accuracy, tau, beta, chosen = best
    assert chosen is not None  # the grid is non-empty (recipe validation)
    z.export_zooter(chosen.model, path)
    diff = z.zooter_parity(chosen.model, path, val.embeddings)
    log(f"{recipe.name}: τ={tau} β={beta} (val accuracy {accuracy:.4f}); torch vs onnxruntime max |Δ| = {diff:.2e}")
    return {
        **recipe.hyperparameters.model_dump(),
        "tau": tau,
        "beta": beta,
        "best_epoch": chosen.best_epoch,
        "parity_max_abs_diff": diff,
        "torch": str(z.torch.__version__),
    }


def _test_metrics(router: HeadRouter, test: EvalSplit, weight: float, hyper: Hyper) -> dict[str, float]:
    """Routed accuracy at the default policy beside the baselines, on the complete test sub-matrix."""
    picks = routed_choice(router, test, router.scores_of_embeddings(test.embeddings), weight)
    base = test.baselines()
    costs = expected_costs(router, test)
    routed = accuracy_of(test, picks)
    gap = base["oracle_accuracy"] - base["best_single_accuracy"]
    values = {
        "routed_accuracy": routed,
        **base,
        "gap_closed": (routed - base["best_single_accuracy"]) / gap if gap > 0 else 0.0,
        "routed_est_cost_usd_per_1k": cost_per_1k(costs, picks),
        "best_single_est_cost_usd_per_1k": cost_per_1k(costs, np.full_like(picks, np.argmax(test.scores.mean(0)))),
        "cost_weight": weight,
        "n_prompts": float(len(test.texts)),
        "n_models": float(test.columns.size),
        "dropped_prompts": float(test.dropped_prompts),
        "distinct_models_chosen": float(np.unique(picks).size),
    }
    if "k" in hyper:
        values["k"] = float(hyper["k"])
    return _rounded(values)


def _rounded(values: dict[str, float]) -> dict[str, float]:
    """Finite values rounded to 4 places; NaN (e.g. the cost of unpriced models) is left out."""
    return {key: round(float(v), 4) for key, v in values.items() if np.isfinite(v)}


def _manifest(
    recipe: KnnRecipe | ZooterRecipe,
    recipe_path: Path,
    encoder: EncoderRef,
    out: Path,
    table: OutcomeTable,
    hyper: Hyper,
    counts: dict[str, int],
) -> RouterManifest:
    head = out / HEAD_FILE
    return RouterManifest(
        name=recipe.name,
        kind=recipe.kind,
        version=recipe.version,
        status="experimental",
        description=recipe.description,
        encoder=encoder,
        files={HEAD_FILE: FileEntry.of(head)},
        head_file=HEAD_FILE,
        head_input=HEAD_INPUT,
        head_output=KNN_OUTPUT if recipe.kind == "knn" else z.ZOOTER_OUTPUT,
        models=model_entries(table.models, [table.split("train")]),  # prices; output lengths from train only
        roles=None,
        default_policy=PolicySpec(kind="cost_aware", value=0.0),
        training=TrainingData(
            datasets={recipe.dataset: counts},
            recipe=recipe_path.as_posix(),
            hyperparameters={**hyper, "python": platform.python_version()},
        ),
        metrics={},
        licence=recipe.licence,
        routerkit_version=routerkit.__version__,
        min_core_version="0.1.0",
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="python -m routerkit.train.build_heads", description=__doc__)
    parser.add_argument("recipes", type=Path, nargs="+", help="knn_*.json / zooter_*.json recipes")
    parser.add_argument("--out-root", type=Path, required=True, help="folder receiving one artifact folder per recipe")
    args = parser.parse_args(argv)
    for recipe in args.recipes:
        build_head(recipe, args.out_root)


if __name__ == "__main__":
    main()
