"""`routerkit adapt`: refit a strong/weak router to a target domain from a small labelled sample.

A router trained on other data can rank a new domain's prompts poorly (on `routellm` no label-free
router beats prompt length). `adapt_router` draws a seeded sample of at most 5% of the domain's
labelled prompts (stratified by task group), fits the combiner of `routerkit.train.adapt_fit` on it
(logistic on [embedding principal components, logit(base score), log length], settings by
cross-validation within the sample) and writes an `adapted` artifact: the combiner is linear in
`[embedding, logit(base score), log length]`, so its head is one ONNX MatMul + Add + Sigmoid built with
`onnx.helper` (no torch), checked against the numpy combiner; the sample's prompt ids go to
`sample_ids.json` so that evaluation can leave them out.
"""

from __future__ import annotations

import json
import platform
import re
from collections.abc import Callable
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
)
from routerkit.data.format import OutcomeTable, load_dataset
from routerkit.errors import ConfigError
from routerkit.eval.metrics import summarize, threshold_sweep
from routerkit.routers.adapted import SAMPLE_FILE, adapted_features
from routerkit.routers.base import Router
from routerkit.routers.registry import load, load_encoder
from routerkit.train.adapt_fit import COMPONENTS, FOLDS, Combiner, draw_sample, fit_combiner, logloss, soft_targets
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
    values = {"logloss": round(logloss(combiner.cv_predictions, targets), 5), "prompts": float(len(s))}
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

    files = {f: FileEntry.of(out / f) for f in (HEAD_FILE, SAMPLE_FILE)}
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
