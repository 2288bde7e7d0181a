"""Prompt embeddings for training and evaluation, cached on disk by encoder sha256."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from routerkit._env import cache_dir
from routerkit.data.format import OutcomeTable
from routerkit.runtime.encoder import Encoder

__all__ = ["embed_cached", "table_embeddings"]


def embed_cached(encoder: Encoder, texts: Sequence[str], *, cache: Path | None = None) -> npt.NDArray[np.float32]:
    """Embed `texts`, reusing vectors cached for this exact encoder file.

    The cache is one `.npz` per (encoder sha256, set of texts) under `cache` (default:
    `routerkit._env.cache_dir() / "embeddings"`); the encoder is batch-invariant, so a cached vector
    equals a fresh one.
    """
    digest = hashlib.sha256()
    for text in texts:
        digest.update(hashlib.sha256(text.encode()).digest())
    folder = (cache or cache_dir() / "embeddings") / encoder.sha256[:16]
    path = folder / f"{digest.hexdigest()[:32]}.npy"
    if path.is_file():
        return np.asarray(np.load(path), dtype=np.float32)
    vectors = encoder.embed(list(texts))
    folder.mkdir(parents=True, exist_ok=True)
    np.save(path, vectors)
    return vectors


def table_embeddings(encoder: Encoder, table: OutcomeTable, *, cache: Path | None = None) -> npt.NDArray[np.float32]:
    """Embeddings of every prompt of `table`, row-aligned with `table.prompts` (cached like `embed_cached`).

    One cache entry per dataset serves every router trained or evaluated on it, whatever subset it uses.
    """
    return embed_cached(encoder, [prompt.text for prompt in table.prompts], cache=cache)
