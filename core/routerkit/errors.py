"""Every exception and warning routerkit raises.

The tree::

    RouterkitError
    ├── ConfigError(ValueError)          you passed something invalid: fix the call or the file
    │   ├── DataFormatError              a row of an outcome table is malformed (file, line, field)
    │   └── DataLeakError                a training prompt's hash is in a test split
    ├── UnknownNameError(LookupError)    a router, artifact or model name that is not registered
    ├── MissingDependencyError(ImportError)  an optional extra is not installed
    ├── ArtifactError                    a packaged or user artifact is missing, tampered or mismatched
    ├── PluginError                      a plugin failed to load or to register
    ├── RoutingError                     the runtime failed while scoring
    │   └── BackendError                 onnxruntime failed (translated at one boundary)
    ├── ModelCallError                   a model client's call failed after its retries
    └── BudgetExceededError              a composition would go over its call, token or cost budget

    RouterkitWarning(UserWarning)        e.g. `device="auto"` fell back to the CPU

"You misused the API" (`ConfigError`, `UnknownNameError`) is kept apart from "the runtime failed"
(`RoutingError`), so callers can retry only the latter.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "ArtifactError",
    "BackendError",
    "BudgetExceededError",
    "ConfigError",
    "DataFormatError",
    "DataLeakError",
    "MissingDependencyError",
    "ModelCallError",
    "PluginError",
    "RouterkitError",
    "RouterkitWarning",
    "RoutingError",
    "UnknownNameError",
]


class RouterkitError(Exception):
    """Root of every routerkit exception."""


class ConfigError(RouterkitError, ValueError):
    """An argument, a configuration value or an input file is invalid."""


class DataFormatError(ConfigError):
    """A row of an outcome table (prompts or outcomes file) is malformed.

    The message names the file, the line and the field.
    """


class DataLeakError(ConfigError):
    """Training was asked to use a prompt whose question hash is in a test split."""


class UnknownNameError(RouterkitError, LookupError):
    """A router, artifact, encoder or model name that nothing registered.

    Unlike `KeyError`, `str()` of this error is the message itself.
    """

    def __init__(self, kind: str, name: object, available: Iterable[str], hint: str) -> None:
        names = ", ".join(repr(n) for n in sorted(available)) or "none"
        super().__init__(f"Unknown {kind} {name!r}. Available: {names}. {hint}")
        self.name = name


class MissingDependencyError(RouterkitError, ImportError):
    """An optional extra is needed for this feature but is not installed."""

    @classmethod
    def for_extra(cls, feature: str, extra: str, module: str) -> MissingDependencyError:
        """Build the error for `feature`, which needs `module` from the extra `extra`."""
        return cls(
            f"{feature} needs the {module!r} package, which is not installed. "
            f'Install it with `pip install "routerkit-core[{extra}]"` '
            f'(or `pip install "routerkit[{extra}]"`).'
        )


class ArtifactError(RouterkitError):
    """An artifact file is missing, its sha256 does not match, or its parts do not fit together."""


class PluginError(RouterkitError):
    """A plugin failed to load, or registered something invalid."""


class RoutingError(RouterkitError):
    """Scoring a request failed at run time."""


class BackendError(RoutingError):
    """onnxruntime raised while creating a session or running a graph."""


class ModelCallError(RouterkitError):
    """A model client's call failed: an HTTP error, a timeout or a broken stream, after its retries."""


class BudgetExceededError(RouterkitError):
    """A cascade or pipeline was about to make a call its `Budget` does not allow; nothing was sent."""


class RouterkitWarning(UserWarning):
    """Base class of routerkit's warnings."""
