"""`adapted`: a strong/weak router refitted to a target domain from a small labelled sample.

`routerkit adapt` (`routerkit.train.adapt`) fits a logistic combiner of cheap features on a few labelled
prompts of the user's domain: the prompt embedding (through a few principal components of the domain's
own prompts), the logit of a base strong/weak router's score, and the log prompt length. The combiner is
linear in `[embedding, logit(base score), log(1 + characters)]`, so the artifact's ONNX head is one
MatMul + Add + Sigmoid over those features, returning P(strong beats weak).

The artifact names its base router (a registered name or a folder) and records the base's fingerprint:
loading fails if the base has changed since the fit. It also lists the labelled prompts' ids
(`sample_ids.json`), which an honest evaluation must leave out.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from routerkit.artifacts import RouterManifest, check_encoder, verify_files
from routerkit.errors import ArtifactError, BackendError, ConfigError
from routerkit.routers.base import Router, Scores
from routerkit.routers.mf import default_policy_of
from routerkit.runtime.encoder import Encoder
from routerkit.runtime.session import Device, create_session

if TYPE_CHECKING:
    import onnxruntime

__all__ = ["SAMPLE_FILE", "AdaptedRouter", "adapted_features", "base_logit", "read_sample_ids"]

SAMPLE_FILE = "sample_ids.json"
"""The artifact file listing the dataset and the ids of the labelled prompts the combiner was fitted on."""
_CLIP = 1e-6
"""Base scores are clipped to [1e-6, 1 − 1e-6] before the logit, so a saturated base stays finite."""


def base_logit(scores: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """logit of a base router's P(strong wins), clipped so that 0 and 1 stay finite."""
    p = np.clip(np.asarray(scores, dtype=np.float64).reshape(-1), _CLIP, 1.0 - _CLIP)
    return np.log(p / (1.0 - p))


def adapted_features(
    embeddings: npt.ArrayLike, base_scores: npt.ArrayLike, texts: list[str]
) -> npt.NDArray[np.float64]:
    """The head's input: `[embedding, logit(base score), log(1 + characters)]`, one row per prompt."""
    emb = np.asarray(embeddings, dtype=np.float64)
    length = np.log1p(np.array([len(t) for t in texts], dtype=np.float64))
    return np.hstack([emb, base_logit(base_scores)[:, None], length[:, None]])


class AdaptedRouter(Router):
    """Strong/weak router: a base router's score refitted to a domain with a few labelled prompts.

    Args:
        directory: the artifact folder written by `routerkit adapt`, verified by sha256.
        manifest: its validated manifest (`kind: "adapted"`).
        encoder: the encoder the combiner was fitted on (its sha256 must match the manifest).
        strong, weak: accepted for symmetry with the other strong/weak kinds; must name the fitted pair.
        device, threads: see `routerkit.runtime.create_session`; also used to load the base router.

    Attributes:
        base: the base strong/weak router whose score is one of the features.
        sample_ids: ids of the labelled prompts of the fit (leave them out of any evaluation).

    Raises:
        ArtifactError: if a file fails verification, the encoder differs, or the base router is missing or
            is no longer the one the combiner was fitted on.
        ConfigError: if `strong`/`weak` name another pair than the one the combiner was fitted for.
    """

    def __init__(
        self,
        directory: Path,
        manifest: RouterManifest,
        encoder: Encoder,
        *,
        strong: str | None = None,
        weak: str | None = None,
        device: Device = "cpu",
        threads: int | None = None,
    ) -> None:
        verify_files(directory, manifest.files)
        check_encoder(manifest, encoder.sha256)
        if manifest.roles is None:
            raise ArtifactError(f"Router {manifest.name!r} declares no strong/weak roles in its manifest.")
        if (strong or manifest.roles.strong, weak or manifest.roles.weak) != (
            manifest.roles.strong,
            manifest.roles.weak,
        ):
            raise ConfigError(
                f"Router {manifest.name!r} was adapted for {manifest.roles.strong!r} vs {manifest.roles.weak!r}, "
                f"not {strong!r} vs {weak!r}. Run `routerkit adapt --strong ... --weak ...` for that pair."
            )
        by_name = {m.name: m for m in manifest.models}
        super().__init__(
            name=manifest.name,
            version=manifest.version,
            candidates=[by_name[manifest.roles.strong], by_name[manifest.roles.weak]],
            default_policy=default_policy_of(manifest),
            pairwise=True,
        )
        self.manifest = manifest
        self.encoder = encoder
        self.base = _load_base(manifest, device, threads)
        self.sample_ids = read_sample_ids(directory)
        self._head_path = directory / manifest.head_file
        self._device: Device = device
        self._threads = threads
        self._session: onnxruntime.InferenceSession | None = None

    def fingerprint(self) -> str:
        """Cache key: the head's and the encoder's sha256 and the base router's fingerprint."""
        head = self.manifest.files[self.manifest.head_file].sha256
        return f"{super().fingerprint()}:head={head}:encoder={self.encoder.sha256}:base={self.base.fingerprint()}"

    def head(self) -> onnxruntime.InferenceSession:
        """The head's onnxruntime session, created on first use."""
        if self._session is None:
            self._session = create_session(self._head_path, device=self._device, threads=self._threads)
        return self._session

    def scores_of_features(self, features: npt.ArrayLike) -> Scores:
        """P(strong wins) for precomputed `adapted_features` rows: `float64[n, 1]` (for evaluation)."""
        feed = {self.manifest.head_input: np.ascontiguousarray(features, dtype=np.float32)}
        try:
            (out,) = self.head().run([self.manifest.head_output], feed)
        except Exception as exc:  # onnxruntime's errors are untyped; translate at this boundary
            raise BackendError(f"The head of router {self.name!r} failed: {exc}") from exc
        return np.asarray(out, dtype=np.float64).reshape(-1, 1)

    def _score_texts(self, texts: list[str]) -> Scores:
        base = self.base.scores(texts)[:, 0]
        return self.scores_of_features(adapted_features(self.encoder.embed(texts), base, texts))


def read_sample_ids(directory: Path) -> frozenset[str]:
    """The ids of the labelled prompts an adapted artifact was fitted on (from `sample_ids.json`)."""
    path = Path(directory) / SAMPLE_FILE
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        return frozenset(str(i) for i in record["ids"])
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise ArtifactError(
            f"{str(path)!r} is missing or malformed ({exc}); rewrite the artifact with `routerkit adapt`."
        ) from exc


def _load_base(manifest: RouterManifest, device: Device, threads: int | None) -> Router:
    from routerkit.errors import RouterkitError
    from routerkit.routers.registry import load

    hyper = manifest.training.hyperparameters
    name, expected = str(hyper.get("base_router", "")), str(hyper.get("base_fingerprint", ""))
    assert manifest.roles is not None  # checked by the caller
    try:
        base = load(name, device=device, threads=threads, strong=manifest.roles.strong, weak=manifest.roles.weak)
    except RouterkitError as exc:
        raise ArtifactError(
            f"Router {manifest.name!r} adapts the base router {name!r}, which cannot be loaded: {exc}"
        ) from exc
    if base.fingerprint() != expected:
        raise ArtifactError(
            f"Router {manifest.name!r} was fitted on base router {name!r} with fingerprint {expected!r}, but the "
            f"installed one has {base.fingerprint()!r}. Run `routerkit adapt` again on the current base router."
        )
    return base
