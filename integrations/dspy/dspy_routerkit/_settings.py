"""`RouterSettings`: the router a program asks and the policy it applies, saved with the program."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

from dspy.predict.parameter import Parameter
from pydantic import ValidationError
from routerkit.adapters import as_policy, as_router
from routerkit.errors import ConfigError, RouterkitWarning
from routerkit.routers.base import Router
from routerkit.routers.decision import Decision
from routerkit.routers.inputs import PromptInput
from routerkit.routers.policies import Policy

__all__ = ["RouterSettings"]


class RouterSettings(Parameter):  # type: ignore[misc]  # dspy ships no type information: Parameter is Any
    """The router of a `RoutedPredict` and the policy it applies, as a DSPy parameter.

    Being a `dspy.predict.parameter.Parameter`, it is saved and loaded with the program
    (`program.save("p.json")` writes `{"router": {...}, "predict": {...}}`), while optimisers, which
    only tune `dspy.Predict` parameters, leave it alone. The router itself (an ONNX model) is not
    saved: loading checks that the program's router has the saved name and candidates, then restores
    the policy.

    Args:
        router: a routerkit router, or a router name for `routerkit.load` (e.g. `"mf"`).
        policy: how scores become a choice; None uses the router's default policy.

    Raises:
        ConfigError: if `router` is neither a `Router` nor a name, or `policy` is not a `Policy`.
        UnknownNameError: if no router is registered under the name.
    """

    def __init__(self, router: Router | str, policy: Policy | None = None) -> None:
        self.router = as_router(router)
        self.policy = policy

    @property
    def policy(self) -> Policy | None:
        """The policy applied to the router's scores; None means the router's default policy."""
        return self._policy

    @policy.setter
    def policy(self, policy: Policy | None) -> None:
        self._policy = as_policy(policy)

    def route(self, prompt: PromptInput) -> Decision:
        """Ask the router which candidate should answer `prompt`, under this policy."""
        return self.router.route(prompt, self._policy)

    async def aroute(self, prompt: PromptInput) -> Decision:
        """Async twin of `route`; scoring runs off the event loop."""
        return await self.router.aroute(prompt, self._policy)

    def dump_state(self, json_mode: bool = True) -> dict[str, Any]:
        """The saved form: router name, version and candidates, and the policy (JSON-safe either way)."""
        return {
            "router": self.router.name,
            "router_version": self.router.version,
            "candidates": [m.name for m in self.router.candidates],
            "policy": None if self._policy is None else self._policy.model_dump(mode="json"),
        }

    def load_state(self, state: Mapping[str, Any]) -> RouterSettings:
        """Restore the policy saved by `dump_state`, after checking it was saved for this router.

        Raises:
            ConfigError: if the state is malformed, was saved with another router or other candidates,
                or names a policy kind that no installed `Policy` class has.
        """
        if (
            not isinstance(state, Mapping)
            or not {"router", "candidates", "policy"} <= state.keys()
            or not isinstance(state["candidates"], list)
        ):
            raise ConfigError(
                "Saved router settings must be a dict with 'router', 'candidates' (a list) and 'policy', got "
                f"{state!r:.80}. Load a file written by `program.save(...)` of a program with a `RoutedPredict`."
            )
        self._check_same_router(state)
        saved = state["policy"]
        self._policy = None if saved is None else _policy_from_state(saved)
        return self

    def reset(self) -> None:
        """Keep the settings: they are configuration, not something an optimiser learns.

        DSPy optimisers call `reset()` on a program's parameters before compiling (to clear demos); a
        calibrated policy survives that.
        """

    def __deepcopy__(self, memo: dict[int, object]) -> RouterSettings:
        # Optimisers deep-copy programs; the router (ONNX sessions) is shared, the frozen policy too.
        return RouterSettings(self.router, self._policy)

    def __repr__(self) -> str:
        return f"RouterSettings(router={self.router!r}, policy={self._policy!r})"

    def _check_same_router(self, state: Mapping[str, Any]) -> None:
        candidates = [m.name for m in self.router.candidates]
        if state["router"] != self.router.name or list(state["candidates"]) != candidates:
            raise ConfigError(
                f"These settings were saved for router {state['router']!r} with candidates "
                f"{list(state['candidates'])!r}, but this program routes with {self.router.name!r} over "
                f"{candidates!r}. Build the program with the same router (e.g. `routerkit.load({state['router']!r})`) "
                "before calling `load`."
            )
        saved_version = state.get("router_version")
        if saved_version is not None and saved_version != self.router.version:
            warnings.warn(
                f"The saved policy was set for router {self.router.name!r} version {saved_version!r}; this router is "
                f"version {self.router.version!r}, whose scores may differ. Re-calibrate the policy if routing shifts.",
                RouterkitWarning,
                stacklevel=3,
            )


def _policy_from_state(saved: object) -> Policy:
    kind = saved.get("name") if isinstance(saved, Mapping) else None
    for cls in _policy_classes():
        if "name" in cls.model_fields and cls.model_fields["name"].default == kind:
            try:
                return cls.model_validate(saved)
            except ValidationError as exc:
                raise ConfigError(f"The saved {kind!r} policy {saved!r:.80} is invalid: {exc}") from exc
    known = sorted({str(c.model_fields["name"].default) for c in _policy_classes() if "name" in c.model_fields})
    raise ConfigError(
        f"The saved policy {saved!r:.80} names no known policy kind (known: {known!r}). Import the module that "
        "defines its `Policy` class before loading, or set `program.router.policy` yourself."
    )


def _policy_classes() -> list[type[Policy]]:
    """Every imported `Policy` subclass, at any depth (third-party policies included)."""
    found: list[type[Policy]] = []
    pending = list(Policy.__subclasses__())
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending.extend(cls.__subclasses__())
    return found
