"""`mf`: RouteLLM's matrix-factorisation router on the packaged encoder, run by onnxruntime.

The head computes, for every model m it was trained on, the Bradley–Terry strength
δ(m, q) = wᵀ(P̂_m ⊙ W e_q) of the prompt embedding e_q; the router's score for a pair is
σ(δ(strong, q) − δ(weak, q)) — the probability that the strong model beats the weak one.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from routerkit.artifacts import ModelEntry, RouterManifest, check_encoder, verify_files
from routerkit.errors import ArtifactError, BackendError, UnknownNameError
from routerkit.routers.base import Router, Scores
from routerkit.routers.policies import CostAware, Policy, Threshold
from routerkit.runtime.encoder import Encoder
from routerkit.runtime.session import Device, create_session

if TYPE_CHECKING:
    import onnxruntime

__all__ = ["MFRouter", "default_policy_of"]


def default_policy_of(manifest: RouterManifest) -> Policy:
    """The policy a manifest declares as default."""
    spec = manifest.default_policy
    return Threshold(spec.value) if spec.kind == "threshold" else CostAware(spec.value)


class MFRouter(Router):
    """Strong/weak router over any pair of the models an `mf` artifact was trained on.

    Args:
        directory: the artifact folder (manifest + head `.onnx`), verified by sha256.
        manifest: its validated manifest.
        encoder: the encoder the head was trained on (its sha256 must match the manifest).
        strong, weak: the pair to route between (default: the manifest's roles).
        device, threads: see `routerkit.runtime.create_session`.
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
        roles = manifest.roles
        if roles is None:
            raise ArtifactError(f"Router {manifest.name!r} declares no strong/weak roles in its manifest.")
        by_name = {m.name: m for m in manifest.models}
        pair = [self._model(by_name, strong or roles.strong), self._model(by_name, weak or roles.weak)]
        super().__init__(
            name=manifest.name,
            version=manifest.version,
            candidates=pair,
            default_policy=default_policy_of(manifest),
            pairwise=True,
        )
        self.manifest = manifest
        self.encoder = encoder
        self._head_path = directory / manifest.head_file
        self._columns = [manifest.models.index(m) for m in pair]
        self._device: Device = device
        self._threads = threads
        self._session: onnxruntime.InferenceSession | None = None

    @staticmethod
    def _model(by_name: dict[str, ModelEntry], name: str) -> ModelEntry:
        if name not in by_name:
            raise UnknownNameError("model", name, by_name, "An `mf` router can route between any two of these models.")
        return by_name[name]

    def fingerprint(self) -> str:
        """Cache key: the head's and the encoder's sha256 and the routed pair."""
        head = self.manifest.files[self.manifest.head_file].sha256
        return f"{super().fingerprint()}:head={head}:encoder={self.encoder.sha256}"

    def strengths(self, texts: list[str]) -> Scores:
        """Bradley–Terry strength of every trained model: `float64[len(texts), n_models]`."""
        embeddings = self.encoder.embed(texts)
        try:
            (out,) = self.head().run([self.manifest.head_output], {self.manifest.head_input: embeddings})
        except Exception as exc:  # onnxruntime's errors are untyped; translate at this boundary
            raise BackendError(f"The head of router {self.name!r} failed: {exc}") from exc
        return np.asarray(out, dtype=np.float64)

    def head(self) -> onnxruntime.InferenceSession:
        """The head's onnxruntime session, created on first use."""
        if self._session is None:
            self._session = create_session(self._head_path, device=self._device, threads=self._threads)
        return self._session

    def _score_texts(self, texts: list[str]) -> Scores:
        delta = self.strengths(texts)
        gap = delta[:, self._columns[0]] - delta[:, self._columns[1]]
        return (1.0 / (1.0 + np.exp(-gap))).reshape(-1, 1)
