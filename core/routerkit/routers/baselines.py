"""Artifact-free baseline routers: `random` and `length` (longer prompt → stronger model)."""

from __future__ import annotations

import hashlib

import numpy as np

from routerkit.artifacts import ModelEntry
from routerkit.errors import ConfigError
from routerkit.routers.base import Router, Scores
from routerkit.routers.policies import Threshold

__all__ = ["DEFAULT_STRONG", "DEFAULT_WEAK", "LengthRouter", "RandomRouter"]

DEFAULT_STRONG = ModelEntry(name="gpt-4-1106-preview", input_usd_per_mtok=10.0, output_usd_per_mtok=30.0)
DEFAULT_WEAK = ModelEntry(name="mixtral-8x7b-instruct-v0.1", input_usd_per_mtok=0.6, output_usd_per_mtok=0.6)


def _pair(strong: str | ModelEntry | None, weak: str | ModelEntry | None) -> list[ModelEntry]:
    def entry(value: str | ModelEntry | None, default: ModelEntry) -> ModelEntry:
        if value is None:
            return default
        return value if isinstance(value, ModelEntry) else ModelEntry(name=value)

    return [entry(strong, DEFAULT_STRONG), entry(weak, DEFAULT_WEAK)]


class RandomRouter(Router):
    """P(strong wins) drawn uniformly at random, reproducibly: a function of (`seed`, prompt).

    The same prompt always gets the same score, alone or in any batch.

    Args:
        seed: changes every score.
        strong, weak: the pair routed between (names or `ModelEntry` with prices).
        threshold: default policy threshold (0.5 → about half the calls go strong).
    """

    def __init__(
        self,
        *,
        seed: int = 0,
        strong: str | ModelEntry | None = None,
        weak: str | ModelEntry | None = None,
        threshold: float = 0.5,
    ) -> None:
        super().__init__(
            name="random",
            version="1",
            candidates=_pair(strong, weak),
            default_policy=Threshold(threshold),
            pairwise=True,
        )
        self.seed = seed

    def fingerprint(self) -> str:
        """Cache key: the seed changes every score."""
        return f"{super().fingerprint()}:seed={self.seed}"

    def _score_texts(self, texts: list[str]) -> Scores:
        prefix = f"{self.seed}\x00".encode()
        values = [int.from_bytes(hashlib.sha256(prefix + t.encode()).digest()[:8], "big") / 2.0**64 for t in texts]
        return np.asarray(values, dtype=np.float64).reshape(-1, 1)


class LengthRouter(Router):
    """The zero-parameter baseline: the longer the prompt, the likelier the strong model.

    score = chars / (chars + `scale`), so a prompt of `scale` characters scores 0.5.

    Args:
        scale: prompt length (characters) that scores 0.5.
        strong, weak: the pair routed between.
        threshold: default policy threshold.
    """

    def __init__(
        self,
        *,
        scale: float = 500.0,
        strong: str | ModelEntry | None = None,
        weak: str | ModelEntry | None = None,
        threshold: float = 0.5,
    ) -> None:
        if scale <= 0:
            raise ConfigError(f"`scale` must be a positive number of characters, got {scale!r}.")
        super().__init__(
            name="length",
            version="1",
            candidates=_pair(strong, weak),
            default_policy=Threshold(threshold),
            pairwise=True,
        )
        self.scale = float(scale)

    def fingerprint(self) -> str:
        """Cache key: the scale changes every score."""
        return f"{super().fingerprint()}:scale={self.scale}"

    def _score_texts(self, texts: list[str]) -> Scores:
        chars = np.array([len(t) for t in texts], dtype=np.float64)
        return (chars / (chars + self.scale)).reshape(-1, 1)
