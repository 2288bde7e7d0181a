"""Add a new model to a trained EmbedLLM head from its answers on a few probe prompts, without retraining.

Everything trained stays frozen: the prompt tower φ(e) = e W + c and the other models' embeddings.
The new model's embedding v and bias b are the MAP estimate of a logistic regression
y ~ Bernoulli(σ(⟨φ(e), v⟩ + b)) over the probes, under a Gaussian prior fitted to the trained models'
(v, b): with 10 probes a plain regression over `dim` + 1 weights would be hopeless, but "a new model
looks like the models we know" is a strong, honest prior. Solved by Newton's method (the objective is
strictly convex), in numpy: nothing here needs torch. `add_model` writes a copy of a built `embedllm`
artifact with the new model appended.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from routerkit.artifacts import FileEntry, ModelEntry, RouterManifest, read_manifest, verify_files
from routerkit.errors import ConfigError
from routerkit.train.embedllm_head import head_arrays, write_head

__all__ = ["ModelPrior", "add_model", "fit_new_model", "tower_features"]

Array = npt.NDArray[np.float64]


@dataclass(frozen=True)
class ModelPrior:
    """Gaussian prior over a model's (v, b): mean and precision, fitted to trained models."""

    mean: Array
    precision: Array

    @classmethod
    def from_models(
        cls,
        models: npt.ArrayLike,
        bias: npt.ArrayLike,
        *,
        shrinkage: float = 0.5,
        strength: float = 1.0,
        bias_inflation: float = 1.0,
    ) -> ModelPrior:
        """Fit the prior to trained model embeddings `models [n, dim]` and biases `bias [n]`.

        Args:
            shrinkage: the covariance is `(1 − shrinkage)·S + shrinkage·diag(S)`, because a full covariance
                estimated from a few dozen models is rank-deficient.
            strength: multiplies the precision (> 1 trusts the prior more than the probes).
            bias_inflation: multiplies the bias's prior variance (its covariances by the square root, so
                correlations are kept): a new model's base rate is what a few probes measure best, and
                a population of a handful of models says little about how far it can lie.

        Raises:
            ConfigError: with fewer than 2 models or mismatched shapes.
        """
        theta = np.column_stack([np.asarray(models, dtype=np.float64), np.asarray(bias, dtype=np.float64)])
        if theta.shape[0] < 2 or theta.ndim != 2:
            raise ConfigError(
                f"A model prior needs at least 2 trained models, got {theta.shape[0]}; train on more models."
            )
        if not 0.0 <= shrinkage <= 1.0 or strength <= 0 or bias_inflation <= 0:
            raise ConfigError(
                f"shrinkage must be in [0, 1], strength and bias_inflation > 0; got {shrinkage!r}, {strength!r}, "
                f"{bias_inflation!r}."
            )
        cov = np.cov(theta, rowvar=False)
        cov = (1.0 - shrinkage) * cov + shrinkage * np.diag(np.diag(cov))
        cov[-1, :] *= np.sqrt(bias_inflation)
        cov[:, -1] *= np.sqrt(bias_inflation)
        cov += 1e-6 * np.eye(cov.shape[0])  # keeps a zero-variance coordinate invertible
        return cls(mean=theta.mean(axis=0), precision=strength * np.linalg.inv(cov).astype(np.float64))


def tower_features(arrays: dict[str, npt.NDArray[np.float32]], embeddings: npt.ArrayLike) -> Array:
    """The frozen prompt tower φ(e) = e W + c of a head's arrays (`head_arrays` or `EmbedLLMModel.arrays`)."""
    emb = np.asarray(embeddings, dtype=np.float64)
    return emb @ arrays["tower_w"].astype(np.float64) + arrays["tower_b"].astype(np.float64)


def fit_new_model(
    features: npt.ArrayLike, labels: npt.ArrayLike, prior: ModelPrior, *, iterations: int = 50
) -> tuple[Array, float]:
    """MAP (v, b) of a new model from its probe answers.

    Args:
        features: `φ(e)` of the probe prompts, `[k, dim]` (`tower_features`).
        labels: the model's correctness on them, `[k]` in [0, 1] (1 = correct).
        prior: the prior over (v, b), from the trained models.
        iterations: Newton steps at most (it converges in a handful).

    Returns:
        `(v [dim], b)`: score a prompt as σ(⟨φ(e), v⟩ + b).

    Raises:
        ConfigError: for no probes, mismatched shapes, or labels outside [0, 1] (NaN included).
    """
    x, y = _checked(features, labels, prior)
    design = np.column_stack([x, np.ones(len(y))])
    theta = prior.mean.copy()
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-(design @ theta)))
        gradient = design.T @ (p - y) + prior.precision @ (theta - prior.mean)
        hessian = (design * (p * (1.0 - p))[:, None]).T @ design + prior.precision
        step = np.linalg.solve(hessian, gradient)
        theta -= step
        if float(np.max(np.abs(step))) < 1e-8:
            break
    return theta[:-1], float(theta[-1])


def _checked(features: npt.ArrayLike, labels: npt.ArrayLike, prior: ModelPrior) -> tuple[Array, Array]:
    x = np.asarray(features, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    if x.ndim != 2 or y.ndim != 1 or x.shape[0] != y.shape[0] or x.shape[0] == 0:
        raise ConfigError(
            f"Probe features {x.shape!r} and labels {y.shape!r} must be [k, dim] and [k] with k ≥ 1 probes."
        )
    if x.shape[1] + 1 != prior.mean.shape[0]:
        raise ConfigError(
            f"Probe features have width {x.shape[1]} but the prior is over {prior.mean.shape[0] - 1}-d models; "
            "compute them with `tower_features` of the same head."
        )
    if not np.all((y >= 0.0) & (y <= 1.0)):
        raise ConfigError(f"Probe labels must be in [0, 1] (1 = correct) with no NaN, got {y[:10]!r}.")
    return x, y


def add_model(
    directory: Path,
    out: Path,
    entry: ModelEntry,
    embeddings: npt.ArrayLike,
    labels: npt.ArrayLike,
    *,
    strength: float = 1.0,
    bias_inflation: float = 1.0,
) -> RouterManifest:
    """Copy the `embedllm` artifact at `directory` to `out` with one more model, fitted from its probe answers.

    Args:
        directory: a built `embedllm` artifact (manifest + head), verified by sha256.
        out: the folder to write (not `directory`: the original stays as it was).
        entry: the new model's name and prices (`ModelEntry`).
        embeddings: the probe prompts embedded by the artifact's encoder, `[k, dim]`
            (`routerkit.load(name).encoder.embed(texts)`).
        labels: the new model's correctness on them, `[k]` in [0, 1].
        strength, bias_inflation: the prior, see `ModelPrior.from_models`.

    Returns:
        The new manifest (also written to `out`); load the router with `HeadRouter(out, manifest, encoder)`.

    Raises:
        ConfigError: if the artifact is not `embedllm`, the model is already scored, `out` is `directory`,
            or the probes are malformed (see `fit_new_model`).
    """
    manifest = _embedllm_manifest(directory)
    if entry.name in {m.name for m in manifest.models}:
        raise ConfigError(f"Router {manifest.name!r} already scores {entry.name!r}; give the new model another name.")
    if out.resolve() == directory.resolve():
        raise ConfigError(f"`out` is the source artifact {str(directory)!r}; write the extended copy elsewhere.")
    arrays = head_arrays(directory / manifest.head_file)
    prior = ModelPrior.from_models(arrays["models"], arrays["bias"], strength=strength, bias_inflation=bias_inflation)
    y = np.asarray(labels, dtype=np.float64)
    v, b = fit_new_model(tower_features(arrays, embeddings), y, prior)
    extended = {
        **arrays,
        "models": np.vstack([arrays["models"], v[None, :]]).astype(np.float32),
        "bias": np.append(arrays["bias"], b).astype(np.float32),
    }
    out.mkdir(parents=True, exist_ok=True)
    head = out / manifest.head_file
    write_head(extended, head, input_name=manifest.head_input, output_name=manifest.head_output)
    probes = {"k": float(len(y)), "probe_base_rate": round(float(y.mean()), 4)}
    updated = manifest.model_copy(
        update={
            "files": {manifest.head_file: FileEntry.of(head)},
            "models": (*manifest.models, entry),
            "description": f"{manifest.description} Model {entry.name!r} added from {len(y)} probe prompts "
            "onto the frozen head (routerkit.train.embedllm_probes.add_model).",
            "metrics": {**manifest.metrics, f"probes/{entry.name}": probes},
        }
    )
    (out / "manifest.json").write_text(updated.model_dump_json(indent=2) + "\n", encoding="utf-8")
    return updated


def _embedllm_manifest(directory: Path) -> RouterManifest:
    manifest = read_manifest(directory, RouterManifest)
    assert isinstance(manifest, RouterManifest)  # read_manifest returns the schema it was given
    verify_files(directory, manifest.files)
    if manifest.kind != "embedllm":
        raise ConfigError(
            f"{str(directory)!r} is a {manifest.kind!r} router; only `embedllm` heads can take a model from probes."
        )
    return manifest
