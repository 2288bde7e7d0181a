"""Which router and policy a request's `model` selects, and which upstream models a decision tries."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from routerkit.errors import ConfigError, UnknownNameError
from routerkit.routers.base import Router
from routerkit.routers.decision import Decision
from routerkit.routers.policies import Policy, Threshold
from routerkit.routers.registry import load
from routerkit.server.config import RouterConfig, ServerConfig

__all__ = ["RouteTable", "Selection"]

_ROUTELLM_FORM = re.compile(r"^router-([a-z0-9_]+)-(.+)$")


@dataclass(frozen=True)
class Selection:
    """What a request's `model` field resolved to."""

    name: str
    """The `model` string as the client sent it."""
    router_name: str
    router: Router
    policy: Policy | None
    """None: the router's own default policy."""


class RouteTable:
    """The loaded routers and the named routes of a `ServerConfig`.

    Routers are loaded once, here, so that configuration mistakes surface at startup.

    Raises:
        ConfigError: if a router's candidate models are not all mapped to upstream models (or a mapped
            name is not a candidate), or a threshold is given for a router that scores many models.
    """

    def __init__(self, config: ServerConfig) -> None:
        self._config = config
        self.routers = {name: _load_router(name, spec) for name, spec in config.routers.items()}
        for name, route in config.routes.items():
            if route.threshold is not None:
                _require_pairwise(self.routers[route.router], f"`routes.{name}.threshold`")

    def resolve(self, model: str) -> Selection:
        """The router and policy for a request's `model`.

        Raises:
            UnknownNameError: listing the valid values.
            ConfigError: for a `router-<router>-<threshold>` whose threshold is not a number in [0, 1].
        """
        if model in self._config.routes:
            route = self._config.routes[model]
            return self._select(model, route.router, route.threshold)
        if model in self.routers:
            return self._select(model, model, self._config.routers[model].threshold)
        match = _ROUTELLM_FORM.match(model)
        if match and match.group(1) in self.routers:
            return self._select(model, match.group(1), _threshold(model, match.group(2)))
        raise UnknownNameError("model", model, self.model_names(), "Pass one of them as `model`, or see `/v1/models`.")

    def model_names(self) -> list[str]:
        """Every valid `model`: named routes, routers, and `router-<router>-<threshold>` examples."""
        examples = [self.example_routellm_name(name) for name, r in self.routers.items() if r.pairwise]
        return [*self._config.routes, *self.routers, *examples]

    def example_routellm_name(self, router_name: str) -> str:
        """`router-<router>-<threshold>` with the router's default threshold, e.g. `router-mf-0.5`."""
        params = self._default_policy(router_name).params()
        return f"router-{router_name}-{params.get('threshold', 0.5):g}"

    def upstreams(self, router_name: str, decision: Decision) -> list[str]:
        """The `models` keys to try for `decision`: the chosen one first, then the others by score."""
        mapping = self._config.routers[router_name].models
        if decision.role is not None:  # strong/weak: the chosen side, then the other one
            order = [decision.model, *(c for c in decision.candidates if c != decision.model)]
        else:
            order = sorted(decision.candidates, key=lambda c: (c != decision.model, -decision.scores.get(c, 0.0)))
        keys: list[str] = []
        for candidate in order:
            if mapping[candidate] not in keys:
                keys.append(mapping[candidate])
        return keys

    def _select(self, name: str, router_name: str, threshold: float | None) -> Selection:
        router = self.routers[router_name]
        if threshold is None:
            return Selection(name, router_name, router, None)
        _require_pairwise(router, f"`model` {name!r}")
        return Selection(name, router_name, router, Threshold(threshold))

    def _default_policy(self, router_name: str) -> Policy:
        threshold = self._config.routers[router_name].threshold
        return Threshold(threshold) if threshold is not None else self.routers[router_name].default_policy


def score_of(decision: Decision) -> float:
    """The number shown in `x-routerkit-score`: P(strong wins), or the chosen model's own score."""
    if "strong_win_rate" in decision.scores:
        return decision.scores["strong_win_rate"]
    return decision.scores.get(decision.model, 0.0)


def _load_router(name: str, spec: RouterConfig) -> Router:
    try:
        router = load(spec.load, **spec.options)
    except TypeError as exc:  # a misspelt option reaches the router kind's constructor
        raise ConfigError(f"`routers.{name}.options` {spec.options!r} were refused by {spec.load!r}: {exc}.") from exc
    _check_mapping(name, router, spec.models)
    if spec.threshold is not None:
        _require_pairwise(router, f"`routers.{name}.threshold`")
    return router


def _check_mapping(name: str, router: Router, models: Mapping[str, str]) -> None:
    candidates = [m.name for m in router.candidates]
    missing = [c for c in candidates if c not in models]
    unknown = [c for c in models if c not in candidates]
    if missing or unknown:
        raise ConfigError(
            f"`routers.{name}.models` must map exactly the candidates of router {name!r} "
            f"({', '.join(map(repr, candidates))}) to keys of `models`; "
            + (f"missing: {', '.join(map(repr, missing))}" if missing else "")
            + ("; " if missing and unknown else "")
            + (f"not candidates: {', '.join(map(repr, unknown))}" if unknown else "")
            + "."
        )


def _require_pairwise(router: Router, where: str) -> None:
    if not router.pairwise:
        raise ConfigError(
            f"{where} sets a threshold, but router {router.name!r} scores many models; "
            "a threshold applies only to strong/weak routers."
        )


def _threshold(model: str, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:
        raise ConfigError(
            f"`model` {model!r}: the threshold {raw!r} must be a number in [0, 1], as in `router-mf-0.3`."
        )
    return value
