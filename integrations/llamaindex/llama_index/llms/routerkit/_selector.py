"""`RouterkitSelector`: picks a `RouterQueryEngine` choice with a routerkit router or encoder."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from llama_index.core.base.base_selector import BaseSelector, SelectorResult, SingleSelection

# LlamaIndex re-exports `get_dispatcher` here without `__all__`, which strict mypy reads as private.
from llama_index.core.instrumentation import get_dispatcher  # type: ignore[attr-defined]
from llama_index.core.prompts.mixin import PromptDictType
from llama_index.core.schema import QueryBundle
from llama_index.core.tools.types import ToolMetadata
from llama_index.llms.routerkit._events import RoutingDecisionEvent

from routerkit.adapters import as_policy, as_router
from routerkit.errors import ConfigError
from routerkit.routers.base import Router
from routerkit.routers.decision import Decision
from routerkit.routers.policies import Policy
from routerkit.routers.registry import load_encoder
from routerkit.runtime.encoder import Encoder, Matrix

__all__ = ["RouterkitSelector"]

DEFAULT_ENCODER = "minilm_l6"

dispatcher = get_dispatcher(__name__)


class RouterkitSelector(BaseSelector):
    """Selects one choice of a `RouterQueryEngine` (or `RouterRetriever`), in one of two modes.

    - **With a router**: the choices are named after the router's candidate models
      (`ToolMetadata(name="gpt-4-1106-preview", ...)`), and the router's `Decision` for the query picks
      the choice of that name, e.g. a cheap query engine for "weak" queries and a thorough one for
      "strong" ones. Every candidate must name a choice (a `ConfigError` says which are missing): a
      router is never silently replaced by another way of choosing.
    - **Without a router**: the choice whose `description` is closest to the query (cosine of routerkit's
      packaged sentence encoder, `minilm_l6`) wins; description embeddings are cached.

    Each selection is single (`RouterQueryEngine` then needs no summarizer). With a router, a
    `RoutingDecisionEvent` is emitted for every selection.

    Args:
        router: a routerkit router, or a router name for `routerkit.load` (e.g. `"mf"`), whose
            candidates name the choices; None selects by description.
        policy: overrides the router's default policy.
        encoder: the registered encoder that embeds descriptions and queries when there is no router.

    Raises:
        ConfigError: if `router` or `policy` has the wrong type.
        UnknownNameError: if no router is registered under the name `router`.
    """

    __module__ = "llama_index.llms.routerkit"  # the public path, for reprs, docs and pickles

    def __init__(
        self, router: Router | str | None = None, *, policy: Policy | None = None, encoder: str = DEFAULT_ENCODER
    ) -> None:
        self.router = None if router is None else as_router(router)
        self.policy = as_policy(policy)
        self.encoder_name = encoder
        self._encoder: Encoder | None = None
        self._descriptions: dict[tuple[str, ...], Matrix] = {}

    def _get_prompts(self) -> PromptDictType:
        """No prompts: the choice is computed, not generated."""
        return {}

    def _update_prompts(self, prompts_dict: PromptDictType) -> None:
        """Nothing to update (see `_get_prompts`)."""

    def _select(self, choices: Sequence[ToolMetadata], query: QueryBundle) -> SelectorResult:
        text = _query_text(choices, query)
        if self.router is None:
            return self._closest(choices, text)
        names = self._choice_names(choices, self.router)
        return _selection(names, self.router.route(text, self.policy))

    async def _aselect(self, choices: Sequence[ToolMetadata], query: QueryBundle) -> SelectorResult:
        text = _query_text(choices, query)
        if self.router is None:
            return await asyncio.to_thread(self._closest, choices, text)
        names = self._choice_names(choices, self.router)
        return _selection(names, await self.router.aroute(text, self.policy))

    @staticmethod
    def _choice_names(choices: Sequence[ToolMetadata], router: Router) -> list[str | None]:
        names = [choice.name for choice in choices]
        candidates = [model.name for model in router.candidates]
        missing = [name for name in candidates if name not in names]
        if missing:
            raise ConfigError(
                f"Router {router.name!r} chooses among {candidates!r}, but no choice is named {missing!r} "
                f"(choice names: {names!r}). Name one query engine tool after each candidate, e.g. "
                f"`ToolMetadata(name={candidates[0]!r}, description=...)`, or build `RouterkitSelector()` "
                "without a router to select by description."
            )
        return names

    def _closest(self, choices: Sequence[ToolMetadata], text: str) -> SelectorResult:
        descriptions = self._embedded(tuple(choice.description for choice in choices))
        similarities = descriptions @ self._loaded_encoder().embed([text])[0]
        index = int(similarities.argmax())
        reason = (
            f"Its description is the closest to the query (cosine {similarities[index]:.3f}, "
            f"routerkit encoder {self.encoder_name!r})."
        )
        return SelectorResult(selections=[SingleSelection(index=index, reason=reason)])

    def _embedded(self, descriptions: tuple[str, ...]) -> Matrix:
        if descriptions not in self._descriptions:
            self._descriptions[descriptions] = self._loaded_encoder().embed(list(descriptions))
        return self._descriptions[descriptions]

    def _loaded_encoder(self) -> Encoder:
        if self._encoder is None:
            self._encoder = load_encoder(self.encoder_name)
        return self._encoder

    def __repr__(self) -> str:
        how = f"router={self.router!r}" if self.router is not None else f"encoder={self.encoder_name!r}"
        return f"<RouterkitSelector {how}>"


def _query_text(choices: Sequence[ToolMetadata], query: QueryBundle) -> str:
    if not choices:
        raise ConfigError("There are no choices to select from; give the `RouterQueryEngine` at least one tool.")
    if not query.query_str.strip():
        raise ConfigError(f"The query is empty ({query.query_str!r}); a selector needs text to route on.")
    return query.query_str


def _selection(names: list[str | None], decision: Decision) -> SelectorResult:
    dispatcher.event(RoutingDecisionEvent(route=decision.model, reason="router", decision=decision))
    role = f" ({decision.role})" if decision.role else ""
    scores = ", ".join(f"{key}={value:.3f}" for key, value in decision.scores.items())
    reason = f"Router {decision.router!r} chose {decision.model!r}{role}: {scores}."
    return SelectorResult(selections=[SingleSelection(index=names.index(decision.model), reason=reason)])
