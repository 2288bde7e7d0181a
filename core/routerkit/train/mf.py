"""Train RouteLLM's matrix-factorisation router on battles, in torch.

Model (RouteLLM `MatrixFactorizationRouter`, with our encoder in place of OpenAI embeddings):
δ(m, q) = wᵀ(P̂_m ⊙ W e_q), P̂_m = P_m / ‖P_m‖; a battle's logit is δ(winner) − δ(loser) and the loss
is the weighted Bradley–Terry log-loss. The best epoch by validation loss is kept.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from routerkit.data.battles import Battles
from routerkit.train._torch import require
from routerkit.train.recipe import MFHyperparameters

torch: Any = require("torch")

__all__ = ["MFModel", "TrainResult", "fit_mf"]

Embeddings = npt.NDArray[np.float32]


class MFModel(torch.nn.Module):  # type: ignore[misc]
    """The MF scorer: prompt embedding → strength of each of `n_models` models."""

    def __init__(self, n_models: int, dim: int, embedding_dim: int) -> None:
        super().__init__()
        self.models = torch.nn.Embedding(n_models, dim)
        self.text_proj = torch.nn.Linear(embedding_dim, dim, bias=False)
        self.classifier = torch.nn.Linear(dim, 1, bias=False)

    def forward(self, embeddings: Any) -> Any:
        """`float[B, embedding_dim]` → strengths `float[B, n_models]`."""
        models = torch.nn.functional.normalize(self.models.weight, dim=1)
        projected = self.text_proj(embeddings) * self.classifier.weight[0]
        return projected @ models.T

    def folded_matrix(self) -> Any:
        """The whole scorer as one `[embedding_dim, n_models]` matrix: δ = e @ M.

        δ(m, q) = Σ_d w_d P̂_md (W e)_d is linear in e, so the head collapses to one MatMul.
        """
        with torch.no_grad():
            models = torch.nn.functional.normalize(self.models.weight, dim=1)
            return self.text_proj.weight.T @ (self.classifier.weight[0][:, None] * models.T)


@dataclass(frozen=True)
class TrainResult:
    """A trained model and its learning curve."""

    model: MFModel
    best_epoch: int
    train_loss: list[float]
    val_loss: list[float]


def _tensors(data: Battles, embeddings: Embeddings) -> dict[str, Any]:
    return {
        "emb": torch.from_numpy(embeddings),
        "prompt": torch.from_numpy(data.prompt),
        "winner": torch.from_numpy(data.winner),
        "loser": torch.from_numpy(data.loser),
        "weight": torch.from_numpy(data.weight),
    }


def _loss(model: MFModel, t: dict[str, Any], index: Any, noise: float) -> Any:
    emb = t["emb"][t["prompt"][index]]
    if noise > 0:
        emb = emb + noise * torch.randn_like(emb)
    strengths = model(emb)
    rows = torch.arange(index.numel())
    logit = strengths[rows, t["winner"][index]] - strengths[rows, t["loser"][index]]
    per_battle = torch.nn.functional.softplus(-logit)  # = BCE-with-logits against target 1
    return (per_battle * t["weight"][index]).sum() / t["weight"][index].sum()


def _val_loss(model: MFModel, t: dict[str, Any], batch: int) -> float:
    total, weight = 0.0, 0.0
    with torch.no_grad():
        for start in range(0, t["prompt"].numel(), batch):
            index = torch.arange(start, min(start + batch, t["prompt"].numel()))
            w = float(t["weight"][index].sum())
            total += float(_loss(model, t, index, 0.0)) * w
            weight += w
    return total / weight


def fit_mf(
    train: Battles,
    train_emb: Embeddings,
    val: Battles,
    val_emb: Embeddings,
    hp: MFHyperparameters,
    *,
    on_epoch: Callable[[int, float, float], None] | None = None,
) -> TrainResult:
    """Train with Adam and early stopping on the validation Bradley–Terry loss.

    Args:
        train, val: battles over the same model list.
        train_emb, val_emb: embeddings of `train.texts` / `val.texts`.
        hp: hyperparameters.
        on_epoch: called with (epoch, train loss, val loss) after each epoch (progress display).
    """
    if train.models != val.models:
        raise ValueError("train and val battles must index the same model list")
    torch.manual_seed(hp.seed)
    generator = torch.Generator().manual_seed(hp.seed)
    model = MFModel(len(train.models), hp.dim, train_emb.shape[1])
    optimiser = torch.optim.Adam(model.parameters(), lr=hp.lr, weight_decay=hp.weight_decay)
    t_train, t_val = _tensors(train, train_emb), _tensors(val, val_emb)
    best = (float("inf"), 0, model.state_dict())
    train_curve, val_curve = [], []
    for epoch in range(1, hp.max_epochs + 1):
        model.train()
        order = torch.randperm(len(train), generator=generator)
        losses = []
        for start in range(0, len(train), hp.batch_size):
            loss = _loss(model, t_train, order[start : start + hp.batch_size], hp.noise)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            losses.append(float(loss.detach()))
        model.eval()
        train_curve.append(float(np.mean(losses)))
        val_curve.append(_val_loss(model, t_val, 65536))
        if on_epoch is not None:
            on_epoch(epoch, train_curve[-1], val_curve[-1])
        if val_curve[-1] < best[0]:
            best = (val_curve[-1], epoch, {k: v.clone() for k, v in model.state_dict().items()})
        elif epoch - best[1] >= hp.patience:
            break
    model.load_state_dict(best[2])
    return TrainResult(model, best[1], train_curve, val_curve)
