"""The text encoder: `tokenizer.json` + an ONNX graph that returns one pooled vector per prompt."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from routerkit.artifacts import EncoderManifest, read_manifest, verify_files
from routerkit.errors import BackendError
from routerkit.runtime.session import Device, create_session

if TYPE_CHECKING:
    import onnxruntime
    from tokenizers import Tokenizer

__all__ = ["Encoder"]

Matrix = npt.NDArray[np.float32]


class Encoder:
    """Embeds prompts with a verified encoder artifact.

    Prompts are truncated to `manifest.tokenizer.max_length` tokens (the head of the prompt is kept,
    as sentence-transformers does) and each batch is padded to its longest prompt. The graph is
    batch-invariant: a prompt gets the same vector alone or inside any batch.

    Args:
        directory: the artifact folder (`manifest.json`, the `.onnx` file, `tokenizer.json`).
        device: see `routerkit.runtime.create_session`.
        threads: intra-op threads (None: all cores).
    """

    def __init__(self, directory: Path, *, device: Device = "cpu", threads: int | None = None):
        manifest = read_manifest(directory, EncoderManifest)
        assert isinstance(manifest, EncoderManifest)  # read_manifest returns the schema it was given
        verify_files(directory, manifest.files)
        self.manifest = manifest
        self.directory = directory
        self.device: Device = device
        self.threads = threads
        self._tokenizer: Tokenizer | None = None
        self._session: onnxruntime.InferenceSession | None = None

    @property
    def dim(self) -> int:
        """Width of the embeddings."""
        return self.manifest.dim

    @property
    def sha256(self) -> str:
        """sha256 of the ONNX file, which router heads pin."""
        return self.manifest.files[self.manifest.model_file].sha256

    def tokenizer(self) -> Tokenizer:
        """The configured tokenizer (truncation to `max_length`, padding to the longest prompt)."""
        if self._tokenizer is None:
            from tokenizers import Tokenizer

            settings = self.manifest.tokenizer
            tokenizer = Tokenizer.from_file(str(self.directory / self.manifest.tokenizer_file))
            # The shipped tokenizer.json pads to a fixed 128 and truncates at 128: override both.
            tokenizer.enable_truncation(max_length=settings.max_length)
            tokenizer.enable_padding(pad_id=settings.pad_id, pad_token=settings.pad_token)
            self._tokenizer = tokenizer
        return self._tokenizer

    def session(self) -> onnxruntime.InferenceSession:
        """The onnxruntime session, created on first use."""
        if self._session is None:
            self._session = create_session(
                self.directory / self.manifest.model_file, device=self.device, threads=self.threads
            )
        return self._session

    def embed(self, texts: Sequence[str], *, batch_size: int = 64) -> Matrix:
        """Return `float32[len(texts), dim]` embeddings.

        Prompts are sorted by length and embedded `batch_size` at a time (less padding, same
        vectors), then put back in the caller's order.
        """
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            out[chunk] = self._embed_batch([texts[i] for i in chunk])
        return out

    def _embed_batch(self, texts: list[str]) -> Matrix:
        encodings = self.tokenizer().encode_batch(texts)
        feeds = {
            "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
        }
        try:
            (vectors,) = self.session().run([self.manifest.output], feeds)
        except Exception as exc:  # onnxruntime's errors are untyped; translate at this boundary
            raise BackendError(f"The encoder {self.manifest.name!r} failed: {exc}") from exc
        return np.asarray(vectors, dtype=np.float32)
