"""routerkit: send each LLM request to the model that should answer it.

Quick start::

    import routerkit

    router = routerkit.load("mf")                       # shipped matrix-factorisation router
    decision = router.route("Prove that sqrt(2) is irrational.")
    print(decision.model, decision.scores)

    policy = routerkit.calibrate(router, my_prompts, target=routerkit.StrongShare(0.3))
    router.route("hi", policy=policy)

Names are imported lazily, so `import routerkit` loads neither numpy, onnxruntime nor pydantic
until they are used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from routerkit._lazy import lazy_exports

__version__ = "0.1.0"

_EXPORTS = {
    "ArtifactError": "routerkit.errors",
    "BudgetPerRequest": "routerkit.calibration",
    "ConfigError": "routerkit.errors",
    "CostAware": "routerkit.routers.policies",
    "Decision": "routerkit.routers.decision",
    "MissingDependencyError": "routerkit.errors",
    "Policy": "routerkit.routers.policies",
    "Router": "routerkit.routers.base",
    "RouterInfo": "routerkit.routers.registry",
    "RouterkitError": "routerkit.errors",
    "RouterkitWarning": "routerkit.errors",
    "StrongShare": "routerkit.calibration",
    "Threshold": "routerkit.routers.policies",
    "UnknownNameError": "routerkit.errors",
    "calibrate": "routerkit.calibration",
    "hookimpl": "routerkit.plugins.hookspecs",
    "list_routers": "routerkit.routers.registry",
    "load": "routerkit.routers.registry",
}

__all__ = [
    "ArtifactError",
    "BudgetPerRequest",
    "ConfigError",
    "CostAware",
    "Decision",
    "MissingDependencyError",
    "Policy",
    "Router",
    "RouterInfo",
    "RouterkitError",
    "RouterkitWarning",
    "StrongShare",
    "Threshold",
    "UnknownNameError",
    "__version__",
    "calibrate",
    "hookimpl",
    "list_routers",
    "load",
]

if TYPE_CHECKING:
    from routerkit.calibration import BudgetPerRequest, StrongShare, calibrate
    from routerkit.errors import (
        ArtifactError,
        ConfigError,
        MissingDependencyError,
        RouterkitError,
        RouterkitWarning,
        UnknownNameError,
    )
    from routerkit.plugins.hookspecs import hookimpl
    from routerkit.routers.base import Router
    from routerkit.routers.decision import Decision
    from routerkit.routers.policies import CostAware, Policy, Threshold
    from routerkit.routers.registry import RouterInfo, list_routers, load


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
