"""`Router`: the base class every router kind subclasses (one abstract method)."""

from __future__ import annotations

import asyncio
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from routerkit.artifacts import ModelEntry
from routerkit.errors import ConfigError
from routerkit.routers.decision import Decision
from routerkit.routers.inputs import PromptInput, prompt_text
from routerkit.routers.policies import Policy

__all__ = ["Router"]

Scores = npt.NDArray[np.float64]
_CHARS_PER_TOKEN = 4.0
_DEFAULT_OUTPUT_TOKENS = 256.0


class Router(ABC):
    """Scores prompts and, through a `Policy`, chooses the model that should answer.

    Subclasses implement `_score_texts`. A strong/weak router (`pairwise = True`) returns one column,
    P(strong beats weak), and its `candidates` are `(strong, weak)`; a many-model router returns one
    column per candidate.

    Args:
        name: registered name (artifact or kind).
        version: version of the artifact or implementation.
        candidates: the models a decision can choose, in score-column order (strong, weak if pairwise).
        default_policy: used when `route` gets no policy.
        pairwise: True for strong/weak routers.
    """

    def __init__(
        self,
        *,
        name: str,
        version: str,
        candidates: Sequence[ModelEntry],
        default_policy: Policy,
        pairwise: bool,
    ) -> None:
        if pairwise and len(candidates) != 2:
            raise ConfigError(f"A strong/weak router needs exactly 2 candidates, got {len(candidates)}.")
        self.name = name
        self.version = version
        self.candidates = tuple(candidates)
        self.default_policy = default_policy
        self.pairwise = pairwise

    @abstractmethod
    def _score_texts(self, texts: list[str]) -> Scores:
        """Return `float64[len(texts), k]` scores for validated, non-empty texts."""

    def fingerprint(self) -> str:
        """A string that changes whenever the scores could change (used as a cache key)."""
        names = ",".join(m.name for m in self.candidates)
        return f"{type(self).__name__}:{self.name}:{self.version}:{names}"

    @property
    def strong(self) -> str:
        """The strong model of a strong/weak router."""
        self._require_pairwise("strong")
        return self.candidates[0].name

    @property
    def weak(self) -> str:
        """The weak model of a strong/weak router."""
        self._require_pairwise("weak")
        return self.candidates[1].name

    def scores(self, prompts: Sequence[PromptInput]) -> Scores:
        """Score many prompts: `float64[n, k]` (k = 1 for strong/weak routers).

        Raises:
            ConfigError: if `prompts` is a bare string or any prompt is empty or malformed.
        """
        if isinstance(prompts, str):
            raise ConfigError("`scores` takes a list of prompts; wrap a single prompt in a list.")
        texts = [prompt_text(p) for p in prompts]
        if not texts:
            return np.empty((0, 1 if self.pairwise else len(self.candidates)))
        return self._score_texts(texts)

    def route(self, prompt: PromptInput, policy: Policy | None = None) -> Decision:
        """Choose a model for one prompt (a string or chat messages)."""
        return self.route_batch([prompt], policy)[0]

    def route_batch(self, prompts: Sequence[PromptInput], policy: Policy | None = None) -> list[Decision]:
        """Choose a model for each prompt; scoring runs as one batch."""
        started = time.perf_counter()
        texts = [prompt_text(p) for p in prompts]
        rows = self._score_texts(texts) if texts else np.empty((0, 1))
        chosen = policy or self.default_policy
        decisions = [self._decide(text, row, chosen) for text, row in zip(texts, rows, strict=True)]
        elapsed_ms = (time.perf_counter() - started) * 1000.0 / max(len(texts), 1)
        return [d.model_copy(update={"latency_ms": elapsed_ms}) for d in decisions]

    async def aroute(self, prompt: PromptInput, policy: Policy | None = None) -> Decision:
        """`route` run in a worker thread, so CPU-bound scoring never blocks the event loop."""
        return await asyncio.to_thread(self.route, prompt, policy)

    async def aroute_batch(self, prompts: Sequence[PromptInput], policy: Policy | None = None) -> list[Decision]:
        """`route_batch` run in a worker thread."""
        return await asyncio.to_thread(self.route_batch, prompts, policy)

    def expected_costs(self, text: str) -> list[float | None]:
        """Estimated USD cost of each candidate for `text` (None where a price is unknown)."""
        return [_expected_cost(model, len(text) / _CHARS_PER_TOKEN) for model in self.candidates]

    def _decide(self, text: str, row: Scores, policy: Policy) -> Decision:
        costs = self.expected_costs(text)
        index = policy.choose(row, costs, pairwise=self.pairwise)
        decision = Decision(
            model=self.candidates[index].name,
            role=("strong", "weak")[index] if self.pairwise else None,
            scores=self._score_dict(row),
            candidates=tuple(m.name for m in self.candidates),
            policy=policy.kind,
            policy_params=policy.params(),
            expected_cost_usd=costs[index],
            router=self.name,
            router_version=self.version,
            latency_ms=0.0,
        )
        from routerkit.plugins.manager import notify_decision

        notify_decision(decision)
        return decision

    def _score_dict(self, row: Scores) -> dict[str, float]:
        if self.pairwise:
            return {"strong_win_rate": float(row[0])}
        return {m.name: float(v) for m, v in zip(self.candidates, row, strict=True)}

    def _require_pairwise(self, what: str) -> None:
        if not self.pairwise:
            raise ConfigError(f"Router {self.name!r} scores many models; it has no `{what}` model.")

    def __repr__(self) -> str:
        names = ", ".join(m.name for m in self.candidates)
        return f"<{type(self).__name__} {self.name!r} v{self.version} [{names}]>"


def _expected_cost(model: ModelEntry, input_tokens: float) -> float | None:
    if model.input_usd_per_mtok is None or model.output_usd_per_mtok is None:
        return None
    output_tokens = model.mean_output_tokens or _DEFAULT_OUTPUT_TOKENS
    return (input_tokens * model.input_usd_per_mtok + output_tokens * model.output_usd_per_mtok) / 1e6
