"""Type conversions between LlamaIndex messages and responses and what the core router reads."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Generator, Iterator, Sequence
from typing import TypeVar

from llama_index.core.base.llms.types import ChatMessage, ChatResponse, CompletionResponse, MessageRole

from routerkit.errors import ConfigError
from routerkit.routers.decision import Decision

__all__ = [
    "DECISION_KEY",
    "ROUTE_KEY",
    "RouterPrompt",
    "atag_stream",
    "has_user_turn",
    "route_tag",
    "router_prompt",
    "tag",
    "tag_stream",
    "tool_call_messages",
]

ROUTE_KEY = "route"
"""`additional_kwargs` key of a response that names the route that produced it."""
DECISION_KEY = "routerkit_decision"
"""`additional_kwargs` key of a response that holds the router's `Decision` (None when forced)."""

RouterPrompt = str | list[dict[str, str]]
"""What the core router scores: a completion prompt, or OpenAI-style messages."""

Response = TypeVar("Response", ChatResponse, CompletionResponse)


def router_prompt(messages: Sequence[ChatMessage]) -> list[dict[str, str]]:
    """OpenAI-style messages with the text of each LlamaIndex message (the router reads the last user turn).

    Raises:
        ConfigError: if `messages` is not a sequence of `ChatMessage`.
    """
    if isinstance(messages, str) or not isinstance(messages, Sequence):
        raise ConfigError(
            f"`messages` must be a list of `ChatMessage`, got {type(messages).__name__} ({messages!r:.60}). "
            "Use `complete(prompt)` for plain text."
        )
    for message in messages:
        if not isinstance(message, ChatMessage):
            raise ConfigError(
                f"`messages` must hold `ChatMessage` objects, got {type(message).__name__} ({message!r:.60}). "
                "Build them with `ChatMessage(role='user', content=...)`."
            )
    return [{"role": str(m.role.value), "content": m.content or ""} for m in messages]


def has_user_turn(prompt: RouterPrompt) -> bool:
    """True for a completion prompt, and for messages with at least one user message."""
    return isinstance(prompt, str) or any(m["role"] == MessageRole.USER.value for m in prompt)


def tool_call_messages(
    user_msg: str | ChatMessage | None, chat_history: Sequence[ChatMessage] | None
) -> list[ChatMessage]:
    """The conversation a `*_with_tools` call sends: the history, then the new user message if any."""
    messages = list(chat_history or [])
    if isinstance(user_msg, str):
        messages.append(ChatMessage(role=MessageRole.USER, content=user_msg))
    elif user_msg is not None:
        messages.append(user_msg)
    return messages


def tag(response: Response, route: str, decision: Decision | None) -> Response:
    """Record the route and the decision in `response.additional_kwargs` (in place) and return it."""
    response.additional_kwargs[ROUTE_KEY] = route
    response.additional_kwargs[DECISION_KEY] = decision
    return response


def route_tag(response: ChatResponse) -> str | None:
    """The route named in a response's tag, or None for a response this adapter did not produce."""
    route = response.additional_kwargs.get(ROUTE_KEY)
    return route if isinstance(route, str) else None


def tag_stream(chunks: Iterator[Response], route: str, decision: Decision | None) -> Generator[Response, None, None]:
    """Tag every chunk: agents read tool calls from the last chunk they received."""
    for chunk in chunks:
        yield tag(chunk, route, decision)


async def atag_stream(
    chunks: AsyncIterator[Response], route: str, decision: Decision | None
) -> AsyncGenerator[Response, None]:
    """Async twin of `tag_stream`."""
    async for chunk in chunks:
        yield tag(chunk, route, decision)
