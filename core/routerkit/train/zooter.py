"""Zooter (Lu et al., NAACL 2024): reward-distilled routing, as a small head on frozen encoder embeddings.

Targets: s(q) = softmax_m(score(q, m) / τ) over the models with an outcome for q; tag-based label
smoothing with β: s*(q) = β·s(q) + (1 − β)·s_t, where s_t is the mean of s over the train prompts
of q's tag (the dataset's `task` field stands in for the paper's InsTag tags). Loss: KL(s* ‖ Z_θ(q)),
i.e. cross-entropy against the soft targets. Missing outcomes (NaN) are masked: the router's
distribution is renormalised over the models that have an outcome for q, so a prompt supervises
only the shares among the models actually measured on it. The exported head outputs the softmax
over all models (the predicted share of each model). The best epoch by validation loss is kept.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from routerkit.errors import ArtifactError, ConfigError
from routerkit.runtime.session import create_session
from routerkit.train._torch import require
from routerkit.train.export import HEAD_INPUT, OPSET

torch: Any = require("torch")

__all__ = [
    "ZOOTER_OUTPUT",
    "TagMeans",
    "ZooterHyperparameters",
    "ZooterModel",
    "ZooterResult",
    "export_zooter",
    "fit_zooter",
    "predict_shares",
    "sample_targets",
    "smoothed_targets",
    "tag_means",
    "zooter_parity",
]

ZOOTER_OUTPUT = "shares"
Matrix = npt.NDArray[np.float32]
TagMeans = dict[str, npt.NDArray[np.float64]]


class ZooterHyperparameters(BaseModel):
    """Settings of one Zooter training run (τ and β are chosen on val by the builder)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    hidden: int = Field(256, ge=0)
    """Width of the hidden layer; 0 makes the head linear."""
    dropout: float = Field(0.1, ge=0.0, lt=1.0)
    lr: float = Field(1e-3, gt=0.0)
    weight_decay: float = Field(1e-4, ge=0.0)
    batch_size: int = Field(256, gt=0)
    max_epochs: int = Field(60, gt=0)
    patience: int = Field(6, gt=0)
    """Stop after this many epochs without a better validation loss; the best epoch is kept."""
    seed: int = 0


def sample_targets(
    scores: npt.NDArray[np.float64], tau: float
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
    """s(q) = softmax(scores / τ) over the available models (0 elsewhere), and the availability mask.

    Raises:
        ConfigError: if `tau` is not positive.
    """
    if tau <= 0:
        raise ConfigError(f"τ must be positive, got {tau!r}.")
    mask = ~np.isnan(scores)
    logits = np.where(mask, scores / tau, -np.inf)
    top = np.max(np.where(mask, logits, -np.inf), axis=1, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    weights = np.where(mask, np.exp(logits - top), 0.0)
    total = weights.sum(1, keepdims=True)
    return np.divide(weights, total, out=np.zeros_like(weights), where=total > 0), mask


def tag_means(targets: npt.NDArray[np.float64], tags: Sequence[str]) -> TagMeans:
    """s_t: the mean sample target of each tag's prompts."""
    labels = np.asarray(tags)
    return {tag: targets[labels == tag].mean(0) for tag in sorted(set(tags))}


def smoothed_targets(
    targets: npt.NDArray[np.float64], mask: npt.NDArray[np.bool_], tags: Sequence[str], means: TagMeans, beta: float
) -> npt.NDArray[np.float64]:
    """s*(q) = β·s(q) + (1 − β)·s_t restricted to q's available models and renormalised.

    A tag never seen in training (or whose mean has no mass on q's models) leaves s(q) unchanged.
    """
    if not 0.0 <= beta <= 1.0:
        raise ConfigError(f"β must be in [0, 1], got {beta!r}.")
    out = targets.copy()
    for i, tag in enumerate(tags):
        prior = np.where(mask[i], means.get(tag, np.zeros(targets.shape[1])), 0.0)
        if prior.sum() > 0:
            out[i] = beta * targets[i] + (1.0 - beta) * prior / prior.sum()
    return out


class ZooterModel(torch.nn.Module):  # type: ignore[misc]
    """Embedding → logits over the models (an MLP with one hidden layer, or linear if `hidden` = 0)."""

    def __init__(self, embedding_dim: int, n_models: int, hidden: int, dropout: float) -> None:
        super().__init__()
        layers: list[Any] = [torch.nn.Dropout(dropout)]
        if hidden > 0:
            layers += [torch.nn.Linear(embedding_dim, hidden), torch.nn.GELU(), torch.nn.Dropout(dropout)]
        layers.append(torch.nn.Linear(hidden or embedding_dim, n_models))
        self.net = torch.nn.Sequential(*layers)

    def forward(self, embeddings: Any) -> Any:
        """`float[B, dim]` → logits `float[B, n_models]`."""
        return self.net(embeddings)


class _Shares(torch.nn.Module):  # type: ignore[misc]
    """What is exported: the softmax over all models."""

    def __init__(self, model: ZooterModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, embeddings: Any) -> Any:
        return torch.softmax(self.model(embeddings), dim=-1)


@dataclass(frozen=True)
class ZooterResult:
    """A trained model and its learning curve."""

    model: ZooterModel
    best_epoch: int
    train_loss: list[float]
    val_loss: list[float]


def _loss(logits: Any, targets: Any, mask: Any) -> Any:
    """Cross-entropy of the soft targets against the distribution renormalised over available models."""
    logp = torch.log_softmax(logits.masked_fill(~mask, float("-inf")), dim=-1)
    return -(targets * logp.masked_fill(~mask, 0.0)).sum(-1).mean()


def fit_zooter(
    train: tuple[Matrix, npt.NDArray[np.float64], npt.NDArray[np.bool_]],
    val: tuple[Matrix, npt.NDArray[np.float64], npt.NDArray[np.bool_]],
    hp: ZooterHyperparameters,
    *,
    on_epoch: Callable[[int, float, float], None] | None = None,
) -> ZooterResult:
    """Train on `(embeddings, targets, mask)`; keep the epoch with the lowest validation loss.

    Prompts with no available model are dropped (they carry no target).
    """
    torch.manual_seed(hp.seed)
    tr = _tensors(*train)
    va = _tensors(*val)
    model = ZooterModel(tr[0].shape[1], tr[1].shape[1], hp.hidden, hp.dropout)
    optimiser = torch.optim.AdamW(model.parameters(), lr=hp.lr, weight_decay=hp.weight_decay)
    generator = torch.Generator().manual_seed(hp.seed)
    best: tuple[float, int, dict[str, Any]] = (float("inf"), 0, {})
    train_loss: list[float] = []
    val_loss: list[float] = []
    for epoch in range(1, hp.max_epochs + 1):
        train_loss.append(_epoch(model, optimiser, tr, hp.batch_size, generator))
        model.eval()
        with torch.no_grad():
            val_loss.append(float(_loss(model(va[0]), va[1], va[2])))
        if on_epoch is not None:
            on_epoch(epoch, train_loss[-1], val_loss[-1])
        if val_loss[-1] < best[0]:
            best = (val_loss[-1], epoch, {k: v.clone() for k, v in model.state_dict().items()})
        elif epoch - best[1] >= hp.patience:
            break
    model.load_state_dict(best[2])
    return ZooterResult(model.eval(), best[1], train_loss, val_loss)


def _tensors(emb: Matrix, targets: npt.NDArray[np.float64], mask: npt.NDArray[np.bool_]) -> tuple[Any, Any, Any]:
    keep = mask.any(1)
    return (
        torch.from_numpy(np.ascontiguousarray(emb[keep], dtype=np.float32)),
        torch.from_numpy(targets[keep].astype(np.float32)),
        torch.from_numpy(mask[keep]),
    )


def _epoch(model: ZooterModel, optimiser: Any, data: tuple[Any, Any, Any], batch_size: int, generator: Any) -> float:
    model.train()
    order = torch.randperm(data[0].shape[0], generator=generator)
    total = 0.0
    for start in range(0, order.numel(), batch_size):
        index = order[start : start + batch_size]
        loss = _loss(model(data[0][index]), data[1][index], data[2][index])
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        total += float(loss.detach()) * index.numel()
    return float(total / max(order.numel(), 1))


def predict_shares(model: ZooterModel, embeddings: Matrix) -> Matrix:
    """Torch reference of the exported head: the softmax shares `float32[n, n_models]`."""
    with torch.no_grad():
        return np.asarray(_Shares(model.eval())(torch.from_numpy(embeddings)).numpy(), dtype=np.float32)


def export_zooter(model: ZooterModel, path: Path) -> None:
    """Write `sentence_embedding float[B, dim]` → `shares float[B, n_models]` (softmax) as ONNX."""
    head = _Shares(model.eval()).eval()
    dummy = torch.zeros(2, _embedding_dim(model))
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        # torch 2.13 deprecates the TorchScript exporter, which is exact for this MLP.
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            head,
            (dummy,),
            buffer,
            input_names=[HEAD_INPUT],
            output_names=[ZOOTER_OUTPUT],
            dynamic_axes={HEAD_INPUT: {0: "batch"}, ZOOTER_OUTPUT: {0: "batch"}},
            opset_version=OPSET,
            dynamo=False,
        )
    path.write_bytes(buffer.getvalue())


def _embedding_dim(model: ZooterModel) -> int:
    first = next(layer for layer in model.net if isinstance(layer, torch.nn.Linear))
    return int(first.in_features)


def zooter_parity(model: ZooterModel, path: Path, embeddings: Matrix, *, tolerance: float = 1e-5) -> float:
    """Max |torch − onnxruntime| share over `embeddings`; raises `ArtifactError` above `tolerance`."""
    expected = predict_shares(model, embeddings)
    (actual,) = create_session(path, device="cpu", threads=1).run([ZOOTER_OUTPUT], {HEAD_INPUT: embeddings})
    diff = float(np.max(np.abs(expected - actual))) if expected.size else 0.0
    if diff > tolerance:
        raise ArtifactError(f"ONNX head {str(path)!r} differs from torch by {diff:.2e} (> {tolerance:.0e}).")
    return diff
