"""`RoutedPredict`: a `dspy.Predict` whose every call goes to the LM a routerkit router chooses."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

import dspy
from routerkit.adapters import pick_route
from routerkit.errors import ConfigError
from routerkit.routers.base import Router
from routerkit.routers.decision import Decision
from routerkit.routers.policies import Policy

from dspy_routerkit._routes import check_lms
from dspy_routerkit._settings import RouterSettings

__all__ = ["RoutedPredict", "RoutedPrediction"]

# Names a signature field cannot take: `forward` arguments and `RoutedPrediction` attributes.
_RESERVED = ("lm", "route", "route_decision")


class RoutedPrediction(dspy.Prediction):  # type: ignore[misc]  # dspy ships no type information
    """A `dspy.Prediction` that also says which route answered and why.

    `route` and `route_decision` are attributes, not output fields: `keys()`, `toDict()` and metrics see
    only the signature's outputs.
    """

    route: str = ""
    """The name of the route (key of `lms`) whose LM answered."""
    route_decision: Decision | None = None
    """The router's decision; None when the caller forced the route with `route=`."""

    @classmethod
    def from_prediction(cls, prediction: dspy.Prediction, route: str, decision: Decision | None) -> RoutedPrediction:
        """Wrap the inner predictor's `prediction`, keeping its outputs, completions and LM usage."""
        routed = cls(**prediction)
        routed._completions = prediction.completions  # Prediction has no public setter for its completions
        routed.set_lm_usage(prediction.get_lm_usage())
        routed.route = route
        routed.route_decision = decision
        return routed

    def __repr__(self) -> str:
        return f"{super().__repr__()} via route {self.route!r}"


class RoutedPredict(dspy.Module):  # type: ignore[misc]  # dspy ships no type information: Module is Any
    """Predict with the LM that a routerkit router chooses for each call.

    The router scores the call's inputs; the chosen LM answers through one inner `dspy.Predict`
    (passed per call as `lm=`), so optimisers see a single predictor, `predict`, and its demos serve
    every route. The router settings are a DSPy parameter, `router`, saved and loaded with the program.

    Example:
        >>> program = RoutedPredict("question -> answer", {"big": big_lm, "small": small_lm}, router)  # doctest: +SKIP
        >>> prediction = program(question="What is 2 + 2?")  # doctest: +SKIP
        >>> prediction.answer, prediction.route  # doctest: +SKIP
        ('4', 'small')

    Args:
        signature: a DSPy signature (`"question -> answer"` or a `dspy.Signature` class).
        lms: route name → `dspy.BaseLM`; must have an entry for every candidate of `router` and may
            have more (reachable with `route=`).
        router: a routerkit router, or a router name for `routerkit.load` (e.g. `"mf"`); its
            `Decision.model` names the route.
        policy: how scores become a choice; None uses the router's default policy.
        route_on: the input fields whose values the router scores, joined by blank lines (default:
            every input field, in signature order). Routers were trained on user questions, so leave
            out long context fields.
        **config: passed to the inner `dspy.Predict` (e.g. `temperature=`, `n=`).

    Raises:
        ConfigError: for a router that is neither a `Router` nor a name, routes that miss one of its
            candidates or are not `dspy.BaseLM`s, an unknown `route_on` field, or a signature field
            named `lm`, `route` or `route_decision`.
        UnknownNameError: if no router is registered under the name `router`.
    """

    def __init__(
        self,
        signature: str | type[dspy.Signature],
        lms: Mapping[str, dspy.BaseLM],
        router: Router | str,
        policy: Policy | None = None,
        *,
        route_on: str | Sequence[str] | None = None,
        **config: Any,
    ) -> None:
        super().__init__()
        self.router = RouterSettings(router, policy)
        self.lms = check_lms(lms, self.router.router, argument="lms")
        self.predict = dspy.Predict(signature, **config)
        _check_field_names(self.predict.signature)
        self.route_on = _route_on(route_on, self.predict.signature)

    def forward(self, *, route: str | None = None, **inputs: Any) -> RoutedPrediction:
        """Route on the inputs, then predict with the chosen LM.

        Args:
            route: force this route (a key of `lms`) instead of asking the router.
            **inputs: the signature's input fields.

        Raises:
            ConfigError: if the routed text is empty or missing, or `lm=` is passed.
            UnknownNameError: if `route` is not a key of `lms`.
        """
        name, decision = self._choose(route, inputs)
        prediction = self.predict(**inputs, lm=self.lms[name])
        return RoutedPrediction.from_prediction(prediction, name, decision)

    async def aforward(self, *, route: str | None = None, **inputs: Any) -> RoutedPrediction:
        """Async twin of `forward` (reached through `program.acall(...)`)."""
        name, decision = await self._achoose(route, inputs)
        prediction = await self.predict.acall(**inputs, lm=self.lms[name])
        return RoutedPrediction.from_prediction(prediction, name, decision)

    def _choose(self, route: str | None, inputs: Mapping[str, Any]) -> tuple[str, Decision | None]:
        if route is not None:
            return self._forced(route, inputs), None
        decision = self.router.route(self._routing_text(inputs))
        return decision.model, decision

    async def _achoose(self, route: str | None, inputs: Mapping[str, Any]) -> tuple[str, Decision | None]:
        if route is not None:
            return self._forced(route, inputs), None
        decision = await self.router.aroute(self._routing_text(inputs))
        return decision.model, decision

    def _forced(self, route: str, inputs: Mapping[str, Any]) -> str:
        _refuse_lm(inputs)
        pick_route(self.lms, route, argument="lms")  # raises, listing the routes, for an unknown name
        return route

    def _routing_text(self, inputs: Mapping[str, Any]) -> str:
        _refuse_lm(inputs)
        present = [str(inputs[f]) for f in self.route_on if inputs.get(f) is not None]
        if not present:
            raise ConfigError(
                f"`RoutedPredict` routes on the input field(s) {list(self.route_on)!r}, but the call gave "
                f"{sorted(inputs)!r}. Pass them as keyword arguments, e.g. program({self.route_on[0]}=...)."
            )
        return "\n\n".join(present)

    def __deepcopy__(self, memo: dict[int, object]) -> RoutedPredict:
        # Optimisers deep-copy programs (teacher, candidates). The route LMs are clients, not learned
        # state: copies share them, so their caches, histories and usage stay in one place.
        clone = type(self).__new__(type(self))
        memo[id(self)] = clone
        for key, value in vars(self).items():
            setattr(clone, key, dict(value) if key == "lms" else copy.deepcopy(value, memo))
        return clone


def _refuse_lm(inputs: Mapping[str, Any]) -> None:
    if "lm" in inputs:
        raise ConfigError("`RoutedPredict` chooses the LM itself; pass `route=<name>` to force one instead of `lm=`.")


def _check_field_names(signature: type[dspy.Signature]) -> None:
    clashes = [f for f in (*signature.input_fields, *signature.output_fields) if f in _RESERVED]
    if clashes:
        raise ConfigError(
            f"The signature has field(s) {clashes!r}, which `RoutedPredict` reserves for its own arguments and "
            f"attributes {list(_RESERVED)!r}. Rename them."
        )


def _route_on(route_on: str | Sequence[str] | None, signature: type[dspy.Signature]) -> tuple[str, ...]:
    inputs = list(signature.input_fields)
    if not inputs:
        raise ConfigError(f"The signature {signature.signature!r} has no input fields for the router to score.")
    if route_on is None:
        return tuple(inputs)
    if isinstance(route_on, str):
        route_on = [route_on]
    if not route_on or any(f not in inputs for f in route_on):
        raise ConfigError(f"`route_on` must name input fields of the signature {inputs!r}, got {route_on!r}.")
    return tuple(route_on)
