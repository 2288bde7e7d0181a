"""The fitting half of `routerkit adapt`: the labelled sample, the soft targets and the combiner.

The combiner is a logistic regression of "the strong model is better" on the first k principal
components of the prompt embedding (computed on all the domain's prompts: texts only, no labels), the
logit of the base router's score and the log prompt length. k and the L2 penalty are chosen by 5-fold
cross-validation *within the sample*; nothing outside it is labelled or looked at. The criterion is the
out-of-fold correlation of the predicted P(strong wins) with the target inside each task group,
averaged over the groups with equal weight: routing quality is judged within a task group, where the
between-group differences a pooled log loss rewards do not help (on `routellm` it beat the pooled log
loss on both groups). Without task groups (`groups=None`) the criterion is the out-of-fold log loss.

Ties: the target is (s − w + 1) / 2 for the strong and weak scores s, w in [0, 1], a soft label. On 0/1
outcomes a strong win is 1, a weak win 0 and a tie ½, so the fitted probability ranks prompts by the
expected gain s − w of calling the strong model, which is what the cost–quality curve rewards.

numpy only; `Combiner` folds centring, projection and standardisation into one weight per raw feature.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["COMPONENTS", "FOLDS", "PENALTIES", "Combiner", "draw_sample", "fit_combiner", "logloss", "soft_targets"]

Matrix = npt.NDArray[np.float64]
Rows = npt.NDArray[np.intp]

COMPONENTS = (0, 2, 4, 8, 16, 32, 64)
"""Principal components of the embedding tried (0: base score and length only)."""
PENALTIES = (1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1000.0)
"""L2 penalties tried, on standardised features (the intercept is not penalised)."""
FOLDS = 5
"""Cross-validation folds within the sample."""
BASE_PENALTY = 1.0
"""L2 penalty on the standardised base-score and length features (see `_logistic`)."""


@dataclass(frozen=True)
class Combiner:
    """A fitted logistic combiner, folded into raw features: P = σ(features · `weights` + `bias`)."""

    weights: Matrix
    """One weight per raw feature: the embedding dimensions, logit(base score), log(1 + characters)."""
    bias: float
    components: int
    """Principal components of the embedding kept (chosen by in-sample cross-validation)."""
    penalty: float
    """L2 penalty (chosen by in-sample cross-validation)."""
    cv_criterion: float
    """The cross-validation criterion of the chosen setting (lower is better; see the module docstring)."""
    cv_predictions: Matrix
    """Out-of-fold P(strong wins) of each sample prompt under the chosen setting."""

    def predict(self, features: Matrix) -> Matrix:
        """P(strong wins) for raw feature rows (`routerkit.routers.adapted.adapted_features`)."""
        return _sigmoid(np.asarray(features, dtype=np.float64) @ self.weights + self.bias)


def soft_targets(strong: Matrix, weak: Matrix) -> Matrix:
    """(s − w + 1) / 2: 1 for a strong win, 0 for a weak win, ½ for a tie (see the module docstring)."""
    return (np.asarray(strong, dtype=np.float64) - np.asarray(weak, dtype=np.float64) + 1.0) / 2.0


def draw_sample(groups: list[str], labelled: Rows, share: float, seed: int) -> Rows:
    """A seeded sample of `floor(share · len(labelled))` rows of `labelled`, stratified by group.

    Each group gets its proportional quota (largest remainders settle the rounding), drawn uniformly
    without replacement. Returns the sampled row indices, sorted.
    """
    rng = np.random.default_rng(seed)
    total = int(np.floor(share * len(labelled)))
    names = sorted({groups[i] for i in labelled})
    members = {g: np.array([i for i in labelled if groups[i] == g], dtype=np.intp) for g in names}
    exact = np.array([share * len(members[g]) for g in names])
    quota = np.floor(exact).astype(int)
    for extra in np.argsort(-(exact - quota), kind="stable")[: total - int(quota.sum())]:
        quota[extra] += 1
    picked = [rng.choice(members[g], size=q, replace=False) for g, q in zip(names, quota, strict=True) if q]
    return np.sort(np.concatenate(picked)).astype(np.intp) if picked else np.empty(0, dtype=np.intp)


def fit_combiner(
    features: Matrix, targets: Matrix, reference: Matrix, *, groups: list[str] | None = None, seed: int = 0
) -> Combiner:
    """Fit the combiner on labelled sample rows, choosing k and the penalty by in-sample CV.

    Args:
        features: `adapted_features` rows of the sample: `[embedding (d), logit(base), log length]`.
        targets: `soft_targets` of the sample, in [0, 1].
        reference: embeddings of the domain's prompts (unlabelled) for the principal components.
        groups: the task group of each sample prompt (for the criterion), or None.
        seed: seeds the cross-validation folds.
    """
    dim = features.shape[1] - 2
    centre = reference.mean(axis=0)
    # Rows of vt are the principal directions of the domain's prompts, strongest first.
    _, _, vt = np.linalg.svd(reference - centre, full_matrices=False)
    folds = np.random.default_rng(seed).permutation(len(targets)) % FOLDS
    best: tuple[float, int, float, Matrix] | None = None
    for k in (c for c in COMPONENTS if c <= min(dim, len(vt))):
        design = _design(features, centre, vt[:k])
        for penalty in PENALTIES:
            oof = _out_of_fold(design, targets, penalty, folds)
            loss = _criterion(oof, targets, groups)
            if best is None or loss < best[0] - 1e-12:
                best = (loss, k, penalty, oof)
    assert best is not None  # COMPONENTS starts with 0
    loss, k, penalty, oof = best
    weights, bias = _fold(features, targets, centre, vt[:k], penalty)
    return Combiner(weights, bias, k, penalty, loss, oof)


def _criterion(oof: Matrix, targets: Matrix, groups: list[str] | None) -> float:
    """Minus the mean within-group correlation of the predictions with the targets (or the log loss)."""
    if groups is None:
        return logloss(oof, targets)
    names = np.array(groups)
    values = []
    for g in sorted(set(groups)):
        m = names == g
        if m.sum() > 2 and np.ptp(targets[m]) > 0 and np.ptp(oof[m]) > 0:
            values.append(np.corrcoef(oof[m], targets[m])[0, 1])
    return -float(np.mean(values)) if values else logloss(oof, targets)


def _design(features: Matrix, centre: Matrix, basis: Matrix) -> Matrix:
    """[principal components of the embedding, logit(base), log length] (not yet standardised)."""
    emb = features[:, :-2]
    return np.hstack([(emb - centre) @ basis.T, features[:, -2:]])


def _out_of_fold(design: Matrix, targets: Matrix, penalty: float, folds: npt.NDArray[np.int64]) -> Matrix:
    oof = np.empty(len(targets))
    for fold in range(FOLDS):
        held = folds == fold
        if not held.any():
            continue
        mean, scale = _standardiser(design[~held])
        w, b = _logistic((design[~held] - mean) / scale, targets[~held], penalty)
        oof[held] = _sigmoid((design[held] - mean) / scale @ w + b)
    return oof


def _fold(features: Matrix, targets: Matrix, centre: Matrix, basis: Matrix, penalty: float) -> tuple[Matrix, float]:
    """Fit on the whole sample, then fold centring, projection and standardisation into raw weights."""
    design = _design(features, centre, basis)
    mean, scale = _standardiser(design)
    w, b = _logistic((design - mean) / scale, targets, penalty)
    w_scaled = w / scale
    k = len(basis)
    emb_weights = basis.T @ w_scaled[:k]
    bias = b - float(w_scaled @ mean) - float(centre @ emb_weights)
    return np.concatenate([emb_weights, w_scaled[k:]]), bias


def _standardiser(design: Matrix) -> tuple[Matrix, Matrix]:
    scale = design.std(axis=0)
    return design.mean(axis=0), np.where(scale > 1e-9, scale, 1.0)


def _logistic(x: Matrix, y: Matrix, penalty: float, iterations: int = 50) -> tuple[Matrix, float]:
    """L2-penalised logistic regression with soft labels by Newton's method (intercept unpenalised)."""
    design = np.hstack([np.ones((len(x), 1)), x])
    # The embedding's components get the chosen penalty; the base score and the length, two strong
    # priors, only a light one (they stay in the model unless the sample contradicts them).
    diagonal = np.full(design.shape[1], penalty)
    diagonal[-2:] = min(penalty, BASE_PENALTY)
    diagonal[0] = 1e-8  # the intercept; keeps the Hessian invertible when every label is equal
    ridge = np.diag(diagonal)
    theta = np.zeros(design.shape[1])
    for _ in range(iterations):
        p = _sigmoid(design @ theta)
        gradient = design.T @ (p - y) + ridge @ theta
        hessian = (design * (p * (1 - p))[:, None]).T @ design + ridge
        step = np.linalg.solve(hessian, gradient)
        theta -= step
        if np.abs(step).max() < 1e-8:
            break
    return theta[1:], float(theta[0])


def logloss(p: Matrix, y: Matrix) -> float:
    """Mean soft-label log loss of predictions `p` against targets `y` in [0, 1]."""
    p = np.clip(p, 1e-12, 1 - 1e-12)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def _sigmoid(z: Matrix) -> Matrix:
    return np.asarray(1.0 / (1.0 + np.exp(-np.clip(z, -500, 500))), dtype=np.float64)
