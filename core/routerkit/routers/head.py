"""`HeadRouter`: a many-model router whose scores are an ONNX head over the prompt embedding.

The kinds `knn`, `embedllm` and `zooter` differ in how their head is trained, not in how it runs: the
packaged encoder embeds the prompt, and the head (`manifest.head_file`, input `manifest.head_input`,
output `manifest.head_output`) maps `float32[n, dim]` embeddings to `float[n, n_models]` scores, one
column per model of `manifest.models`, in that order (predicted quality: P(correct) for `knn` and
`embedllm`, a softmax share for `zooter`). `models=` restricts the candidates to a subset (the
"allowed models" constraint); the default policy comes from the manifest.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from routerkit.artifacts import ModelEntry, RouterManifest, check_encoder, verify_files
from routerkit.errors import BackendError, ConfigError, UnknownNameError
from routerkit.routers.base import Router, Scores
from routerkit.routers.mf import default_policy_of
from routerkit.runtime.encoder import Encoder
from routerkit.runtime.session import Device, create_session

if TYPE_CHECKING:
    import onnxruntime

__all__ = ["HeadRouter"]


class HeadRouter(Router):
    """Many-model router: encoder → ONNX head → one score per model.

    Args:
        directory: the artifact folder (manifest + head `.onnx`), verified by sha256.
        manifest: its validated manifest.
        encoder: the encoder the head was trained on (its sha256 must match the manifest).
        models: the candidates a decision may choose, a subset of the manifest's models (default: all).
        device, threads: see `routerkit.runtime.create_session`.

    Raises:
        ArtifactError: if a file fails verification or the encoder is not the one trained on.
        UnknownNameError: if `models` names a model the head does not score.
        ConfigError: if `models` is empty or repeats a model.
    """

    def __init__(
        self,
        directory: Path,
        manifest: RouterManifest,
        encoder: Encoder,
        *,
        models: Sequence[str] | None = None,
        device: Device = "cpu",
        threads: int | None = None,
    ) -> None:
        verify_files(directory, manifest.files)
        check_encoder(manifest, encoder.sha256)
        chosen = _candidates(manifest, models)
        super().__init__(
            name=manifest.name,
            version=manifest.version,
            candidates=chosen,
            default_policy=default_policy_of(manifest),
            pairwise=False,
        )
        self.manifest = manifest
        self.encoder = encoder
        self._head_path = directory / manifest.head_file
        self._columns = [manifest.models.index(m) for m in chosen]
        self._device: Device = device
        self._threads = threads
        self._session: onnxruntime.InferenceSession | None = None

    def fingerprint(self) -> str:
        """Cache key: the head's and the encoder's sha256 and the candidates."""
        head = self.manifest.files[self.manifest.head_file].sha256
        return f"{super().fingerprint()}:head={head}:encoder={self.encoder.sha256}"

    def head(self) -> onnxruntime.InferenceSession:
        """The head's onnxruntime session, created on first use."""
        if self._session is None:
            self._session = create_session(self._head_path, device=self._device, threads=self._threads)
        return self._session

    def scores_of_embeddings(self, embeddings: np.ndarray) -> Scores:
        """Scores of every manifest model for precomputed embeddings: `float64[n, n_models]`.

        Useful in evaluation, where one set of embeddings serves many routers.
        """
        feed = {self.manifest.head_input: np.ascontiguousarray(embeddings, dtype=np.float32)}
        try:
            (out,) = self.head().run([self.manifest.head_output], feed)
        except Exception as exc:  # onnxruntime's errors are untyped; translate at this boundary
            raise BackendError(f"The head of router {self.name!r} failed: {exc}") from exc
        return np.asarray(out, dtype=np.float64)

    def _score_texts(self, texts: list[str]) -> Scores:
        return self.scores_of_embeddings(self.encoder.embed(texts))[:, self._columns]


def _candidates(manifest: RouterManifest, models: Sequence[str] | None) -> list[ModelEntry]:
    """The manifest's models, or the named subset of them in the order given."""
    if models is None:
        return list(manifest.models)
    if isinstance(models, str):
        raise ConfigError(f"`models` must be a list of model names, got the string {models!r}; wrap it in a list.")
    names = list(models)
    if not names:
        raise ConfigError("`models` is empty: name at least one model the router may choose, or pass None for all.")
    if len(set(names)) != len(names):
        raise ConfigError(f"`models` repeats a model: {names!r}. Name each model once.")
    by_name = {m.name: m for m in manifest.models}
    for name in names:
        if name not in by_name:
            raise UnknownNameError("model", name, by_name, f"Router {manifest.name!r} scores only these models.")
    return [by_name[name] for name in names]
