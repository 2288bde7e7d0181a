"""`RouterEngine` / `AsyncRouterEngine`: engines that make a `dspy.LM` route every call.

DSPy 3.4 replaced custom `BaseLM.forward` with engines passed as `dspy.LM(model, engine=...,
async_engine=...)`: an engine turns one `dspy.lm15.Request` into one `dspy.lm15.Response`, and the
outer `dspy.LM` keeps caching, retries, history and callbacks. These engines ask the router which
route should answer and call that route's own `dspy.LM` with the request, so the route's cache,
retries, history and token usage apply as if it had been called directly (the router LM
records the call in its own history too, without counting the tokens a second time).
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import dspy
from dspy import lm15
from routerkit.adapters import as_policy, as_router
from routerkit.errors import ConfigError, RouterkitError
from routerkit.routers.base import Router
from routerkit.routers.decision import Decision
from routerkit.routers.policies import Policy

from dspy_routerkit._routes import check_lms

__all__ = ["AsyncRouterEngine", "RouterEngine", "router_lm"]

# Generation settings a route's `dspy.LM(...)` may carry that an explicit Request would drop: DSPy
# applies an LM's own defaults only to prompt/messages calls, never to `lm(Request)`.
# (`dspy.LM` keeps `max_tokens` as `max_completion_tokens` for OpenAI reasoning models.)
_ROUTE_DEFAULTS = (
    ("max_tokens", "max_tokens"),
    ("max_completion_tokens", "max_tokens"),
    ("temperature", "temperature"),
    ("top_p", "top_p"),
)


class _RoutingEngine:
    """What both engines share: the routes, the router, the policy, and the request rewrite."""

    def __init__(self, routes: Mapping[str, dspy.BaseLM], router: Router | str, policy: Policy | None = None) -> None:
        self.router = as_router(router)
        self.policy = as_policy(policy)
        self.routes = check_lms(routes, self.router, argument="routes")

    def _decide(self, request: lm15.Request) -> Decision:
        with _as_lm15_errors():
            return self.router.route(_chat_messages(request), self.policy)

    async def _adecide(self, request: lm15.Request) -> Decision:
        with _as_lm15_errors():
            return await self.router.aroute(_chat_messages(request), self.policy)

    def _for_route(self, decision: Decision, request: lm15.Request) -> tuple[dspy.BaseLM, lm15.Request]:
        route = self.routes[decision.model]
        # DSPy refuses a Request whose model differs from the LM's ("Request.model must match LM.model").
        config = dataclasses.replace(request.config, **_route_defaults(route, request.config))
        return route, dataclasses.replace(request, model=route.model, config=config)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(routes={sorted(self.routes)!r}, router={self.router!r}, policy={self.policy!r})"


class RouterEngine(_RoutingEngine):
    """The sync engine: `dspy.LM("routerkit/<router>", engine=RouterEngine(routes, router))`.

    Prefer `router_lm(...)`, which also sets the async engine and turns off the router LM's own cache
    and retries (the routes keep theirs).

    Args:
        routes: route name → `dspy.BaseLM` answering it; must cover every candidate of `router`.
        router: a routerkit router, or a router name for `routerkit.load`; it scores the last user
            message of each request.
        policy: how scores become a choice; None uses the router's default policy.

    Raises:
        ConfigError: for a router that is neither a `Router` nor a name, or routes that miss one of its
            candidates.
        UnknownNameError: if no router is registered under the name.
    """

    def complete(self, request: lm15.Request) -> lm15.Response:
        """Route `request` and return the chosen route's response."""
        route, routed = self._for_route(self._decide(request), request)
        return _without_usage(route(routed))

    def stream(self, request: lm15.Request) -> Iterator[lm15.StreamEvent]:
        """Route `request` and replay the chosen route's whole response as stream events.

        Not token-incremental: the route answers in one piece (its own streaming would reach DSPy's
        listeners a second time), then its response is re-emitted as events.
        """
        route, routed = self._for_route(self._decide(request), request)
        with dspy.context(send_stream=None):
            response = route(routed)
        return iter(lm15.response_to_events(_without_usage(response)))

    def close(self) -> None:
        """Nothing to release: the routes are borrowed and closed by their owner."""


class AsyncRouterEngine(_RoutingEngine):
    """The async engine: `dspy.LM(..., async_engine=AsyncRouterEngine(routes, router))`.

    Used by `program.acall(...)` and async streaming; same arguments as `RouterEngine`. Scoring runs
    in a worker thread, so it never blocks the event loop.
    """

    async def complete(self, request: lm15.Request) -> lm15.Response:
        """Route `request` and return the chosen route's response."""
        route, routed = self._for_route(await self._adecide(request), request)
        return _without_usage(await route.acall(routed))

    async def stream(self, request: lm15.Request) -> AsyncIterator[lm15.StreamEvent]:
        """Route `request` and replay the chosen route's whole response as events (see `RouterEngine.stream`)."""
        route, routed = self._for_route(await self._adecide(request), request)
        with dspy.context(send_stream=None):
            response = await route.acall(routed)
        for event in lm15.response_to_events(_without_usage(response)):
            yield event

    async def aclose(self) -> None:
        """Nothing to release: the routes are borrowed and closed by their owner."""


def router_lm(
    routes: Mapping[str, dspy.BaseLM], router: Router | str, policy: Policy | None = None, **lm_options: Any
) -> dspy.LM:
    """A `dspy.LM` that routes every call: use it wherever DSPy takes an LM.

    `dspy.configure(lm=router_lm(...))` or `dspy.context(lm=...)` routes every predictor of a program.
    The router LM is named `routerkit/<router name>`, has no cache and no retries of its own (each
    route keeps its own, so a call is cached and retried once, by the LM that answers it). Options
    set on the router LM (`temperature=`, `max_tokens=`) win over the routes' own defaults.

    Args:
        routes: route name → `dspy.BaseLM`; must cover every candidate of `router`.
        router: a routerkit router, or a router name for `routerkit.load` (e.g. `"mf"`).
        policy: how scores become a choice; None uses the router's default policy.
        **lm_options: passed to `dspy.LM` (e.g. `temperature=`, `max_tokens=`, `callbacks=`).

    Raises:
        ConfigError: for bad routes, router or policy, or `cache=`/`num_retries=` (they belong to the routes).
        UnknownNameError: if no router is registered under the name `router`.
    """
    refused = sorted({"cache", "num_retries", "engine", "async_engine"} & lm_options.keys())
    if refused:
        raise ConfigError(
            f"`router_lm` sets {refused!r} itself: the router LM neither caches nor retries, its routes do. "
            "Set them on each route's `dspy.LM(...)` instead."
        )
    engine = RouterEngine(routes, router, policy)
    async_engine = AsyncRouterEngine(engine.routes, engine.router, engine.policy)
    model = f"routerkit/{engine.router.name}"
    return dspy.LM(model, engine=engine, async_engine=async_engine, cache=False, num_retries=0, **lm_options)


def _chat_messages(request: lm15.Request) -> list[dict[str, str]]:
    """The request's turns as `{"role", "content"}` dicts of their text parts (what a router scores)."""
    return [
        {"role": message.role, "content": "\n".join(p.text for p in message.parts_of(lm15.TextPart))}
        for message in request.messages
    ]


def _without_usage(response: lm15.Response) -> lm15.Response:
    """The route's response with its token usage removed.

    The route's `dspy.LM` has already counted it (under the route's model name, in `dspy.track_usage`
    and `Prediction.get_lm_usage()`); counting it again under `routerkit/<router>` would double it.
    """
    return dataclasses.replace(response, usage=lm15.Usage())


def _route_defaults(route: dspy.BaseLM, config: lm15.Config) -> dict[str, Any]:
    """The route's own generation defaults for the settings the request left unset."""
    defaults = getattr(route, "kwargs", {}) or {}
    fills: dict[str, Any] = {}
    for source, target in _ROUTE_DEFAULTS:
        if getattr(config, target) is None and defaults.get(source) is not None and target not in fills:
            fills[target] = defaults[source]
    return fills


@contextmanager
def _as_lm15_errors() -> Iterator[None]:
    """Raise routerkit's errors as `dspy.lm15` errors, the failures DSPy expects from an engine.

    A request the router cannot score (no user text) becomes `InvalidRequestError` (DSPy raises it as
    `LMInvalidRequestError`); a router failing at run time (e.g. onnxruntime) becomes `ProviderError`
    (`LMProviderError`), which DSPy does not retry. The original is the `__cause__`.
    """
    try:
        yield
    except ConfigError as exc:
        raise lm15.InvalidRequestError(str(exc), provider="routerkit") from exc
    except RouterkitError as exc:
        raise lm15.ProviderError(str(exc), provider="routerkit") from exc
