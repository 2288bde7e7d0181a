"""`RoutingLLM`: the state of a `RouterkitLLM` and how it chooses the route for one call.

`RouterkitLLM` (in `_llm.py`) adds the LlamaIndex call methods on top; they all convert their input
to what the router reads, call `_route` / `_aroute`, and delegate to the chosen route.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from llama_index.core.base.llms.types import LLMMetadata
from llama_index.core.bridge.pydantic import Field, PrivateAttr
from llama_index.core.callbacks import CallbackManager

# LlamaIndex re-exports `get_dispatcher` here without `__all__`, which strict mypy reads as private.
from llama_index.core.instrumentation import get_dispatcher  # type: ignore[attr-defined]
from llama_index.core.llms import LLM
from llama_index.core.llms.function_calling import FunctionCallingLLM
from llama_index.llms.routerkit._events import RouteReason, RoutingDecisionEvent
from llama_index.llms.routerkit._messages import RouterPrompt, has_user_turn

from routerkit.adapters import as_policy, as_router, check_routes, pick_route
from routerkit.errors import ConfigError
from routerkit.routers.base import Router
from routerkit.routers.decision import Decision
from routerkit.routers.policies import Policy

__all__ = ["FORCE_ROUTE_KWARG", "Routed", "RoutingLLM"]

FORCE_ROUTE_KWARG = "routerkit_route"
"""Keyword argument of every call that names the route to use instead of asking the router."""

dispatcher = get_dispatcher(__name__)


@dataclass(frozen=True)
class Routed:
    """The route chosen for one call, and the decision behind it (None when forced or defaulted)."""

    name: str
    llm: LLM
    decision: Decision | None


class RoutingLLM(FunctionCallingLLM):
    """Fields, validation, metadata and route choice shared by every call of `RouterkitLLM`."""

    routes: dict[str, LLM] = Field(description="The LLMs a call can be routed to, by name.")
    router: Router = Field(exclude=True, description="The routerkit router that chooses the route.")
    default_route: str | None = Field(default=None, description="The route for requests without a user message.")
    policy: Policy | None = Field(default=None, exclude=True, description="Overrides the router's policy.")

    _inheriting: frozenset[str] = PrivateAttr(default=frozenset())

    def __init__(
        self,
        *,
        routes: Mapping[str, LLM],
        router: Router | str,
        default_route: str | None = None,
        policy: Policy | None = None,
        callback_manager: CallbackManager | None = None,
        **kwargs: Any,
    ) -> None:
        checked_router = as_router(router)
        checked_routes: dict[str, LLM] = check_routes(routes, checked_router, LLM, what="LlamaIndex `LLM`")
        if default_route is not None:
            pick_route(checked_routes, default_route)  # an unknown name raises, listing the routes
        super().__init__(
            routes=checked_routes,
            router=checked_router,
            default_route=default_route,
            policy=as_policy(policy),
            callback_manager=callback_manager or CallbackManager([]),
            **kwargs,
        )
        # `Settings` hands its callback manager to the router only, so routes built without handlers
        # would record nothing: they use the router's manager, re-read before every call.
        self._inheriting = frozenset(name for name, llm in checked_routes.items() if not llm.callback_manager.handlers)

    @property
    def metadata(self) -> LLMMetadata:
        """What every route can do: the smallest context window and output, all() of the flags."""
        routes = list(self.routes.values())
        metadata = [llm.metadata for llm in routes]
        return LLMMetadata(
            context_window=min(m.context_window for m in metadata),
            num_output=min(m.num_output for m in metadata),
            is_chat_model=all(m.is_chat_model for m in metadata),
            is_function_calling_model=all(
                isinstance(llm, FunctionCallingLLM) and m.is_function_calling_model
                for llm, m in zip(routes, metadata, strict=True)
            ),
            model_name=f"routerkit/{self.router.name}",
        )

    def _route(self, prompt: RouterPrompt, kwargs: dict[str, Any]) -> Routed:
        """Choose the route for one call; pops `routerkit_route` from the call's `kwargs`."""
        routed = self._without_router(prompt, kwargs)
        if routed is not None:
            return routed
        decision = self.router.route(prompt, self.policy)
        return self._use(decision.model, "router", decision)

    async def _aroute(self, prompt: RouterPrompt, kwargs: dict[str, Any]) -> Routed:
        """Async `_route`: the router scores in a worker thread, off the event loop."""
        routed = self._without_router(prompt, kwargs)
        if routed is not None:
            return routed
        decision = await self.router.aroute(prompt, self.policy)
        return self._use(decision.model, "router", decision)

    def _without_router(self, prompt: RouterPrompt, kwargs: dict[str, Any]) -> Routed | None:
        """The forced route (popped from `kwargs`) or the default route, if the router is not asked."""
        forced = kwargs.pop(FORCE_ROUTE_KWARG, None)
        if forced is not None:
            return self._use(forced, "forced", None)
        # Only a non-empty conversation without a user turn goes to `default_route`; an empty prompt
        # still reaches the router, which rejects it.
        if self.default_route is not None and prompt and not has_user_turn(prompt):
            return self._use(self.default_route, "default_route", None)
        return None

    def _use(self, name: str, reason: RouteReason, decision: Decision | None) -> Routed:
        """The route `name`, announced with a `RoutingDecisionEvent`.

        Raises:
            UnknownNameError: if no route has that name (e.g. a forced one); the message lists the routes.
        """
        llm = pick_route(self.routes, name)
        if name in self._inheriting:
            llm.callback_manager = self.callback_manager
        dispatcher.event(RoutingDecisionEvent(route=name, reason=reason, decision=decision))
        return Routed(name, llm, decision)

    def _function_calling(self, name: str) -> FunctionCallingLLM:
        """The route `name`, which must be able to call tools."""
        llm = pick_route(self.routes, name)
        if not isinstance(llm, FunctionCallingLLM):
            raise ConfigError(
                f"Route {name!r} ({type(llm).__name__}) is not a `FunctionCallingLLM`, so it cannot call tools. "
                "Use function-calling LLMs for every route of a `RouterkitLLM` that is given tools."
            )
        return llm
