"""Construction checks shared by `ChatRouterkit` and `RouterkitDecision`: router, routes, policy.

The generic checks are routerkit's (`routerkit.adapters`, the same in every integration); this module
adds what only LangChain has (wrapped routes, client settings, `threshold`). Every check raises before
pydantic sees the arguments (pydantic would wrap our errors in a `ValidationError`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.runnables import Runnable
from routerkit import adapters
from routerkit.adapters import as_policy, as_router
from routerkit.errors import ConfigError
from routerkit.routers.base import Router
from routerkit.routers.policies import Policy, Threshold

__all__ = [
    "check_known_parameters",
    "check_route_level_settings",
    "check_router_and_policy",
    "check_routes",
    "effective_policy",
]

# LangChain fields that only make sense on the model that calls a provider: the router never consults them.
_ROUTE_LEVEL_SETTINGS = {
    "cache": "caching belongs to the routes (a cached answer must be keyed by the model that wrote it)",
    "rate_limiter": "rate limits belong to the provider each route calls",
    "disable_streaming": "each route streams, or not, as configured",
}


def check_known_parameters(owner: str, given: Iterable[str], known: Iterable[str]) -> None:
    """Refuse parameters the class does not have, instead of letting pydantic drop them silently.

    Raises:
        ConfigError: naming the unknown parameters and the accepted ones.
    """
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise ConfigError(
            f"{owner} got unknown parameter(s) {unknown!r}. It calls no provider itself, so client settings "
            "(`timeout`, `max_retries`, `api_key`, `model`, ...) belong to each route, e.g. "
            f"`ChatOpenAI(timeout=30)`. Accepted: {', '.join(sorted(known))}."
        )


def check_route_level_settings(owner: str, data: Mapping[str, Any]) -> None:
    """Refuse LangChain settings that a router would never consult (e.g. `cache=`).

    Raises:
        ConfigError: naming the setting and where to put it instead.
    """
    for name, why in _ROUTE_LEVEL_SETTINGS.items():
        value = data.get(name)
        if value is not None and value is not False:
            raise ConfigError(f"{owner} does not take `{name}` ({value!r:.60}): {why}. Set it on each route instead.")


def check_router_and_policy(data: dict[str, Any]) -> Router:
    """Load `data["router"]` (a router or a name) and check `data["policy"]`, in place; return the router.

    Raises:
        ConfigError: for a router that is neither a name nor a `routerkit.Router`, or a policy that is
            not a routerkit `Policy`.
        UnknownNameError: if no router is registered under the name.
    """
    router = data["router"] = as_router(data.get("router"))
    if "policy" in data:
        data["policy"] = as_policy(data["policy"])
    return router


def check_routes(routes: object, router: Router) -> dict[str, BaseChatModel]:
    """Validate `routes`: a non-empty mapping from the router's model names to plain LangChain chat models.

    Wrappers (`with_retry`, `bind_tools`, `with_fallbacks`) are refused first, with what to do instead:
    they hide `bind_tools` and `profile`, which the router needs, and retries belong around the router
    as a whole. The rest is `routerkit.adapters.check_routes`.

    Raises:
        ConfigError: for a wrapped route, a non-mapping, an empty mapping, a non-string key, a value that
            is not a chat model, or a model of the router without a route.
    """
    if isinstance(routes, Mapping):
        for name, model in routes.items():
            if isinstance(model, Runnable) and not isinstance(model, BaseChatModel):
                raise ConfigError(
                    f"routes[{name!r}] is a {type(model).__name__}, not a chat model. Pass the plain chat model "
                    "and wrap the router instead (`ChatRouterkit(...).with_retry()`, `.with_fallbacks(...)`, "
                    "`.bind_tools(...)`): the router replays tools on the route it chooses."
                )
    checked: dict[str, BaseChatModel] = adapters.check_routes(
        routes, router, BaseChatModel, what="LangChain chat model"
    )
    return checked


def effective_policy(policy: Policy | None, threshold: float | None) -> Policy | None:
    """The policy a call uses: `policy`, else `Threshold(threshold)`, else None (the router's default).

    Raises:
        ConfigError: if both are set (they would disagree about which applies).
    """
    if policy is not None and threshold is not None:
        raise ConfigError(
            f"Pass either `policy` ({policy!r}) or `threshold` ({threshold!r}), not both: "
            "`threshold=t` is shorthand for `policy=routerkit.Threshold(t)`."
        )
    if threshold is not None:
        return Threshold(threshold)
    return policy
