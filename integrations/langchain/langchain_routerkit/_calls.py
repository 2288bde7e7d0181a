"""One routed call, step by step: which route (forced or decided), what runs, under which child config."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from langchain_core.callbacks import BaseCallbackManager
from langchain_core.messages import BaseMessage
from langchain_core.runnables import ConfigurableFieldSpec, Runnable, RunnableConfig, patch_config
from routerkit.adapters import pick_route
from routerkit.errors import ConfigError
from routerkit.routers.decision import Decision
from routerkit.routers.policies import Policy

from langchain_routerkit._capabilities import Deferred
from langchain_routerkit._messages import Choice, router_prompt
from langchain_routerkit._settings import effective_policy

if TYPE_CHECKING:
    from langchain_routerkit._chat_model import ChatRouterkit

__all__ = ["ROUTE_KEY", "ROUTE_SPEC", "Call", "add", "atarget", "forced_route", "policy_of", "prepare", "target"]

ROUTE_KEY = "route"
ROUTE_SPEC = ConfigurableFieldSpec(
    id=ROUTE_KEY,
    annotation=str | None,
    name="Route",
    description="Send the call to this route instead of asking the router.",
    default=None,
)


@dataclass(frozen=True)
class Call:
    """Everything needed to run one routed call on its route."""

    choice: Choice
    runnable: Runnable[Any, Any]
    """The route, or the route with the deferred `bind_tools`/`with_structured_output` replayed on it."""
    config: RunnableConfig
    """The child config: callbacks under the router's chain run, the choice in the metadata."""
    kwargs: dict[str, Any]
    """Call options for the route (`stop`, the router's defaults, the caller's keyword arguments)."""


def policy_of(model: ChatRouterkit) -> Policy | None:
    """The policy `model` routes with (None: the router's default)."""
    return effective_policy(model.policy, model.threshold)


def forced_route(model: ChatRouterkit, config: RunnableConfig) -> str | None:
    """The route named by `config["configurable"]["route"]`, if any.

    Raises:
        UnknownNameError: if it names no route; the message lists the routes.
    """
    route = config.get("configurable", {}).get(ROUTE_KEY)
    if route is None:
        return None
    pick_route(model.routes, route)  # an unknown name raises, listing the routes
    return str(route)


def target(model: ChatRouterkit, config: RunnableConfig, messages: Sequence[BaseMessage]) -> Decision | str:
    """A forced route name, else the router's decision for `messages`."""
    forced = forced_route(model, config)
    if forced is not None:
        return forced
    return model.router.route(router_prompt(messages), policy_of(model))


async def atarget(model: ChatRouterkit, config: RunnableConfig, messages: Sequence[BaseMessage]) -> Decision | str:
    """Async `target`: the router scores in a worker thread."""
    forced = forced_route(model, config)
    if forced is not None:
        return forced
    return await model.router.aroute(router_prompt(messages), policy_of(model))


def prepare(
    model: ChatRouterkit,
    chosen: Decision | str,
    deferred: Deferred | None,
    config: RunnableConfig,
    callbacks: BaseCallbackManager,
    stop: list[str] | None,
    kwargs: dict[str, Any],
) -> Call:
    """Build the call for `chosen` (a decision or a forced route) under the chain run's `callbacks`."""
    choice = _choose(model, chosen, deferred)
    route = model.routes[choice.route]
    child = patch_config(config, callbacks=callbacks)
    child["metadata"] = {**child.get("metadata", {}), **choice.metadata()}
    # A forced route applies to this router only, not to a ChatRouterkit used as one of its routes.
    child["configurable"] = {k: v for k, v in child.get("configurable", {}).items() if k != ROUTE_KEY}
    runnable = deferred.apply(route) if deferred is not None else route
    return Call(choice, runnable, child, _options(model, stop, kwargs))


def _choose(model: ChatRouterkit, chosen: Decision | str, deferred: Deferred | None) -> Choice:
    if isinstance(chosen, str):
        _require(model, chosen, deferred, "The forced route")
        return Choice(chosen, None)
    if deferred is None or deferred.supported_by(model.routes[chosen.model]):
        return Choice(chosen.model, chosen)
    if model.on_unavailable == "error":
        raise ConfigError(
            f"The router chose {chosen.model!r}, which cannot {deferred.need}, and on_unavailable='error'. "
            "Set on_unavailable='fallback' to use `default_route` instead, or route among capable models only."
        )
    fallback = model.default_route or model.router.candidates[0].name
    _require(model, fallback, deferred, "The default route")
    return Choice(fallback, chosen, diverted_from=chosen.model)


def _require(model: ChatRouterkit, route: str, deferred: Deferred | None, what: str) -> None:
    if deferred is not None and not deferred.supported_by(model.routes[route]):
        raise ConfigError(f"{what} {route!r} ({type(model.routes[route]).__name__}) cannot {deferred.need}.")


def _options(model: ChatRouterkit, stop: list[str] | None, kwargs: dict[str, Any]) -> dict[str, Any]:
    defaults = {"temperature": model.temperature, "max_tokens": model.max_tokens}
    options: dict[str, Any] = {key: value for key, value in defaults.items() if value is not None}
    if model.streaming:
        options["stream"] = True  # LangChain's per-call switch: the route streams inside invoke
    options.update(kwargs)
    stop = stop if stop is not None else model.stop
    if stop is not None:
        options["stop"] = stop
    return options


def add(total: Any, chunk: Any) -> Any:
    """Accumulate streamed output for the chain run's end event (`Runnable`'s own rule)."""
    if total is None:
        return chunk
    try:
        return total + chunk
    except TypeError:  # chunks that do not add up (e.g. whole parsed objects): keep the latest
        return chunk
