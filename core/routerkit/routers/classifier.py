"""`classifier`: RouteLLM's "bert" router — a fine-tuned encoder + 3-way head in one ONNX graph.

The artifact's graph takes `input_ids` and `attention_mask` (int64 `[B, S]`, the packaged encoder's
tokenizer, truncated to the artifact's own `max_length` and padded to the longest prompt) and returns
`probs` `float[B, 3]`: P(strong better), P(tie), P(weak better). The score is P(strong better), as
RouteLLM's `BERTRouter` computes it (`1 − (p_tie + p_weak)`): a tie means the weak model is good
enough, so it does not count towards calling the strong one.

The graph is static (QDQ) int8, so a prompt's score does not depend on the rest of its batch.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from routerkit.artifacts import ModelEntry, RouterManifest, check_encoder, verify_files
from routerkit.errors import ArtifactError, BackendError, UnknownNameError
from routerkit.routers.base import Router, Scores
from routerkit.routers.mf import default_policy_of
from routerkit.runtime.encoder import Encoder
from routerkit.runtime.session import Device, create_session

if TYPE_CHECKING:
    import onnxruntime
    from tokenizers import Tokenizer

__all__ = ["SPEC_FILE", "ClassifierRouter", "ClassifierSpec", "make_tokenizer"]

SPEC_FILE = "classifier.json"


class ClassifierSpec(BaseModel):
    """The artifact's tokenizer length and label order (`classifier.json`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    max_length: int = Field(gt=0)
    """Tokens kept per prompt (its head), as in training."""
    labels: tuple[str, str, str] = ("strong_better", "tie", "weak_better")


def make_tokenizer(encoder: Encoder, max_length: int) -> Tokenizer:
    """The encoder's `tokenizer.json`, truncated to `max_length` and padded to the longest prompt."""
    from tokenizers import Tokenizer

    settings = encoder.manifest.tokenizer
    tokenizer = Tokenizer.from_file(str(encoder.directory / encoder.manifest.tokenizer_file))
    # The shipped file pads to a fixed 128 (notes/encoder.md §4.1): always override both settings.
    tokenizer.enable_truncation(max_length=max_length)
    tokenizer.enable_padding(pad_id=settings.pad_id, pad_token=settings.pad_token)
    return tokenizer


class ClassifierRouter(Router):
    """Strong/weak router scoring P(strong better) with a fused classifier graph.

    Args:
        directory: the artifact folder (manifest, `classifier.onnx`, `classifier.json`), verified by sha256.
        manifest: its validated manifest (roles name the strong and weak model).
        encoder: the encoder whose tokenizer the graph was trained with (sha256 must match).
        strong, weak: the pair to route between, any two of the manifest's models (default: its roles);
            the score is the same for every pair (the head learned tiers, not models).
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
        if manifest.roles is None:
            raise ArtifactError(f"Router {manifest.name!r} declares no strong/weak roles in its manifest.")
        by_name = {m.name: m for m in manifest.models}
        # The head was trained on strong-tier vs weak-tier outcomes, so its score does not depend on which
        # two of the manifest's models are routed between: `strong`/`weak` only name the candidates.
        pair = [_model(by_name, strong or manifest.roles.strong), _model(by_name, weak or manifest.roles.weak)]
        super().__init__(
            name=manifest.name,
            version=manifest.version,
            candidates=pair,
            default_policy=default_policy_of(manifest),
            pairwise=True,
        )
        self.manifest = manifest
        self.encoder = encoder
        self.spec = _read_spec(directory / SPEC_FILE)
        self._graph_path = directory / manifest.head_file
        self._device: Device = device
        self._threads = threads
        self._tokenizer: Tokenizer | None = None
        self._session: onnxruntime.InferenceSession | None = None

    def fingerprint(self) -> str:
        """Cache key: the graph's and the tokenizer's encoder sha256."""
        graph = self.manifest.files[self.manifest.head_file].sha256
        return f"{super().fingerprint()}:graph={graph}:encoder={self.encoder.sha256}"

    def tokenizer(self) -> Tokenizer:
        """The configured tokenizer, created on first use."""
        if self._tokenizer is None:
            self._tokenizer = make_tokenizer(self.encoder, self.spec.max_length)
        return self._tokenizer

    def session(self) -> onnxruntime.InferenceSession:
        """The graph's onnxruntime session, created on first use."""
        if self._session is None:
            self._session = create_session(self._graph_path, device=self._device, threads=self._threads)
        return self._session

    def probabilities(self, texts: list[str], *, batch_size: int = 64) -> Scores:
        """`float64[len(texts), 3]` label probabilities in `spec.labels` order.

        Prompts are sorted by length and run `batch_size` at a time (less padding, same values).
        """
        out = np.empty((len(texts), len(self.spec.labels)), dtype=np.float64)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            out[chunk] = self._run([texts[i] for i in chunk])
        return out

    def _run(self, texts: list[str]) -> Scores:
        encodings = self.tokenizer().encode_batch(texts)
        feeds = {
            "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
        }
        try:
            (probs,) = self.session().run([self.manifest.head_output], feeds)
        except Exception as exc:  # onnxruntime's errors are untyped; translate at this boundary
            raise BackendError(f"The graph of router {self.name!r} failed: {exc}") from exc
        return np.asarray(probs, dtype=np.float64)

    def _score_texts(self, texts: list[str]) -> Scores:
        return self.probabilities(texts)[:, :1]


def _model(by_name: dict[str, ModelEntry], name: str) -> ModelEntry:
    if name not in by_name:
        raise UnknownNameError(
            "model", name, by_name, "A `classifier` router can route between any two of these models."
        )
    return by_name[name]


def _read_spec(path: Path) -> ClassifierSpec:
    try:
        return ClassifierSpec.model_validate_json(path.read_text(encoding="utf-8"))
    except (OSError, ValidationError) as exc:
        raise ArtifactError(f"Classifier spec {str(path)!r} is missing or invalid: {exc}") from exc
