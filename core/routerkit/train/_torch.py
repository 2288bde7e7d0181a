"""The guarded torch import every trainer goes through."""

from __future__ import annotations

import importlib
from types import ModuleType

from routerkit.errors import MissingDependencyError

__all__ = ["require"]


def require(module: str = "torch", feature: str = "Training a router") -> ModuleType:
    """Import `module` or raise `MissingDependencyError` naming the `train` extra."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError.for_extra(feature, "train", module) from exc
