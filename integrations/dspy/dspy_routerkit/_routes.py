"""DSPy's routes for routerkit's shared checks (`routerkit.adapters`): route name → `dspy.BaseLM`."""

from __future__ import annotations

from dspy.clients.base_lm import BaseLM
from routerkit.adapters import check_routes
from routerkit.routers.base import Router

__all__ = ["check_lms"]


def check_lms(routes: object, router: Router, *, argument: str) -> dict[str, BaseLM]:
    """Return `routes` as a dict after checking it maps names to `dspy.BaseLM`s covering `router`.

    Args:
        routes: route name → `dspy.BaseLM` (a `dspy.LM`, a `DummyLM`, ...).
        router: the router whose `Decision.model` names the route to call.
        argument: the caller's parameter name, for messages (`lms` or `routes`).

    Raises:
        ConfigError: as `routerkit.adapters.check_routes` does.
    """
    checked: dict[str, BaseLM] = check_routes(routes, router, BaseLM, what="DSPy LM", argument=argument)
    return checked
