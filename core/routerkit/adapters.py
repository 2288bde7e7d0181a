"""What every framework integration checks the same way: the router, the policy and the routes.

An integration maps the models a router can choose (its candidates' names) to the framework's own
model objects, its *routes*. These functions validate that mapping once, with the same messages in
LangChain, LlamaIndex and DSPy, so the adapters stay thin.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from routerkit.errors import ConfigError, UnknownNameError
from routerkit.routers.base import Router
from routerkit.routers.policies import Policy
from routerkit.routers.registry import load

__all__ = ["as_policy", "as_router", "check_routes", "pick_route"]

RouteT = TypeVar("RouteT")


def as_router(router: object) -> Router:
    """Return `router` itself, or the router `routerkit.load` loads for a name.

    Raises:
        ConfigError: if `router` is neither a name nor a `routerkit.Router`.
        UnknownNameError: if no router is registered under the name (the message lists them).
    """
    if isinstance(router, Router):
        return router
    if isinstance(router, str):
        return load(router)
    raise ConfigError(
        f"`router` must be a router name or a `routerkit.Router`, got {type(router).__name__} ({router!r:.60}). "
        "Pass e.g. router='mf' or router=routerkit.load('length', strong=..., weak=...)."
    )


def as_policy(policy: object) -> Policy | None:
    """Return `policy` if it is None (the router's default) or a routerkit `Policy`.

    Raises:
        ConfigError: for anything else, e.g. a bare threshold number.
    """
    if policy is None or isinstance(policy, Policy):
        return policy
    raise ConfigError(
        f"`policy` must be a routerkit `Policy` or None, got {type(policy).__name__} ({policy!r:.60}). "
        "Pass e.g. `routerkit.Threshold(0.5)` or `routerkit.CostAware(0.2)`."
    )


def check_routes(
    routes: object,
    router: Router,
    route_type: type[Any],
    *,
    what: str,
    argument: str = "routes",
) -> dict[str, Any]:
    """Return `routes` as a dict after checking it maps names to `route_type` and covers the router.

    `route_type` is typed `type[Any]` because frameworks' model bases are abstract, which mypy refuses
    for a `type[T]` parameter; annotate the result at the call site (`dict[str, BaseChatModel]`).

    Args:
        routes: route name → the framework's model object.
        router: the router whose `Decision.model` names the route to call.
        route_type: the framework's model base class (e.g. LangChain's `BaseChatModel`).
        what: how users call `route_type` in messages, e.g. "LangChain chat model".
        argument: the caller's parameter name, for messages.

    Raises:
        ConfigError: if `routes` is not a non-empty mapping of `str` to `route_type`, or lacks a
            model the router can choose.
    """
    candidates = [entry.name for entry in router.candidates]
    example = f"{argument}={{{', '.join(f'{name!r}: ...' for name in candidates)}}}"
    if not isinstance(routes, Mapping) or not routes:
        raise ConfigError(
            f"`{argument}` must be a non-empty dict of route name → {what}, got {routes!r:.80}. Pass {example}."
        )
    for name, model in routes.items():
        if not isinstance(name, str) or not isinstance(model, route_type):
            raise ConfigError(
                f"`{argument}` maps {name!r} to {type(model).__name__} ({model!r:.60}); every key must be a "
                f"route name (str) and every value a {what}."
            )
    missing = [name for name in candidates if name not in routes]
    if missing:
        raise ConfigError(
            f"Router {router.name!r} can choose {candidates!r}, but `{argument}` has no {missing!r} "
            f"(it has {sorted(routes)!r}). Add a {what} for each, or load the router with models named "
            "after your routes (e.g. `strong=`/`weak=`)."
        )
    return dict(routes)


def pick_route(routes: Mapping[str, RouteT], name: object, *, argument: str = "routes") -> RouteT:
    """The route called `name` (a `Decision.model`, or a route forced by the caller).

    Raises:
        ConfigError: if `name` is not a string.
        UnknownNameError: if no route has that name; the message lists the route names.
    """
    if not isinstance(name, str):
        raise ConfigError(f"A route name must be a string, got {type(name).__name__} ({name!r:.60}).")
    if name not in routes:
        raise UnknownNameError("route", name, routes, f"Use one of the keys of `{argument}`.")
    return routes[name]
