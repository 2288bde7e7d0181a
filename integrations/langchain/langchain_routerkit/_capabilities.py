"""What each route can do, and the deferred `bind_tools` / `with_structured_output` calls replayed on it.

Converting tools or schemas is provider-specific, so `ChatRouterkit` never does it: it stores the caller's
arguments unconverted and replays them on whichever route answers (the same idea as `init_chat_model`'s
queued declarative calls).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from langchain_core.language_models import BaseChatModel, ModelProfile
from langchain_core.runnables import Runnable

__all__ = [
    "STRUCTURED_KEY",
    "TOOLS_KEY",
    "Deferred",
    "StructuredOutputSpec",
    "ToolsSpec",
    "can_bind_tools",
    "can_structure_output",
    "intersect_profiles",
    "pop_deferred",
]

TOOLS_KEY = "routerkit_tools"
"""The bound keyword argument that carries a `ToolsSpec` from `bind_tools` to the call."""
STRUCTURED_KEY = "routerkit_structured_output"
"""The bound keyword argument that carries a `StructuredOutputSpec` to the call."""


def can_bind_tools(model: BaseChatModel) -> bool:
    """True unless the model's class lacks `bind_tools` or its profile says it cannot call tools."""
    implemented = type(model).bind_tools is not BaseChatModel.bind_tools
    return implemented and (model.profile or {}).get("tool_calling") is not False


def can_structure_output(model: BaseChatModel) -> bool:
    """True if the model has its own `with_structured_output`, or tools to build the default one on."""
    return type(model).with_structured_output is not BaseChatModel.with_structured_output or can_bind_tools(model)


class Deferred(ABC):
    """A declarative call (`bind_tools`, `with_structured_output`) waiting for the route to be chosen."""

    need: str
    """What a route must be able to do, as a verb phrase for error messages."""

    @abstractmethod
    def supported_by(self, model: BaseChatModel) -> bool:
        """Whether `model` can serve this call."""

    @abstractmethod
    def apply(self, model: BaseChatModel) -> Runnable[Any, Any]:
        """Replay the call on `model`, returning the runnable to invoke."""


@dataclass(frozen=True, eq=False)
class ToolsSpec(Deferred):
    """The arguments of a `bind_tools` call, unconverted."""

    tools: Sequence[Any]
    tool_choice: Any = None
    options: Mapping[str, Any] = field(default_factory=dict)
    need = "call tools"

    def supported_by(self, model: BaseChatModel) -> bool:
        """Routes whose class implements `bind_tools` and whose profile does not rule tools out."""
        return can_bind_tools(model)

    def apply(self, model: BaseChatModel) -> Runnable[Any, Any]:
        """`model.bind_tools(tools, tool_choice=..., **options)`."""
        return model.bind_tools(list(self.tools), tool_choice=self.tool_choice, **self.options)


@dataclass(frozen=True, eq=False)
class StructuredOutputSpec(Deferred):
    """The arguments of a `with_structured_output` call (`method=`, `strict=` included)."""

    schema: dict[str, Any] | type
    include_raw: bool = False
    options: Mapping[str, Any] = field(default_factory=dict)
    need = "produce structured output"

    def supported_by(self, model: BaseChatModel) -> bool:
        """Routes with a native `with_structured_output`, or with tools to build one on."""
        return can_structure_output(model)

    def apply(self, model: BaseChatModel) -> Runnable[Any, Any]:
        """`model.with_structured_output(schema, include_raw=..., **options)`: provider-native modes stay."""
        return model.with_structured_output(self.schema, include_raw=self.include_raw, **self.options)


def pop_deferred(kwargs: dict[str, Any]) -> Deferred | None:
    """Remove and return the deferred call a binding passed in `kwargs` (at most one applies)."""
    tools = kwargs.pop(TOOLS_KEY, None)
    structured = kwargs.pop(STRUCTURED_KEY, None)
    return cast("Deferred | None", structured or tools)


def intersect_profiles(profiles: Iterable[ModelProfile | None]) -> ModelProfile | None:
    """What every route can do: `all` of flags, `min` of limits, common list items.

    A key is kept only when every route's profile states it; descriptive strings (name, dates) describe
    one model, so they are dropped. None when any route has no profile (nothing is known for sure).
    """
    known = list(profiles)
    if not known or any(profile is None for profile in known):
        return None
    present = [cast("dict[str, Any]", profile) for profile in known]
    shared = set.intersection(*(set(profile) for profile in present))
    merged: dict[str, Any] = {}
    for key in sorted(shared):
        value = _common([profile[key] for profile in present])
        if value is not None:
            merged[key] = value
    return cast("ModelProfile", merged) if merged else None


def _common(values: list[Any]) -> Any:
    if all(isinstance(v, bool) for v in values):
        return all(values)
    if all(isinstance(v, int) for v in values):
        return min(values)
    if all(isinstance(v, list) for v in values):
        return [item for item in values[0] if all(item in other for other in values[1:])]
    return None
