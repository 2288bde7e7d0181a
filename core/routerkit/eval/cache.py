"""Router scores cached on disk, keyed by the router's fingerprint and the prompts."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from routerkit._env import cache_dir
from routerkit.routers.base import Router

__all__ = ["cached_scores"]

_CHUNK = 512


def cached_scores(
    router: Router, texts: Sequence[str], *, cache: Path | None = None, progress: bool = True
) -> npt.NDArray[np.float64]:
    """`router.scores(texts)`, read from or written to the cache (`ROUTERKIT_CACHE_DIR/scores`).

    Scores are computed in chunks with a progress bar (when `tqdm` is installed and `progress`).
    """
    digest = hashlib.sha256(router.fingerprint().encode())
    for text in texts:
        digest.update(hashlib.sha256(text.encode()).digest())
    path = (cache or cache_dir() / "scores") / f"{router.name}-{digest.hexdigest()[:32]}.npy"
    if path.is_file():
        return np.asarray(np.load(path), dtype=np.float64)
    chunks = range(0, len(texts), _CHUNK)
    bar = _progress(chunks, f"scoring with {router.name!r}", progress and len(texts) > _CHUNK)
    scores = np.concatenate([router.scores(list(texts[i : i + _CHUNK])) for i in bar])
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, scores)
    return scores


def _progress(items: range, description: str, enabled: bool) -> range:
    if not enabled:
        return items
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return items
    return tqdm(items, desc=description, unit="chunk")  # type: ignore[no-any-return]
