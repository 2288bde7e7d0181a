"""LangChain input → messages → the OpenAI-style prompt a router scores; and tagging outputs with the choice."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    ChatMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
    convert_to_messages,
)
from langchain_core.prompt_values import PromptValue
from routerkit.errors import ConfigError
from routerkit.routers.decision import Decision

__all__ = ["Choice", "router_prompt", "tag", "to_messages"]

# LangChain names roles by message class (`.type == "human"`); routers read OpenAI roles ("user").
_ROLES: tuple[tuple[type[BaseMessage], str], ...] = (
    (HumanMessage, "user"),
    (AIMessage, "assistant"),
    (SystemMessage, "system"),
    (ToolMessage, "tool"),
)


def to_messages(model_input: object) -> list[BaseMessage]:
    """Normalise what a LangChain chat model accepts: a string, a `PromptValue` or a list of messages.

    Raises:
        ConfigError: for any other type, or messages LangChain cannot parse.
    """
    if isinstance(model_input, PromptValue):
        return model_input.to_messages()
    if isinstance(model_input, str):
        return [HumanMessage(content=model_input)]
    if isinstance(model_input, Sequence) and not isinstance(model_input, bytes | bytearray):
        try:
            return convert_to_messages(model_input)
        except (ValueError, TypeError, NotImplementedError) as exc:
            raise ConfigError(f"Could not read the messages {model_input!r:.80}: {exc}") from exc
    raise ConfigError(
        f"A chat model takes a string, a list of messages or a PromptValue, got {type(model_input).__name__} "
        f"({model_input!r:.60}). Pass e.g. 'Hello' or [HumanMessage('Hello')]."
    )


def router_prompt(messages: Sequence[BaseMessage]) -> list[dict[str, str]]:
    """The messages as `[{"role": "user", "content": "..."}]`: the form `Router.route` reads."""
    return [{"role": _role(message), "content": str(message.text)} for message in messages]


def _role(message: BaseMessage) -> str:
    if isinstance(message, ChatMessage):
        return message.role
    for cls, role in _ROLES:
        if isinstance(message, cls):
            return role
    return message.type


@dataclass(frozen=True)
class Choice:
    """Which route answers a call, and why: the router's decision, or a forced route (decision None)."""

    route: str
    decision: Decision | None
    diverted_from: str | None = None
    """The route the router chose, when it could not serve the call and `route` stood in for it."""

    def metadata(self) -> dict[str, Any]:
        """The keys added to `response_metadata` and to the route's run metadata."""
        data: dict[str, Any] = {
            "routerkit_route": self.route,
            "routerkit_decision": self.decision.model_dump(mode="json") if self.decision else None,
        }
        if self.diverted_from is not None:
            data["routerkit_diverted_from"] = self.diverted_from
        return data


def tag(output: Any, choice: Choice) -> Any:
    """Copy of `output` with the choice in its `response_metadata` (or its `raw` message's)."""
    if isinstance(output, BaseMessage):
        return output.model_copy(update={"response_metadata": {**output.response_metadata, **choice.metadata()}})
    if isinstance(output, dict) and isinstance(output.get("raw"), BaseMessage):
        return {**output, "raw": tag(output["raw"], choice)}
    return output
