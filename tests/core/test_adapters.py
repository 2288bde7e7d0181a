"""The checks every integration shares: router by name or object, policy, routes covering the router."""

from __future__ import annotations

import pytest
import routerkit
from routerkit.adapters import as_policy, as_router, check_routes, pick_route
from routerkit.errors import ConfigError, UnknownNameError


class Model:
    """Stands in for a framework's model class."""


@pytest.fixture
def router() -> routerkit.Router:
    return routerkit.load("length", strong="big", weak="small")


def test_as_router_takes_a_router_or_a_name(router: routerkit.Router, plugins: object) -> None:
    assert as_router(router) is router
    assert as_router("length").name == "length"
    with pytest.raises(UnknownNameError, match=r"Unknown router 'nope'\. Available: .*'length'"):
        as_router("nope")
    with pytest.raises(ConfigError, match=r"`router` must be a router name or a `routerkit.Router`, got int \(3\)"):
        as_router(3)


def test_as_policy_refuses_a_bare_number() -> None:
    assert as_policy(None) is None
    policy = routerkit.Threshold(0.3)
    assert as_policy(policy) is policy
    with pytest.raises(ConfigError, match=r"got float \(0\.5\).*routerkit\.Threshold\(0\.5\)"):
        as_policy(0.5)


def test_routes_must_cover_the_routers_models(router: routerkit.Router) -> None:
    big, small = Model(), Model()
    assert check_routes({"big": big, "small": small}, router, Model, what="test model") == {"big": big, "small": small}
    with pytest.raises(ConfigError, match=r"can choose \['big', 'small'\], but `routes` has no \['small'\]"):
        check_routes({"big": big}, router, Model, what="test model")
    with pytest.raises(ConfigError, match=r"maps 'small' to str \('oops'\); .* every value a test model"):
        check_routes({"big": big, "small": "oops"}, router, Model, what="test model")
    with pytest.raises(ConfigError, match=r"non-empty dict of route name → test model, got \{\}\. Pass routes="):
        check_routes({}, router, Model, what="test model")


def test_pick_route_lists_the_routes() -> None:
    routes = {"big": 1, "small": 2}
    assert pick_route(routes, "small") == 2
    with pytest.raises(UnknownNameError, match=r"Unknown route 'huge'\. Available: 'big', 'small'"):
        pick_route(routes, "huge")
    with pytest.raises(ConfigError, match=r"A route name must be a string, got list \(\['big'\]\)"):
        pick_route(routes, ["big"])
