"""Lazy package facades, shared by routerkit and its integration distributions.

A facade lists its public names and the private modules defining them; a name is imported on first
access. routerkit uses it so `import routerkit` stays light, and each integration so that routerkit
loading its `_plugin` entry point (which runs the package `__init__`) does not import the framework.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(
    package: str, exports: Mapping[str, str], namespace: dict[str, Any]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """Module-level `__getattr__` and `__dir__` for a facade.

    Use as `__getattr__, __dir__ = lazy_exports(__name__, {"Name": "pkg._module"}, globals())`, with the
    same names imported under `if TYPE_CHECKING:` for type checkers and a literal `__all__`.
    """

    def __getattr__(name: str) -> Any:
        source = exports.get(name)
        if source is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(source), name)
        namespace[name] = value  # cache: later lookups skip this function
        return value

    def __dir__() -> list[str]:
        return list(namespace["__all__"])

    return __getattr__, __dir__
