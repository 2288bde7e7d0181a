"""`routerkit adapt`: refit a strong/weak router to a target domain from a small labelled sample.

A router trained on other data can rank a new domain's prompts poorly (on `routellm` no label-free
router beats prompt length). `adapt_router` draws a seeded sample of at most 5% of the domain's
labelled prompts (stratified by task group), and fits a logistic combiner that predicts "the strong
model is better" from cheap features: the logit of the base router's score, the log prompt length and
the first k principal components of the prompt embedding. The principal components are computed on the
embeddings of *all* the domain's prompts (texts only, no labels: a transductive but label-free use of
the unlabelled traffic). k and the L2 penalty are chosen by 5-fold cross-validation *within the sample*;
nothing outside the sample is labelled or looked at. The criterion is the out-of-fold correlation of
the predicted P(strong wins) with the target inside each task group, averaged over the groups with equal
weight: routing quality is judged within a task group, where the between-group differences a pooled
log loss rewards do not help (on `routellm` it beat the pooled log loss on both groups). Without task
groups (`groups=None`) the criterion is the out-of-fold log loss.

Ties: the target is (s − w + 1) / 2 for the strong and weak scores s, w in [0, 1], a soft label. On 0/1
outcomes a strong win is 1, a weak win 0 and a tie ½, so the fitted probability ranks prompts by the
expected gain s − w of calling the strong model, which is what the cost–quality curve rewards.

Everything here is numpy and `onnx.helper` (no torch); the combiner is linear in
`[embedding, logit(base score), log length]`, so the head is MatMul + Add + Sigmoid.
"""

from __future__ import annotations

import json
import platform
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from routerkit.artifacts import (
    NAME_PATTERN,
    EncoderRef,
    FileEntry,
    PolicySpec,
    Roles,
    RouterManifest,
    TrainingData,
    sha256_of,
)
from routerkit.data.format import OutcomeTable, load_dataset
from routerkit.errors import ConfigError
from routerkit.eval.metrics import summarize, threshold_sweep
from routerkit.routers.adapted import SAMPLE_FILE, adapted_features
from routerkit.routers.base import Router
from routerkit.routers.registry import load, load_encoder
from routerkit.train.embeddings import table_embeddings
from routerkit.train.manifest import model_entries

__all__ = [
    "COMPONENTS",
    "MAX_SHARE",
    "MIN_SAMPLE",
    "Combiner",
    "adapt_router",
    "draw_sample",
    "fit_combiner",
    "soft_targets",
    "write_head",
]

Matrix = npt.NDArray[np.float64]
Rows = npt.NDArray[np.intp]
Log = Callable[[str], None]

MAX_SHARE = 0.05
"""Largest sample share accepted without `allow_larger_sample` (the issue's "≤ 5% of the prompts")."""
MIN_SAMPLE = 20
"""Fewest labelled prompts a fit accepts: below that the cross-validation means nothing."""
COMPONENTS = (0, 2, 4, 8, 16, 32, 64)
"""Principal components of the embedding tried (0: base score and length only)."""
PENALTIES = (1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1000.0)
"""L2 penalties tried, on standardised features (the intercept is not penalised)."""
FOLDS = 5
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
        return _logloss(oof, targets)
    names = np.array(groups)
    values = []
    for g in sorted(set(groups)):
        m = names == g
        if m.sum() > 2 and np.ptp(targets[m]) > 0 and np.ptp(oof[m]) > 0:
            values.append(np.corrcoef(oof[m], targets[m])[0, 1])
    return -float(np.mean(values)) if values else _logloss(oof, targets)


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


def _logloss(p: Matrix, y: Matrix) -> float:
    p = np.clip(p, 1e-12, 1 - 1e-12)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def _sigmoid(z: Matrix) -> Matrix:
    return np.asarray(1.0 / (1.0 + np.exp(-np.clip(z, -500, 500))), dtype=np.float64)


def sample_record(table: OutcomeTable, rows: Rows, path: Path) -> None:
    """Write the dataset name and the sampled prompt ids (evaluation must leave them out)."""
    record = {"dataset": table.name, "ids": [table.prompts[i].id for i in rows]}
    path.write_text(json.dumps(record, indent=0) + "\n", encoding="utf-8")


HEAD_FILE, HEAD_INPUT, HEAD_OUTPUT = "head.onnx", "features", "p_strong"
OPSET = 17


def write_head(path: Path, combiner: Combiner) -> None:
    """The combiner as ONNX: `features float32[n, d + 2]` → `p_strong float32[n, 1]` (MatMul, Add, Sigmoid)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    width = len(combiner.weights)
    weights = numpy_helper.from_array(combiner.weights.reshape(-1, 1).astype(np.float32), "weights")
    bias = numpy_helper.from_array(np.array([combiner.bias], dtype=np.float32), "bias")
    nodes = [
        helper.make_node("MatMul", [HEAD_INPUT, "weights"], ["logit"]),
        helper.make_node("Add", ["logit", "bias"], ["shifted"]),
        helper.make_node("Sigmoid", ["shifted"], [HEAD_OUTPUT]),
    ]
    graph = helper.make_graph(
        nodes,
        "routerkit_adapted",
        [helper.make_tensor_value_info(HEAD_INPUT, TensorProto.FLOAT, ["batch", width])],
        [helper.make_tensor_value_info(HEAD_OUTPUT, TensorProto.FLOAT, ["batch", 1])],
        initializer=[weights, bias],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="routerkit")
    onnx.checker.check_model(model)
    onnx.save(model, path)


def adapt_router(
    router: str | Path,
    data: str | Path,
    out: Path,
    *,
    share: float = MAX_SHARE,
    seed: int = 0,
    strong: str | None = None,
    weak: str | None = None,
    allow_larger_sample: bool = False,
    log: Log = print,
) -> RouterManifest:
    """Fit an `adapted` router on a labelled sample of `data` and write it to `out`.

    Args:
        router: the base strong/weak router: a registered name (`mf`, `length`) or an artifact folder.
        data: the target domain: a dataset name or folder in the outcome format (its `split` is ignored:
            the sample is the only labelled part used).
        out: the artifact folder to write; its name (`[a-z0-9_]+`) is the router's name.
        share: the largest share of the labelled prompts to sample (at most `MAX_SHARE`).
        seed: seeds the sample and the cross-validation folds.
        strong, weak: the pair (default: the base router's).
        allow_larger_sample: accept a `share` above `MAX_SHARE`.
        log: receives progress lines.

    Returns:
        The manifest written to `out/manifest.json`.

    Raises:
        ConfigError: for a bad share or folder name, a many-model base router, too few labelled prompts.
        UnknownNameError: for an unknown router or a model the data has no outcomes for.
    """
    _check_share(share, allow_larger_sample)
    name = Path(out).name
    if not re.match(NAME_PATTERN, name):
        raise ConfigError(f"The artifact folder's name {name!r} is the router's name and must match [a-z0-9_]+.")
    base, reference = _base_router(router, strong, weak)
    table = load_dataset(data)
    s, w = table.column(base.strong), table.column(base.weak)
    labelled = np.flatnonzero(~np.isnan(s) & ~np.isnan(w)).astype(np.intp)
    rows = draw_sample([p.task_group for p in table.prompts], labelled, share, seed)
    _check_sample(table, base, labelled, rows, share, soft_targets(s[rows], w[rows]))
    log(f"adapting {base.name!r} ({base.strong} vs {base.weak}) on {len(rows)} of {len(labelled)} labelled prompts")
    encoder = load_encoder("minilm_l6")
    embeddings = table_embeddings(encoder, table).astype(np.float64)
    texts = [table.prompts[i].text for i in rows]
    features = adapted_features(embeddings[rows], base.scores(texts)[:, 0], texts)
    groups = [table.prompts[i].task_group for i in rows]
    combiner = fit_combiner(features, soft_targets(s[rows], w[rows]), embeddings, groups=groups, seed=seed)
    log(f"chosen by {FOLDS}-fold CV in the sample: {combiner.components} components, penalty {combiner.penalty:g}")
    out.mkdir(parents=True, exist_ok=True)
    write_head(out / HEAD_FILE, combiner)
    sample_record(table, rows, out / SAMPLE_FILE)
    fitted = _check_parity(out / HEAD_FILE, combiner, features, log)
    manifest = _manifest(name, out, table, base, reference, encoder.sha256, combiner, fitted, rows, labelled)
    hyper = {**manifest.training.hyperparameters, "sample_share": share, "seed": seed}
    manifest = manifest.model_copy(
        update={
            "training": manifest.training.model_copy(update={"hyperparameters": hyper}),
            "metrics": _cv_metrics(table.name, combiner, s[rows], w[rows]),
        }
    )
    (out / "manifest.json").write_text(manifest.model_dump_json(indent=2) + "\n", encoding="utf-8")
    return manifest


def _check_share(share: float, allow_larger_sample: bool) -> None:
    if not 0.0 < share <= 1.0:
        raise ConfigError(f"`share` must be a fraction in (0, 1], got {share!r} (e.g. 0.05 for 5% of the prompts).")
    if share > MAX_SHARE and not allow_larger_sample:
        raise ConfigError(
            f"A sample share of {share!r} is above {MAX_SHARE}: adaptation is meant for a small labelled sample. "
            "Pass `--allow-larger-sample` (`allow_larger_sample=True`) if you mean it, or lower `--sample`."
        )


def _base_router(router: str | Path, strong: str | None, weak: str | None) -> tuple[Router, str]:
    """The base router (pair options passed through) and the reference its artifact records."""
    options: dict[str, Any] = {key: value for key, value in (("strong", strong), ("weak", weak)) if value is not None}
    base = load(router, **options)
    if not base.pairwise:
        raise ConfigError(
            f"Router {base.name!r} scores many models; `routerkit adapt` needs a strong/weak router "
            "(e.g. `mf`, `sw`, `length`)."
        )
    folder = isinstance(router, Path) or "/" in router or "\\" in router
    return base, str(Path(router).resolve()) if folder else str(router)


def _check_sample(table: OutcomeTable, base: Router, labelled: Rows, rows: Rows, share: float, targets: Matrix) -> None:
    if len(labelled) == 0:
        raise ConfigError(
            f"Dataset {table.name!r} has no prompt with outcomes for both {base.strong!r} and {base.weak!r}; "
            "label some prompts with both models, or pick the pair with `--strong`/`--weak`."
        )
    if len(rows) < MIN_SAMPLE:
        raise ConfigError(
            f"A share of {share!r} of the {len(labelled)} labelled prompts of {table.name!r} gives {len(rows)} "
            f"prompts; adaptation needs at least {MIN_SAMPLE}. Raise `--sample` or label more prompts."
        )
    if np.ptp(targets) == 0:
        raise ConfigError(
            f"Every sampled prompt of {table.name!r} has the same outcome for {base.strong!r} vs {base.weak!r}; "
            "there is nothing to learn. Try another `--seed` or a larger `--sample`."
        )


def _check_parity(head: Path, combiner: Combiner, features: Matrix, log: Log) -> Matrix:
    """The ONNX head against the numpy combiner on the sample; returns the head's predictions."""
    from routerkit.runtime.session import create_session

    session = create_session(head, device="cpu", threads=1)
    (onnx_p,) = session.run([HEAD_OUTPUT], {HEAD_INPUT: features.astype(np.float32)})
    diff = float(np.abs(np.asarray(onnx_p, dtype=np.float64)[:, 0] - combiner.predict(features)).max())
    log(f"ONNX head vs numpy: max abs diff {diff:.2e}")
    if diff > 1e-4:
        raise RuntimeError(f"The exported head differs from the fitted combiner by {diff:.2e} (> 1e-4).")
    return np.asarray(onnx_p, dtype=np.float64)[:, 0]


def _cv_metrics(dataset: str, combiner: Combiner, s: Matrix, w: Matrix) -> dict[str, dict[str, float]]:
    """Out-of-fold numbers on the sample (the only honest numbers the fit itself can give)."""
    targets = soft_targets(s, w)
    values = {"logloss": round(_logloss(combiner.cv_predictions, targets), 5), "prompts": float(len(s))}
    if float(np.mean(s)) != float(np.mean(w)):
        values["apgr"] = round(summarize(threshold_sweep(combiner.cv_predictions, s, w), s, w).apgr, 5)
    return {f"{dataset}/sample_cv": values}


def _manifest(
    name: str,
    out: Path,
    table: OutcomeTable,
    base: Router,
    reference: str,
    encoder_sha256: str,
    combiner: Combiner,
    fitted: Matrix,
    rows: Rows,
    labelled: Rows,
) -> RouterManifest:
    import routerkit

    files = {f: FileEntry(sha256=sha256_of(out / f), bytes=(out / f).stat().st_size) for f in (HEAD_FILE, SAMPLE_FILE)}
    return RouterManifest(
        name=name,
        kind="adapted",
        version="0.1.0",
        status="experimental",
        description=(
            f"{base.name} adapted to {table.name} from {len(rows)} labelled prompts (`routerkit adapt`); "
            f"settings chosen by {FOLDS}-fold cross-validation within the sample, whose ids are in {SAMPLE_FILE}."
        ),
        encoder=EncoderRef(name="minilm_l6", sha256=encoder_sha256),
        files=files,
        head_file=HEAD_FILE,
        head_input=HEAD_INPUT,
        head_output=HEAD_OUTPUT,
        models=model_entries([base.strong, base.weak], [table]),
        roles=Roles(strong=base.strong, weak=base.weak),
        # Half of the sample above the threshold: the router sends about half the domain's calls strong.
        default_policy=PolicySpec(kind="threshold", value=round(float(np.median(fitted)), 6)),
        training=TrainingData(
            datasets={table.name: {"sample": len(rows), "labelled": len(labelled), "prompts": len(table)}},
            recipe="core/routerkit/train/adapt.py",
            hyperparameters={
                "base_router": reference,
                "base_fingerprint": base.fingerprint(),
                "components": combiner.components,
                "penalty": combiner.penalty,
                "tuned_by": f"{FOLDS}-fold cross-validation within the sample",
                "python": platform.python_version(),
            },
        ),
        metrics={},
        licence="as the adapted data's",
        routerkit_version=routerkit.__version__,
        min_core_version="0.1.0",
    )
