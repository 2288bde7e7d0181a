"""The `routerkit` entry point of this integration: `resolve_client` for DSPy LMs.

routerkit imports this module whenever it loads its plugins, including for users who never touch
DSPy, so it must not import `dspy`: it recognises DSPy LMs by their classes' module names, and
imports the client module only for them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import routerkit

if TYPE_CHECKING:
    from routerkit.clients import ModelClient

__all__ = ["resolve_client"]

_BASE_LM = ("dspy.clients.base_lm", "BaseLM")
"""Where `dspy.BaseLM` is defined; every DSPy LM (`dspy.LM`, `DummyLM`, custom ones) subclasses it."""


@routerkit.hookimpl
def resolve_client(model: object) -> ModelClient | None:
    """Wrap a `dspy.BaseLM` (e.g. `dspy.LM("openai/gpt-4o-mini")`) as an `LMClient`; None for anything else."""
    if not is_dspy_lm(model):
        return None
    from dspy_routerkit._client import LMClient

    return LMClient(model)


def is_dspy_lm(model: object) -> bool:
    """Whether `model` is a `dspy.BaseLM`, decided from class names alone (DSPy is never imported)."""
    return any((cls.__module__, cls.__qualname__) == _BASE_LM for cls in type(model).__mro__)
