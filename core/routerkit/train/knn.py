"""The `knn` head: predicted quality of each model = (weighted) mean outcome of the k nearest train prompts.

No training beyond storing the train prompts: the ONNX graph (built with `onnx.helper`, no torch)
holds the L2-normalised train embeddings as float16 (to keep the artifact small) and their outcome
rows, and computes cosine similarity → `TopK` → mean (or similarity-weighted mean) of the
neighbours' outcomes. Missing outcomes (NaN, e.g. `zeroeval` models without results on a task) are
masked: each model's score averages only the neighbours that have an outcome for it, and a model
none of the neighbours has falls back to its mean over the stored prompts (a pseudo-count `EPS`
weighs that prior, so it is negligible whenever any neighbour counts). `predict` is the numpy
reference of the same computation, used for selection on val and for the parity check.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt
import onnx
from onnx import TensorProto, helper, numpy_helper

from routerkit.errors import ArtifactError, ConfigError
from routerkit.runtime.session import create_session
from routerkit.train.export import HEAD_INPUT

__all__ = ["EPS", "KNN_OUTPUT", "KnnHead", "Weighting", "export_knn", "knn_head", "knn_parity", "predict"]

KNN_OUTPUT = "quality"
EPS = 1e-6
"""Pseudo-count of the per-model prior: only matters when no neighbour has an outcome for a model."""
OPSET = 17
Weighting = Literal["mean", "similarity"]
Matrix = npt.NDArray[np.float32]


@dataclass(frozen=True)
class KnnHead:
    """Everything the ONNX graph stores: neighbours, their outcomes, k and the weighting."""

    bank: npt.NDArray[np.float16]
    """L2-normalised embeddings of the stored train prompts, `[n_stored, dim]`, float16."""
    values: Matrix
    """Outcomes of the stored prompts, `[n_stored, n_models]`, 0 where missing."""
    mask: Matrix
    """1 where the outcome exists, else 0."""
    prior: Matrix
    """Each model's mean outcome over the stored prompts, `[n_models]`."""
    k: int
    weighting: Weighting


def knn_head(
    embeddings: Matrix,
    scores: npt.NDArray[np.float64],
    *,
    k: int,
    weighting: Weighting,
    max_stored: int | None = None,
    seed: int = 0,
) -> KnnHead:
    """Store train prompts (a seeded subsample of `max_stored` of them if there are more).

    Raises:
        ConfigError: if `k` is not in 1..n_stored or the shapes disagree.
    """
    if embeddings.shape[0] != scores.shape[0]:
        raise ConfigError(f"{embeddings.shape[0]} embeddings but {scores.shape[0]} outcome rows; pass aligned rows.")
    rows = np.arange(embeddings.shape[0])
    if max_stored is not None and rows.size > max_stored:
        rows = np.sort(np.random.default_rng(seed).choice(rows, size=max_stored, replace=False))
    if not 1 <= k <= rows.size:
        raise ConfigError(f"k={k!r} must be between 1 and the {rows.size} stored prompts; choose a smaller `k`.")
    kept = scores[rows]
    mask = ~np.isnan(kept)
    values = np.where(mask, kept, 0.0)
    prior = values.sum(0) / np.maximum(mask.sum(0), 1)
    return KnnHead(
        bank=_normalise(embeddings[rows].astype(np.float32)).astype(np.float16),
        values=values.astype(np.float32),
        mask=mask.astype(np.float32),
        prior=prior.astype(np.float32),
        k=k,
        weighting=weighting,
    )


def predict(head: KnnHead, embeddings: Matrix) -> Matrix:
    """Numpy reference of the ONNX graph: `float32[n, n_models]` predicted quality."""
    sims = _normalise(embeddings.astype(np.float32)) @ head.bank.astype(np.float32).T
    # A stable sort of −sims keeps the lower index first among equal values, as onnxruntime's TopK does.
    index = np.argsort(-sims, axis=1, kind="stable")[:, : head.k]
    weights = np.take_along_axis(sims, index, axis=1)
    weights = np.maximum(weights, 0.0) if head.weighting == "similarity" else np.ones_like(weights)
    numerator = np.einsum("nk,nkm->nm", weights, head.values[index])
    denominator = np.einsum("nk,nkm->nm", weights, head.mask[index])
    return np.asarray((numerator + EPS * head.prior) / (denominator + EPS), dtype=np.float32)


def _normalise(x: Matrix) -> Matrix:
    return np.asarray(x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12), dtype=np.float32)


def export_knn(head: KnnHead, path: Path) -> None:
    """Write the head as ONNX: `sentence_embedding float[n, dim]` → `quality float[n, n_models]`."""
    dim, n_models = head.bank.shape[1], head.values.shape[1]
    initializers = [
        numpy_helper.from_array(np.ascontiguousarray(head.bank.T), "bank_fp16"),
        numpy_helper.from_array(head.values, "values"),
        numpy_helper.from_array(head.mask, "mask"),
        numpy_helper.from_array((EPS * head.prior).astype(np.float32), "prior_eps"),
        numpy_helper.from_array(np.array(EPS, dtype=np.float32), "eps"),
        numpy_helper.from_array(np.array(1e-12, dtype=np.float32), "tiny"),
        numpy_helper.from_array(np.array([head.k], dtype=np.int64), "k"),
        numpy_helper.from_array(np.array([1], dtype=np.int64), "axis1"),
        numpy_helper.from_array(np.array([2], dtype=np.int64), "axis2"),
    ]
    graph = helper.make_graph(
        [*_similarity_nodes(), *_weight_nodes(head.weighting), *_average_nodes()],
        "knn_head",
        [helper.make_tensor_value_info(HEAD_INPUT, TensorProto.FLOAT, ["batch", dim])],
        [helper.make_tensor_value_info(KNN_OUTPUT, TensorProto.FLOAT, ["batch", n_models])],
        initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="routerkit")
    onnx.checker.check_model(model)
    onnx.save(model, path)


def _similarity_nodes() -> list[onnx.NodeProto]:
    """Cosine similarity to every stored prompt, then the k largest (sorted, lower index first on ties)."""
    return [
        helper.make_node("ReduceL2", [HEAD_INPUT], ["norm"], axes=[1], keepdims=1),
        helper.make_node("Max", ["norm", "tiny"], ["safe_norm"]),
        helper.make_node("Div", [HEAD_INPUT, "safe_norm"], ["query"]),
        helper.make_node("Cast", ["bank_fp16"], ["bank"], to=TensorProto.FLOAT),
        helper.make_node("MatMul", ["query", "bank"], ["sims"]),
        helper.make_node("TopK", ["sims", "k"], ["top_sims", "top_index"], axis=-1, largest=1, sorted=1),
    ]


def _weight_nodes(weighting: Weighting) -> list[onnx.NodeProto]:
    if weighting == "similarity":
        return [helper.make_node("Relu", ["top_sims"], ["weights"])]  # a negative cosine counts as 0
    return [
        helper.make_node("Shape", ["top_sims"], ["top_shape"]),
        helper.make_node(
            "ConstantOfShape",
            ["top_shape"],
            ["weights"],
            value=helper.make_tensor("one", TensorProto.FLOAT, [1], [1.0]),
        ),
    ]


def _average_nodes() -> list[onnx.NodeProto]:
    """Masked weighted mean of the neighbours' outcome rows, with the prior's pseudo-count."""
    return [
        helper.make_node("Unsqueeze", ["weights", "axis2"], ["weights3"]),
        helper.make_node("Gather", ["values", "top_index"], ["near_values"], axis=0),
        helper.make_node("Gather", ["mask", "top_index"], ["near_mask"], axis=0),
        helper.make_node("Mul", ["near_values", "weights3"], ["weighted_values"]),
        helper.make_node("Mul", ["near_mask", "weights3"], ["weighted_mask"]),
        helper.make_node("ReduceSum", ["weighted_values", "axis1"], ["numerator"], keepdims=0),
        helper.make_node("ReduceSum", ["weighted_mask", "axis1"], ["denominator"], keepdims=0),
        helper.make_node("Add", ["numerator", "prior_eps"], ["smoothed_numerator"]),
        helper.make_node("Add", ["denominator", "eps"], ["smoothed_denominator"]),
        helper.make_node("Div", ["smoothed_numerator", "smoothed_denominator"], [KNN_OUTPUT]),
    ]


def knn_parity(head: KnnHead, path: Path, embeddings: Matrix, *, tolerance: float = 1e-4) -> float:
    """Max |numpy reference − onnxruntime| over `embeddings`; raises `ArtifactError` above `tolerance`."""
    expected = predict(head, embeddings)
    (actual,) = create_session(path, device="cpu", threads=1).run([KNN_OUTPUT], {HEAD_INPUT: embeddings})
    diff = float(np.max(np.abs(expected - actual))) if expected.size else 0.0
    if diff > tolerance:
        raise ArtifactError(
            f"ONNX head {str(path)!r} differs from the numpy reference by {diff:.2e} (> {tolerance:.0e})."
        )
    return diff
