"""Train EmbedLLM's matrix factorisation over a many-model correctness matrix, in torch.

Model (EmbedLLM, §4.3, with our encoder in place of all-mpnet-base-v2): the prompt tower
φ(e) = P e + c projects a sentence embedding to `dim`; each model has an embedding v_m and a bias b_m;
P(model m answers prompt q correctly) = σ(⟨φ(e_q), v_m⟩ + b_m). The paper's decoder, a linear
classifier over v_m ⊙ φ(e) with two logits, is this form with the classifier weights folded into v_m
and a shared bias; the per-model bias lets each model's base rate live outside the embedding.
Training minimises the BCE of the observed (prompt, model) cells (missing cells are masked); the
embedding width is chosen on validation, like the paper's Table 1.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from routerkit.data import OutcomeTable
from routerkit.errors import ConfigError
from routerkit.train._torch import require

torch: Any = require("torch")

__all__ = [
    "EmbedLLMHyperparameters",
    "EmbedLLMModel",
    "EmbedLLMResult",
    "correctness_labels",
    "fit_embedllm",
    "fit_embedllm_tuned",
    "predict",
]

Matrix = npt.NDArray[np.float32]


class EmbedLLMHyperparameters(BaseModel):
    """Optimisation settings; `dims` are the embedding widths tried, the best by validation loss is kept."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    dims: tuple[int, ...] = Field((16, 32, 64), min_length=1)
    """Model-embedding widths to try (the paper tunes this on validation)."""
    dropout: float = Field(0.1, ge=0.0, lt=1.0)
    """Dropout on the projected prompt during training."""
    lr: float = Field(3e-3, gt=0.0)
    weight_decay: float = Field(1e-4, ge=0.0)
    batch_size: int = Field(256, gt=0)
    """Prompts per step (each with all its observed models)."""
    max_epochs: int = Field(60, gt=0)
    patience: int = Field(5, gt=0)
    """Stop after this many epochs without a better validation loss; the best epoch is kept."""
    seed: int = 0


class EmbedLLMModel(torch.nn.Module):  # type: ignore[misc]
    """Prompt tower + model embeddings: sentence embedding → correctness logit of each model."""

    def __init__(self, n_models: int, dim: int, embedding_dim: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.tower = torch.nn.Linear(embedding_dim, dim)
        self.models = torch.nn.Embedding(n_models, dim)
        self.bias = torch.nn.Parameter(torch.zeros(n_models))
        self.dropout = torch.nn.Dropout(dropout)
        torch.nn.init.normal_(self.models.weight, std=dim**-0.5)

    def features(self, embeddings: Any) -> Any:
        """The prompt tower φ(e): `float[B, embedding_dim]` → `float[B, dim]`."""
        return self.tower(embeddings)

    def forward(self, embeddings: Any) -> Any:
        """Logits `float[B, n_models]` (apply a sigmoid for P(correct))."""
        return self.dropout(self.features(embeddings)) @ self.models.weight.T + self.bias

    def arrays(self) -> dict[str, Matrix]:
        """The weights as numpy: `tower_w [embedding_dim, dim]`, `tower_b`, `models [n, dim]`, `bias`."""
        with torch.no_grad():
            return {
                "tower_w": self.tower.weight.T.contiguous().numpy().astype(np.float32),
                "tower_b": self.tower.bias.numpy().astype(np.float32),
                "models": self.models.weight.numpy().astype(np.float32),
                "bias": self.bias.numpy().astype(np.float32),
            }


@dataclass(frozen=True)
class EmbedLLMResult:
    """A trained model, its chosen width and learning curve."""

    model: EmbedLLMModel
    dim: int
    best_epoch: int
    val_loss: float
    curve: list[float]


def correctness_labels(table: OutcomeTable, rows: Sequence[int] | npt.NDArray[np.intp]) -> Matrix:
    """`float32[len(rows), n_models]`: 1 where `score ≥ 0.5`, 0 below, NaN where the cell is missing."""
    scores = table.scores[np.asarray(rows, dtype=np.intp)]
    labels = (scores >= 0.5).astype(np.float32)
    labels[np.isnan(scores)] = np.nan
    return labels


def predict(model: EmbedLLMModel, embeddings: Matrix) -> npt.NDArray[np.float64]:
    """P(correct) of every model for each embedding: `float64[n, n_models]`."""
    model.eval()
    with torch.no_grad():
        probs: npt.NDArray[np.float64] = torch.sigmoid(model(torch.from_numpy(embeddings))).numpy().astype(np.float64)
    return probs


def _masked_bce(logits: Any, labels: Any) -> tuple[Any, Any]:
    """Summed BCE over observed cells, and their count."""
    observed = ~torch.isnan(labels)
    loss = torch.nn.functional.binary_cross_entropy_with_logits(logits[observed], labels[observed], reduction="sum")
    return loss, observed.sum()


def _val_loss(model: EmbedLLMModel, emb: Any, labels: Any) -> float:
    model.eval()
    with torch.no_grad():
        loss, count = _masked_bce(model(emb), labels)
    return float(loss) / max(int(count), 1)


def _check(emb: Matrix, labels: Matrix, what: str) -> None:
    if emb.ndim != 2 or labels.ndim != 2 or emb.shape[0] != labels.shape[0]:
        raise ConfigError(
            f"{what}: embeddings {emb.shape!r} and labels {labels.shape!r} must be 2-D with one row per prompt."
        )
    if not np.any(~np.isnan(labels)):
        raise ConfigError(f"{what}: every correctness label is missing; there is nothing to train or tune on.")


def fit_embedllm(
    train: tuple[Matrix, Matrix],
    val: tuple[Matrix, Matrix],
    hp: EmbedLLMHyperparameters,
    dim: int,
    *,
    on_epoch: Callable[[int, float], None] | None = None,
) -> EmbedLLMResult:
    """Train one width with Adam and early stopping on the validation BCE.

    Args:
        train, val: `(embeddings float32[n, e], labels float32[n, n_models])` (labels from
            `correctness_labels`, NaN = missing).
        hp: hyperparameters.
        dim: the embedding width.
        on_epoch: called with (epoch, val loss) after each epoch (progress display).

    Raises:
        ConfigError: if shapes disagree or a split has no label.
    """
    _check(*train, "train")
    _check(*val, "val")
    if train[1].shape[1] != val[1].shape[1]:
        raise ConfigError(f"train has {train[1].shape[1]} models but val has {val[1].shape[1]}; use one model list.")
    torch.manual_seed(hp.seed)
    generator = torch.Generator().manual_seed(hp.seed)
    model = EmbedLLMModel(train[1].shape[1], dim, train[0].shape[1], hp.dropout)
    optimiser = torch.optim.AdamW(model.parameters(), lr=hp.lr, weight_decay=hp.weight_decay)
    t_emb, t_lab = torch.from_numpy(train[0]), torch.from_numpy(train[1])
    v_emb, v_lab = torch.from_numpy(val[0]), torch.from_numpy(val[1])
    best = (float("inf"), 0, model.state_dict())
    curve: list[float] = []
    for epoch in range(1, hp.max_epochs + 1):
        model.train()
        order = torch.randperm(t_emb.shape[0], generator=generator)
        for start in range(0, t_emb.shape[0], hp.batch_size):
            index = order[start : start + hp.batch_size]
            loss, count = _masked_bce(model(t_emb[index]), t_lab[index])
            optimiser.zero_grad()
            (loss / count.clamp(min=1)).backward()
            optimiser.step()
        curve.append(_val_loss(model, v_emb, v_lab))
        if on_epoch is not None:
            on_epoch(epoch, curve[-1])
        if curve[-1] < best[0]:
            best = (curve[-1], epoch, {k: v.clone() for k, v in model.state_dict().items()})
        elif epoch - best[1] >= hp.patience:
            break
    model.load_state_dict(best[2])
    model.eval()
    return EmbedLLMResult(model, dim, best[1], best[0], curve)


def fit_embedllm_tuned(
    train: tuple[Matrix, Matrix],
    val: tuple[Matrix, Matrix],
    hp: EmbedLLMHyperparameters,
    *,
    log: Callable[[str], None] | None = None,
) -> EmbedLLMResult:
    """Train every width in `hp.dims` and keep the one with the lowest validation BCE."""
    best: EmbedLLMResult | None = None
    for dim in hp.dims:
        result = fit_embedllm(train, val, hp, dim)
        if log is not None:
            log(f"dim {dim:3d}: best epoch {result.best_epoch:3d}, val BCE {result.val_loss:.4f}")
        if best is None or result.val_loss < best.val_loss:
            best = result
    assert best is not None  # hp.dims has at least one entry (validated)
    return best
