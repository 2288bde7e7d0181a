"""Build an `embedllm` router artifact from a recipe: correctness matrix → torch MF → ONNX head → manifest.

Run as `python -m routerkit.train.build_embedllm --recipe onnx_models/recipes/embedllm_zeroeval.json
--out DIR` (`make models` does this for the shipped routers). The head maps `sentence_embedding
float32[n, 384]` to `correctness float32[n, n_models]` = P(model correct | prompt); it keeps the
prompt tower and the model embeddings as named initializers, so a new model can be fitted onto it
from probe prompts (`routerkit.train.embedllm_probes`). The default `cost_aware` weight is tuned on
val; test metrics go into the manifest.
"""

from __future__ import annotations

import argparse
import platform
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

import routerkit
from routerkit.artifacts import EncoderRef, FileEntry, Name, PolicySpec, RouterManifest, TrainingData
from routerkit.data.format import OutcomeTable, load_dataset
from routerkit.errors import ArtifactError
from routerkit.routers.head import HeadRouter
from routerkit.routers.registry import load_encoder
from routerkit.runtime.session import create_session
from routerkit.train._torch import require
from routerkit.train.embeddings import table_embeddings
from routerkit.train.embedllm import (
    EmbedLLMHyperparameters,
    EmbedLLMModel,
    correctness_labels,
    fit_embedllm_tuned,
    predict,
)
from routerkit.train.embedllm_eval import forecast_metrics, routing_summary
from routerkit.train.embedllm_head import write_head
from routerkit.train.export import HEAD_INPUT
from routerkit.train.manifest import model_entries
from routerkit.train.recipe import read_recipe_file

torch: Any = require("torch")

__all__ = [
    "HEAD_OUTPUT",
    "EmbedLLMRecipe",
    "build_embedllm",
    "cost_matrix",
    "main",
    "parity",
    "read_embedllm_recipe",
    "split_rows",
    "tune_cost_weight",
]

HEAD_FILE = "head.onnx"
HEAD_OUTPUT = "correctness"
Array = npt.NDArray[np.float64]


class EmbedLLMRecipe(BaseModel):
    """Everything that determines a trained `embedllm` artifact, besides the data and tool versions."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    name: Name
    version: str
    description: str
    encoder: Name
    dataset: str
    """The one outcome table trained on (its train split; val for tuning, test for the metrics)."""
    licence: str
    cost_weights: tuple[float, ...] = (0.0, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0)
    """`CostAware` weights tried on val, over the models that have a price."""
    quality_tolerance: float = Field(0.01, ge=0.0)
    """The default weight is the largest whose val routed accuracy is within this of weight 0's."""
    hyperparameters: EmbedLLMHyperparameters = EmbedLLMHyperparameters()


def read_embedllm_recipe(path: Path) -> EmbedLLMRecipe:
    """Read and validate a recipe file.

    Raises:
        ConfigError: naming the file and the invalid field.
    """
    return read_recipe_file(EmbedLLMRecipe.model_validate_json, path)


def split_rows(table: OutcomeTable, split: str) -> npt.NDArray[np.intp]:
    """Row indices of `table`'s prompts in `split`."""
    return np.array([i for i, p in enumerate(table.prompts) if p.split == split], dtype=np.intp)


def parity(model: EmbedLLMModel, path: Path, embeddings: npt.NDArray[np.float32], *, tolerance: float = 1e-5) -> float:
    """Max |torch − onnxruntime| P(correct) over `embeddings`; raises `ArtifactError` above `tolerance`."""
    expected = predict(model, embeddings)
    (actual,) = create_session(path, device="cpu", threads=1).run([HEAD_OUTPUT], {HEAD_INPUT: embeddings})
    diff = float(np.max(np.abs(expected - actual)))
    if diff > tolerance:
        raise ArtifactError(f"ONNX head {str(path)!r} differs from torch by {diff:.2e} (> {tolerance:.0e}).")
    return diff


def cost_matrix(router: HeadRouter, texts: Sequence[str]) -> Array:
    """`[n, n_models]` expected USD cost of each (prompt, model) as the policy sees it; NaN = no price."""
    return np.array(
        [[np.nan if c is None else c for c in router.expected_costs(text)] for text in texts], dtype=np.float64
    )


def cost_aware_choice(probs: Array, costs: Array, weight: float, candidates: Sequence[int]) -> npt.NDArray[np.intp]:
    """`CostAware(weight)` over `candidates` (indices with prices), vectorised: a model index per prompt."""
    c = costs[:, candidates]
    relative = c / np.where(c.max(axis=1, keepdims=True) > 0, c.max(axis=1, keepdims=True), 1.0)
    best = np.argmax(probs[:, candidates] - weight * relative, axis=1)
    chosen: npt.NDArray[np.intp] = np.asarray(candidates, dtype=np.intp)[best]
    return chosen


def tune_cost_weight(
    probs: Array, scores: Array, costs: Array, weights: Sequence[float], tolerance: float
) -> tuple[float, list[int]]:
    """The largest weight whose routed mean score (priced models only) is within `tolerance` of weight 0's.

    Returns the weight and the priced model indices (fewer than 2 priced models: weight 0).
    """
    priced = [m for m in range(costs.shape[1]) if not np.isnan(costs[:, m]).any()]
    if len(priced) < 2:
        return 0.0, priced
    probs = np.where(np.isnan(scores), -np.inf, probs)  # a model without a result on a prompt is not a choice
    quality = {
        w: routing_summary(cost_aware_choice(probs, costs, w, priced), scores, costs).routed for w in sorted(weights)
    }
    floor = quality[min(quality)] - tolerance
    return max(w for w, q in quality.items() if q >= floor), priced


def build_embedllm(recipe_path: Path, out: Path, *, log: Callable[[str], None] = print) -> RouterManifest:
    """Train, export, tune, evaluate and describe an `embedllm` router; returns the manifest written to `out`."""
    started = time.perf_counter()
    recipe = read_embedllm_recipe(recipe_path)
    encoder = load_encoder(recipe.encoder)
    table = load_dataset(recipe.dataset)
    emb = table_embeddings(encoder, table)
    rows = {split: split_rows(table, split) for split in ("train", "val", "test")}
    data = {split: (emb[r], correctness_labels(table, r)) for split, r in rows.items()}
    log(f"{recipe.dataset}: {len(table.models)} models, " + ", ".join(f"{s} {len(r)}" for s, r in rows.items()))
    torch.set_num_threads(1)
    result = fit_embedllm_tuned(data["train"], data["val"], recipe.hyperparameters, log=log)
    out.mkdir(parents=True, exist_ok=True)
    write_head(result.model.arrays(), out / HEAD_FILE, input_name=HEAD_INPUT, output_name=HEAD_OUTPUT)
    log(f"torch vs onnxruntime max |Δ P(correct)| = {parity(result.model, out / HEAD_FILE, data['val'][0]):.2e}")
    manifest = _manifest(recipe, recipe_path, encoder, out, table, rows, result.dim, result.best_epoch)
    router = HeadRouter(out, manifest, encoder, threads=1)
    texts = {s: [table.prompts[i].text for i in r] for s, r in rows.items()}
    probs = {s: router.scores_of_embeddings(data[s][0]) for s in ("val", "test")}
    costs = {s: cost_matrix(router, texts[s]) for s in ("val", "test")}
    weight, priced = tune_cost_weight(
        probs["val"], table.scores[rows["val"]], costs["val"], recipe.cost_weights, recipe.quality_tolerance
    )
    metrics = _test_metrics(probs["test"], table.scores[rows["test"]], data["test"][1], costs["test"], weight, priced)
    # `CostAware` can weigh cost only when every candidate has a price; otherwise the default is the paper's
    # argmax (weight 0) and the val-tuned weight is recorded for routing among the priced models.
    default = weight if len(priced) == len(table.models) else 0.0
    log(f"cost_aware weight {weight} over {len(priced)} priced models (val), default {default}; test {metrics}")
    manifest = manifest.model_copy(
        update={"default_policy": PolicySpec(kind="cost_aware", value=default), "metrics": {recipe.dataset: metrics}}
    )
    (out / "manifest.json").write_text(manifest.model_dump_json(indent=2) + "\n", encoding="utf-8")
    log(f"wrote {out} in {time.perf_counter() - started:.0f} s")
    return manifest


def _test_metrics(
    probs: Array, scores: Array, labels: npt.NDArray[np.float32], costs: Array, weight: float, priced: Sequence[int]
) -> dict[str, float]:
    """Forecasting accuracy/AUC, argmax routing over all models and cost-aware routing over priced ones."""
    forecast = forecast_metrics(probs, labels)
    probs = np.where(np.isnan(scores), -np.inf, probs)  # a model without a result on a prompt is not a choice
    routed = routing_summary(np.argmax(probs, axis=1), scores, costs)
    metrics = {
        "forecast_accuracy": forecast["accuracy"],
        "forecast_auc": forecast["auc"],
        "routed_accuracy": routed.routed,
        "best_single_accuracy": routed.best_single,
        "oracle_accuracy": routed.oracle,
        "random_same_shares_accuracy": routed.random_same_shares,
        "n_test_prompts": float(len(scores)),
    }
    if len(priced) >= 2:
        choice = np.searchsorted(priced, cost_aware_choice(probs, costs, weight, priced))
        summary = routing_summary(choice, scores[:, priced], costs[:, priced])
        metrics.update(
            priced_cost_weight=weight,
            priced_routed_accuracy=summary.routed,
            priced_routed_cost_per_1k=summary.cost_per_1k,
            priced_best_single_accuracy=summary.best_single,
            priced_best_single_cost_per_1k=summary.best_single_cost_per_1k,
        )
    return {key: round(value, 4) for key, value in metrics.items()}


def _manifest(
    recipe: EmbedLLMRecipe,
    recipe_path: Path,
    encoder: Any,
    out: Path,
    table: OutcomeTable,
    rows: dict[str, npt.NDArray[np.intp]],
    dim: int,
    best_epoch: int,
) -> RouterManifest:
    head = out / HEAD_FILE
    counts = {f"{split}_prompts": len(r) for split, r in rows.items() if split != "test"}
    cells = {f"{split}_cells": int((~np.isnan(table.scores[r])).sum()) for split, r in rows.items() if split != "test"}
    hyper = {
        **{
            k: (",".join(map(str, v)) if isinstance(v, tuple) else v)
            for k, v in recipe.hyperparameters.model_dump().items()
        },
        "dim": dim,
        "best_epoch": best_epoch,
        "torch": torch.__version__,
        "python": platform.python_version(),
    }
    return RouterManifest(
        name=recipe.name,
        kind="embedllm",
        version=recipe.version,
        status="experimental",
        description=recipe.description,
        encoder=EncoderRef(name=encoder.manifest.name, sha256=encoder.sha256),
        files={HEAD_FILE: FileEntry.of(head)},
        head_file=HEAD_FILE,
        head_input=HEAD_INPUT,
        head_output=HEAD_OUTPUT,
        models=model_entries(table.models, [table]),
        roles=None,
        default_policy=PolicySpec(kind="cost_aware", value=0.0),
        training=TrainingData(
            datasets={recipe.dataset: {**counts, **cells}}, recipe=recipe_path.as_posix(), hyperparameters=hyper
        ),
        metrics={},
        licence=recipe.licence,
        routerkit_version=routerkit.__version__,
        min_core_version="0.1.0",
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="python -m routerkit.train.build_embedllm", description=__doc__)
    parser.add_argument("--recipe", type=Path, required=True, help="recipe JSON (onnx_models/recipes/embedllm_*.json)")
    parser.add_argument("--out", type=Path, required=True, help="artifact folder to write")
    args = parser.parse_args(argv)
    build_embedllm(args.recipe, args.out)


if __name__ == "__main__":
    main()
