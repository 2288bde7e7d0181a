"""`RoutingDecisionEvent`: the instrumentation event that records which route answered a call."""

# No `from __future__ import annotations`: the class reports the package as its `__module__`, where
# pydantic could not resolve string annotations, so the field types are evaluated here.
from typing import Literal

from llama_index.core.instrumentation.events import BaseEvent

from routerkit.routers.decision import Decision

__all__ = ["RouteReason", "RoutingDecisionEvent"]

RouteReason = Literal["router", "forced", "default_route"]
"""Why a route was used: the router decided, the caller named it, or the request had no user turn."""


class RoutingDecisionEvent(BaseEvent):
    """Emitted once per routed call, inside the router's span, before the route is called.

    Handlers attached to LlamaIndex's root dispatcher (or to this module's dispatcher) receive it next
    to the route's own `LLMChatStartEvent` / `LLMCompletionStartEvent`, so a trace shows both the
    decision and the call it led to.
    """

    __module__ = "llama_index.llms.routerkit"  # the public path, for reprs, docs and pickles

    route: str
    """The name of the route that answers (a key of `RouterkitLLM.routes`)."""
    reason: RouteReason
    """`router` (the router decided), `forced` (`routerkit_route=` named it) or `default_route`."""
    decision: Decision | None = None
    """The router's full decision (scores, policy, latency); None unless `reason` is `router`."""

    @classmethod
    def class_name(cls) -> str:
        """The event's name in traces."""
        return "RoutingDecisionEvent"
