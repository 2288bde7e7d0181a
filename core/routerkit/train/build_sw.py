"""Build an `sw` router artifact from a recipe: train battles → tiers → similarity head → manifest.

Run as `python -m routerkit.train.build_sw --recipe onnx_models/recipes/sw.json --out DIR`
(`make models` does this for the shipped router). Nothing is trained by gradient descent: the artifact
stores the train battles, summed per prompt into tier-vs-tier win matrices, and those prompts'
embeddings; the per-query Bradley–Terry fit runs at request time (`routerkit.routers.sw`).

The ONNX head maps a query embedding to its similarity-weighted tier win matrix. The prompt embeddings
are stored as int8 with one scale per prompt (the scale also restores unit norm), which keeps the
folder under 8 MB; the build checks the head against the float64 per-battle reference and writes the
largest score difference into the manifest. The default threshold sends `default_strong_share` of the
validation prompts to the strong model; test metrics come from the recipe's evaluation datasets.
"""

from __future__ import annotations

import argparse
import math
import platform
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

import routerkit
from routerkit.artifacts import EncoderRef, FileEntry, PolicySpec, RouterManifest, TrainingData
from routerkit.calibration import threshold_for_share
from routerkit.data import Battles, OutcomeTable, battles, training_tables
from routerkit.errors import ArtifactError, ConfigError
from routerkit.routers.base import Router, Scores
from routerkit.routers.registry import load_encoder
from routerkit.routers.sw import TIERS_FILE, SWRouter, SWTiers, fit_bradley_terry
from routerkit.train._torch import require
from routerkit.train.embeddings import table_embeddings
from routerkit.train.manifest import model_entries, pair_test_metrics
from routerkit.train.sw import (
    SWRecipe,
    battle_embeddings,
    compute_tiers,
    global_ratings,
    prompt_tier_wins,
    read_sw_recipe,
    reference_scores,
    validation_loss,
)

__all__ = ["HEAD_FILE", "HEAD_INPUT", "HEAD_OUTPUT", "build_sw", "main", "similarity_head"]

HEAD_FILE = "similarity.onnx"
HEAD_INPUT = "sentence_embedding"
HEAD_OUTPUT = "tier_wins"
OPSET = 17
SIM_FLOOR = 1e-3
"""Smallest max-similarity divided by: RouteLLM divides by it unguarded."""
PARITY_QUERIES = 64
PARITY_TOLERANCE = 2e-3


def quantise_rows(embeddings: npt.NDArray[np.float32]) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.float32]]:
    """Symmetric int8 per row; each row's scale is chosen so the dequantised row has unit norm."""
    unit = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)
    step = np.abs(unit).max(axis=1, keepdims=True) / 127.0
    q = np.round(unit / step).astype(np.int8)
    scale = 1.0 / np.linalg.norm(q.astype(np.float64), axis=1)
    return q, scale.astype(np.float32)


def similarity_head(q: npt.NDArray[np.int8], scale: npt.NDArray[np.float32], wins: np.ndarray, gamma: float) -> Any:
    """The ONNX graph: `sentence_embedding float[B, d]` → `tier_wins float[B, T·T]`.

    normalise → cosine to every stored prompt → weight `γ^((sim − max) / max)` → weighted sum of the
    prompts' tier win matrices. Constant folding turns the int8 table into float32 at session start.
    """
    onnx = require("onnx")
    helper, numpy_helper = onnx.helper, onnx.numpy_helper
    n_prompts = q.shape[0]
    inits = [
        numpy_helper.from_array(np.ascontiguousarray(q.T), "prompts_q"),
        numpy_helper.from_array(scale, "prompts_scale"),
        numpy_helper.from_array(np.zeros(n_prompts, dtype=np.int8), "prompts_zero"),
        numpy_helper.from_array(wins.reshape(n_prompts, -1).astype(np.float16), "prompt_wins"),
        numpy_helper.from_array(np.array(SIM_FLOOR, dtype=np.float32), "floor"),
        numpy_helper.from_array(np.array(math.log(gamma), dtype=np.float32), "log_gamma"),
    ]
    node = helper.make_node
    nodes = [
        node("LpNormalization", [HEAD_INPUT], ["query"], axis=1, p=2),
        node("DequantizeLinear", ["prompts_q", "prompts_scale", "prompts_zero"], ["prompts"], axis=1),
        node("MatMul", ["query", "prompts"], ["sim"]),
        node("ReduceMax", ["sim"], ["max_sim"], axes=[1], keepdims=1),
        node("Max", ["max_sim", "floor"], ["divisor"]),
        node("Sub", ["sim", "max_sim"], ["below_max"]),
        node("Div", ["below_max", "divisor"], ["relative"]),
        node("Mul", ["relative", "log_gamma"], ["log_weight"]),
        node("Exp", ["log_weight"], ["weight"]),
        node("Cast", ["prompt_wins"], ["wins_f32"], to=onnx.TensorProto.FLOAT),
        node("MatMul", ["weight", "wins_f32"], [HEAD_OUTPUT]),
    ]
    dim, cells = q.shape[1], wins.shape[1] * wins.shape[2]
    graph = helper.make_graph(
        nodes,
        "sw_similarity_head",
        [helper.make_tensor_value_info(HEAD_INPUT, onnx.TensorProto.FLOAT, ["batch", dim])],
        [helper.make_tensor_value_info(HEAD_OUTPUT, onnx.TensorProto.FLOAT, ["batch", cells])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="routerkit")
    onnx.checker.check_model(model)
    return model


def build_sw(recipe_path: Path, out: Path, *, log: Any = print) -> RouterManifest:
    """Build, check, evaluate and describe an `sw` router; returns the manifest written to `out`."""
    started = time.perf_counter()
    recipe = read_sw_recipe(recipe_path)
    hp = recipe.hyperparameters
    encoder = load_encoder(recipe.encoder)
    train_tables = training_tables(recipe.datasets, split="train")
    val_tables = training_tables(recipe.datasets, split="val")
    train_b = battles(train_tables)
    log(f"battles: train {len(train_b):,} over {len(train_b.models)} models ({train_b.counts})")
    ratings = global_ratings(train_b)
    tier_of = compute_tiers(ratings, hp.n_tiers)
    per_prompt = prompt_tier_wins(train_b, tier_of, hp.n_tiers)
    _check_connected(per_prompt.wins.sum(axis=0))
    emb = battle_embeddings(encoder, train_tables)
    log(f"{per_prompt.rows.size:,} of {len(train_b.texts):,} train prompts decide a cross-tier battle")
    start = fit_bradley_terry(per_prompt.wins.sum(axis=0), np.zeros(hp.n_tiers), iterations=50)[0]
    val_b = battles(val_tables)
    val_emb = battle_embeddings(encoder, val_tables)
    gamma, losses = _choose_gamma(recipe, val_b, val_emb, tier_of, emb[per_prompt.rows], per_prompt.wins, start, log)
    q, scale = quantise_rows(emb[per_prompt.rows])
    out.mkdir(parents=True, exist_ok=True)
    (out / HEAD_FILE).write_bytes(similarity_head(q, scale, per_prompt.wins, gamma).SerializeToString())
    tiers = SWTiers(
        tier_of={m: int(t) for m, t in zip(train_b.models, tier_of, strict=True)},
        start=tuple(float(v) for v in start),
        iterations=hp.iterations,
    )
    (out / TIERS_FILE).write_text(tiers.model_dump_json(indent=2) + "\n", encoding="utf-8")
    manifest = _manifest(recipe, recipe_path, encoder.manifest.name, encoder.sha256, out, train_b, train_tables)
    router = SWRouter(out, manifest, encoder, threads=1)
    diff = _parity(router, train_b, emb, tier_of, val_emb, gamma, log)
    threshold = threshold_for_share(router.scores_of_embeddings(val_emb)[:, 0], recipe.default_strong_share)
    hyper = dict(manifest.training.hyperparameters) | {"gamma": gamma, "parity_max_abs_diff": float(f"{diff:.3g}")}
    hyper |= {f"val_log_loss_gamma_{g:g}": round(loss, 5) for g, loss in losses.items()}
    manifest = manifest.model_copy(
        update={
            "default_policy": PolicySpec(kind="threshold", value=threshold),
            "training": manifest.training.model_copy(update={"hyperparameters": hyper}),
        }
    )
    router = SWRouter(out, manifest, encoder, threads=1)
    manifest = manifest.model_copy(
        update={"metrics": pair_test_metrics(router, recipe.evaluation, log, scored_by=_embedded(router))}
    )
    (out / "manifest.json").write_text(manifest.model_dump_json(indent=2) + "\n", encoding="utf-8")
    log(f"wrote {out} in {time.perf_counter() - started:.0f} s")
    return manifest


def _choose_gamma(
    recipe: SWRecipe,
    val_b: Battles,
    val_emb: np.ndarray,
    tier_of: np.ndarray,
    prompt_emb: np.ndarray,
    prompt_wins: np.ndarray,
    start: np.ndarray,
    log: Any,
) -> tuple[float, dict[float, float]]:
    """The recipe's γ with the lowest validation log-loss (`validation_loss`), and every γ's loss."""
    per_val = prompt_tier_wins(val_b, tier_of, recipe.hyperparameters.n_tiers)
    losses = {
        g: validation_loss(val_emb[per_val.rows], per_val.wins, prompt_emb, prompt_wins, start, g)
        for g in recipe.hyperparameters.gammas
    }
    log("validation log-loss by γ: " + ", ".join(f"{g:g}: {loss:.4f}" for g, loss in losses.items()))
    return min(losses, key=losses.__getitem__), losses


def _check_connected(wins: np.ndarray) -> None:
    """The unweighted tier fit must be finite: every tier must both win and lose against the others."""
    for label, totals in (("wins", wins.sum(axis=1)), ("losses", wins.sum(axis=0))):
        if (totals <= 0).any():
            tiers = np.flatnonzero(totals <= 0).tolist()
            raise ConfigError(f"Tiers {tiers} have no cross-tier {label} in the train battles; lower `n_tiers`.")


def _parity(
    router: SWRouter,
    data: Battles,
    emb: np.ndarray,
    tier_of: np.ndarray,
    queries: np.ndarray,
    gamma: float,
    log: Any,
) -> float:
    """Max |head + Newton − float64 per-battle reference| score on the first validation prompts."""
    sample = queries[:PARITY_QUERIES]
    pair = (data.models.index(router.strong), data.models.index(router.weak))
    expected = reference_scores(sample, data, emb, tier_of, pair, gamma=gamma)
    diff = float(np.max(np.abs(router.scores_of_embeddings(sample)[:, 0] - expected)))
    log(f"ONNX head (int8 prompts, fp16 wins) + Newton vs float64 per-battle reference: max |Δ score| = {diff:.2e}")
    if diff > PARITY_TOLERANCE:
        raise ArtifactError(f"sw head differs from the reference by {diff:.2e} (> {PARITY_TOLERANCE:.0e}).")
    return diff


def _embedded(router: SWRouter) -> Callable[[OutcomeTable], Router]:
    """Score a table's prompts from its cached embeddings (the encoder is the slow part; same scores)."""
    return lambda table: _Embedded(router, table, table_embeddings(router.encoder, table))


class _Embedded(Router):
    """An `SWRouter` fed with cached embeddings of a dataset (evaluation speed only; same scores)."""

    def __init__(self, inner: SWRouter, table: OutcomeTable, emb: np.ndarray) -> None:
        super().__init__(
            name=inner.name,
            version=inner.version,
            candidates=inner.candidates,
            default_policy=inner.default_policy,
            pairwise=True,
        )
        self._inner = inner
        self._rows = {p.text: i for i, p in enumerate(table.prompts)}
        self._emb = emb

    def fingerprint(self) -> str:
        return self._inner.fingerprint()

    def _score_texts(self, texts: list[str]) -> Scores:
        return self._inner.scores_of_embeddings(self._emb[[self._rows[t] for t in texts]])


def _manifest(
    recipe: SWRecipe,
    recipe_path: Path,
    encoder_name: str,
    encoder_sha: str,
    out: Path,
    data: Battles,
    tables: Sequence[OutcomeTable],
) -> RouterManifest:
    files = {name: FileEntry.of(out / name) for name in (HEAD_FILE, TIERS_FILE)}
    datasets = {name: {f"train_{what}": n for what, n in per.items()} for name, per in data.counts.items()}
    hyper: dict[str, float | int | str] = {
        "n_tiers": recipe.hyperparameters.n_tiers,
        "iterations": recipe.hyperparameters.iterations,
        "gammas": ", ".join(f"{g:g}" for g in recipe.hyperparameters.gammas),
        "prompt_embeddings": "int8, one scale per prompt",
        "numpy": np.__version__,
        "python": platform.python_version(),
    }
    return RouterManifest(
        name=recipe.name,
        kind="sw",
        version=recipe.version,
        status="experimental",
        description=recipe.description,
        encoder=EncoderRef(name=encoder_name, sha256=encoder_sha),
        files=files,
        head_file=HEAD_FILE,
        head_input=HEAD_INPUT,
        head_output=HEAD_OUTPUT,
        models=model_entries(data.models, tables),
        roles=recipe.roles,
        default_policy=PolicySpec(kind="threshold", value=0.5),
        training=TrainingData(datasets=datasets, recipe=recipe_path.as_posix(), hyperparameters=hyper),
        metrics={},
        licence=recipe.licence,
        routerkit_version=routerkit.__version__,
        min_core_version="0.1.0",
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="python -m routerkit.train.build_sw", description=__doc__)
    parser.add_argument("--recipe", type=Path, required=True, help="recipe JSON (onnx_models/recipes/sw.json)")
    parser.add_argument("--out", type=Path, required=True, help="artifact folder to write")
    args = parser.parse_args(argv)
    build_sw(args.recipe, args.out)


if __name__ == "__main__":
    main()
