"""routerkit for DSPy: route each call of a DSPy program to the LM that should answer it.

Two ways in::

    import dspy, routerkit
    from dspy_routerkit import RoutedPredict, router_lm

    router = routerkit.load("mf")
    lms = {router.strong: dspy.LM("openai/gpt-4o"), router.weak: dspy.LM("openai/gpt-4o-mini")}

    qa = RoutedPredict("question -> answer", lms, router)     # a module: routes on its inputs
    qa(question="What is 2 + 2?").route                        # which LM answered

    dspy.configure(lm=router_lm(lms, router))                 # an LM: routes every predictor's calls

Names are imported lazily: routerkit imports this package's plugin module whenever it loads
plugins, and that must not import DSPy for users who never use it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from routerkit._lazy import lazy_exports

__version__ = "0.1.0"

_EXPORTS = {
    "AsyncRouterEngine": "dspy_routerkit._engine",
    "LMClient": "dspy_routerkit._client",
    "RoutedPredict": "dspy_routerkit._module",
    "RoutedPrediction": "dspy_routerkit._module",
    "RouterEngine": "dspy_routerkit._engine",
    "RouterSettings": "dspy_routerkit._settings",
    "router_lm": "dspy_routerkit._engine",
}

__all__ = [
    "AsyncRouterEngine",
    "LMClient",
    "RoutedPredict",
    "RoutedPrediction",
    "RouterEngine",
    "RouterSettings",
    "__version__",
    "router_lm",
]

if TYPE_CHECKING:
    from dspy_routerkit._client import LMClient
    from dspy_routerkit._engine import AsyncRouterEngine, RouterEngine, router_lm
    from dspy_routerkit._module import RoutedPredict, RoutedPrediction
    from dspy_routerkit._settings import RouterSettings


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
