"""`sw`: RouteLLM's similarity-weighted (SW) ranking router, vectorised over a batch of queries.

RouteLLM (`SWRankingRouter`) refits, for every request, a Bradley–Terry (Elo) model on all stored
training battles, each weighted by how similar its prompt is to the query:
`w_i = γ^(1 + sim_i / max_j sim_j)` with γ = 10 (code: `10 * 10 ** (sim / max_sim)`; an artifact built
here records its own γ, chosen on validation battles, in its manifest); models are first
grouped into tiers by their global Elo, and the score is P(strong's tier beats weak's tier). It runs
sklearn's `LogisticRegression` on ~165k duplicated battle rows per request (2.9 req/s reported).

Here the fit is the same estimator, computed in a different order:

1. The Bradley–Terry likelihood depends on the battles only through the weighted tier-vs-tier win
   matrix `C[a, b] = Σ_i w_i [tier(winner_i) = a, tier(loser_i) = b]`, and `w_i` depends on the query
   only through the similarity of battle i's prompt. So the build step sums the battles of each prompt
   into a `T×T` matrix `W_p`, and per query `C = Σ_p γ^(sim_p / m) W_p` (`m` = the query's max
   similarity) — one MatMul. The ONNX head does the cosine similarities, the weights and that sum.
2. A Newton fit of the tier ratings on `C`, for all queries of the batch at once (`fit_bradley_terry`).

The constant factor γ of RouteLLM's weight cancels in an unpenalised fit; the head uses
`γ^((sim − max) / m)` (the same weights divided by γ^(1 + max/m)), which cannot overflow or underflow.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from routerkit.artifacts import ModelEntry, RouterManifest, check_encoder, verify_files
from routerkit.errors import ArtifactError, BackendError, ConfigError, UnknownNameError
from routerkit.routers.base import Router, Scores
from routerkit.routers.mf import default_policy_of
from routerkit.runtime.encoder import Encoder
from routerkit.runtime.session import Device, create_session

if TYPE_CHECKING:
    import onnxruntime

__all__ = ["TIERS_FILE", "SWRouter", "SWTiers", "fit_bradley_terry"]

TIERS_FILE = "tiers.json"
_RIDGE = 1e-9
"""Relative L2 penalty on the ratings: keeps each Newton system invertible without moving the fit."""
_MAX_STEP = 4.0
"""Largest change of one rating per Newton step (a safeguard far from the optimum)."""

Ratings = npt.NDArray[np.float64]


class SWTiers(BaseModel):
    """The tier file of an `sw` artifact: which tier each model is in, and where the fit starts."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    tier_of: dict[str, int]
    """Tier index of each model of the manifest (0 = strongest by global Elo)."""
    start: tuple[float, ...] = Field(min_length=2)
    """Tier ratings of the unweighted global fit: the starting point of every per-query fit."""
    iterations: int = Field(gt=0)
    """Newton steps per query (the same for every query, so a score never depends on its batch)."""


def fit_bradley_terry(wins: npt.ArrayLike, start: npt.ArrayLike, *, iterations: int = 12) -> Ratings:
    """Weighted Bradley–Terry ratings for a batch of win matrices, by Newton's method.

    Maximises `Σ_ab C[a, b] · log σ(θ_a − θ_b)` for each matrix separately (all of the batch in one
    set of array operations), with a vanishing ridge so that a tier without comparisons stays finite.
    `σ(θ_a − θ_b)` is RouteLLM's `1 / (1 + 10^((R_b − R_a) / 400))` with `R = 1000 + 400 θ / ln 10`.

    Args:
        wins: `[n, T, T]` (or `[T, T]`) weighted wins of row tier over column tier.
        start: `[T]` initial ratings (e.g. the global fit).
        iterations: Newton steps.

    Returns:
        `float64[n, T]` ratings, centred to mean 0.
    """
    c = np.asarray(wins, dtype=np.float64)
    c = c[None] if c.ndim == 2 else c
    n, t = c.shape[0], c.shape[1]
    theta = np.broadcast_to(np.asarray(start, dtype=np.float64), (n, t)).copy()
    games = c + c.transpose(0, 2, 1)
    ridge = (_RIDGE * games.sum(axis=(1, 2)) + 1e-12)[:, None]
    eye = np.eye(t)
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(theta[:, None, :] - theta[:, :, None]))  # p[a, b] = σ(θ_a − θ_b)
        grad = (c - games * p).sum(axis=2) - ridge * theta
        info = games * p * (1.0 - p)
        hessian = info - eye * info.sum(axis=2)[:, :, None] - eye * ridge[:, :, None]
        step = np.linalg.solve(hessian, grad[:, :, None])[:, :, 0]
        theta -= np.clip(step, -_MAX_STEP, _MAX_STEP)
    centred: Ratings = theta - theta.mean(axis=1, keepdims=True)
    return centred


def read_tiers(directory: Path, manifest: RouterManifest) -> SWTiers:
    """Read and check the tier file against the manifest's models."""
    path = directory / TIERS_FILE
    try:
        tiers = SWTiers.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, json.JSONDecodeError, ValidationError) as exc:
        raise ArtifactError(f"Tier file {str(path)!r} is unreadable or invalid: {exc}. Rebuild the artifact.") from exc
    names = {m.name for m in manifest.models}
    bad = [f"{k}={v}" for k, v in tiers.tier_of.items() if not 0 <= v < len(tiers.start)]
    if set(tiers.tier_of) != names or bad:
        raise ArtifactError(
            f"Tier file {str(path)!r} does not match the manifest's models (out-of-range tiers: {bad}). "
            "Rebuild the artifact (`make models`)."
        )
    return tiers


class SWRouter(Router):
    """Strong/weak similarity-weighted ranking router over any two models of different tiers.

    Args:
        directory: the artifact folder (manifest, similarity head `.onnx`, `tiers.json`), verified by sha256.
        manifest: its validated manifest.
        encoder: the encoder the stored prompt embeddings come from (its sha256 must match the manifest).
        strong, weak: the pair to route between (default: the manifest's roles).
        device, threads: see `routerkit.runtime.create_session`.

    Raises:
        ArtifactError: for a file failing verification, a different encoder, or a missing tier file.
        UnknownNameError: for a model the artifact has no battles of.
        ConfigError: for two models of the same tier (their score would be 0.5 for every prompt).
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
        if TIERS_FILE not in manifest.files:
            raise ArtifactError(f"Router {manifest.name!r} lists no {TIERS_FILE!r}; it is not an `sw` artifact.")
        check_encoder(manifest, encoder.sha256)
        if manifest.roles is None:
            raise ArtifactError(f"Router {manifest.name!r} declares no strong/weak roles in its manifest.")
        self.tiers = read_tiers(directory, manifest)
        pair = self._pair(manifest, strong or manifest.roles.strong, weak or manifest.roles.weak)
        super().__init__(
            name=manifest.name,
            version=manifest.version,
            candidates=pair,
            default_policy=default_policy_of(manifest),
            pairwise=True,
        )
        self.manifest = manifest
        self.encoder = encoder
        self._tier_pair = (self.tiers.tier_of[pair[0].name], self.tiers.tier_of[pair[1].name])
        self._head_path = directory / manifest.head_file
        self._device: Device = device
        self._threads = threads
        self._session: onnxruntime.InferenceSession | None = None

    def _pair(self, manifest: RouterManifest, strong: str, weak: str) -> list[ModelEntry]:
        by_name = {m.name: m for m in manifest.models}
        for name in (strong, weak):
            if name not in by_name:
                raise UnknownNameError("model", name, by_name, "An `sw` router can route between these models.")
        tier = self.tiers.tier_of
        if tier[strong] == tier[weak]:
            same = sorted(m for m, t in tier.items() if t == tier[strong])
            raise ConfigError(
                f"{strong!r} and {weak!r} are both in tier {tier[strong]} of router {manifest.name!r}, so "
                f"their score would be 0.5 for every prompt. Pick a pair from different tiers (tier "
                f"{tier[strong]}: {', '.join(same)}), or use the `mf` router."
            )
        return [by_name[strong], by_name[weak]]

    def fingerprint(self) -> str:
        """Cache key: the head's, the tier file's and the encoder's sha256 and the routed pair."""
        head = self.manifest.files[self.manifest.head_file].sha256
        tiers = self.manifest.files[TIERS_FILE].sha256
        return f"{super().fingerprint()}:head={head}:tiers={tiers}:encoder={self.encoder.sha256}"

    def head(self) -> onnxruntime.InferenceSession:
        """The similarity head's onnxruntime session, created on first use."""
        if self._session is None:
            self._session = create_session(self._head_path, device=self._device, threads=self._threads)
        return self._session

    def tier_wins(self, embeddings: np.ndarray) -> Ratings:
        """Similarity-weighted tier-vs-tier wins for precomputed embeddings: `float64[n, T, T]`."""
        feed = {self.manifest.head_input: np.ascontiguousarray(embeddings, dtype=np.float32)}
        try:
            (out,) = self.head().run([self.manifest.head_output], feed)
        except Exception as exc:  # onnxruntime's errors are untyped; translate at this boundary
            raise BackendError(f"The similarity head of router {self.name!r} failed: {exc}") from exc
        t = len(self.tiers.start)
        return np.asarray(out, dtype=np.float64).reshape(-1, t, t)

    def ratings_of_embeddings(self, embeddings: np.ndarray) -> Ratings:
        """Per-query tier ratings (natural-log Bradley–Terry scale): `float64[n, T]`."""
        return fit_bradley_terry(self.tier_wins(embeddings), self.tiers.start, iterations=self.tiers.iterations)

    def scores_of_embeddings(self, embeddings: np.ndarray) -> Scores:
        """P(strong beats weak) for precomputed embeddings: `float64[n, 1]`."""
        theta = self.ratings_of_embeddings(embeddings)
        gap = theta[:, self._tier_pair[0]] - theta[:, self._tier_pair[1]]
        return (1.0 / (1.0 + np.exp(-gap))).reshape(-1, 1)

    def _score_texts(self, texts: list[str]) -> Scores:
        return self.scores_of_embeddings(self.encoder.embed(texts))
