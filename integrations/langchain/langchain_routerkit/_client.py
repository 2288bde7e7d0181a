"""`ChatModelClient`: a LangChain chat model behind routerkit's `ModelClient` protocol.

routerkit's compositions (cascades, pipelines) call models through `ModelClient`; the `resolve_client`
hook of this package hands them a `ChatModelClient` for any LangChain chat model.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage, convert_to_messages
from routerkit.clients import ChatMessages, Completion, Usage
from routerkit.errors import ConfigError

__all__ = ["ChatModelClient"]


class ChatModelClient:
    """Calls a LangChain chat model with OpenAI-style messages; sync, async, whole or streamed.

    Options passed to `complete`/`stream` (e.g. `temperature=0`) go to the model's `invoke`/`stream`
    as call keyword arguments. Usage comes from the answer's `usage_metadata` when the model reports it.

    Args:
        model: the chat model to call.
        name: the model's name as routers and prices know it (default: the name LangChain traces it
            under, e.g. `gpt-4o-mini`, else its `_llm_type`).

    Raises:
        ConfigError: if `model` is not a LangChain chat model.
    """

    def __init__(self, model: BaseChatModel, *, name: str | None = None) -> None:
        if not isinstance(model, BaseChatModel):
            raise ConfigError(
                f"ChatModelClient wraps a LangChain chat model (a `BaseChatModel`), got {type(model).__name__}."
            )
        self.model = model
        self.name = name or _traced_name(model)

    def complete(self, messages: ChatMessages, **options: Any) -> Completion:
        """Answer `messages` with the model's `invoke`."""
        return self._completion(self.model.invoke(_to_langchain(messages), **options))

    async def acomplete(self, messages: ChatMessages, **options: Any) -> Completion:
        """Answer `messages` with the model's `ainvoke`."""
        return self._completion(await self.model.ainvoke(_to_langchain(messages), **options))

    def stream(self, messages: ChatMessages, **options: Any) -> Iterator[str]:
        """The text of each chunk of the model's `stream` (empty chunks skipped)."""
        for chunk in self.model.stream(_to_langchain(messages), **options):
            if text := str(chunk.text):
                yield text

    async def astream(self, messages: ChatMessages, **options: Any) -> AsyncIterator[str]:
        """The text of each chunk of the model's `astream` (empty chunks skipped)."""
        async for chunk in self.model.astream(_to_langchain(messages), **options):
            if text := str(chunk.text):
                yield text

    def _completion(self, message: BaseMessage) -> Completion:
        usage = getattr(message, "usage_metadata", None) or {}
        counts = Usage(input_tokens=usage.get("input_tokens"), output_tokens=usage.get("output_tokens"))
        return Completion(text=str(message.text), model=self.name, usage=counts, raw=message)

    def __repr__(self) -> str:
        return f"<ChatModelClient {self.name!r} ({type(self.model).__name__})>"


def _traced_name(model: BaseChatModel) -> str:
    name = model._get_ls_params().get("ls_model_name")
    return name if isinstance(name, str) and name else model._llm_type


def _to_langchain(messages: ChatMessages) -> list[BaseMessage]:
    if isinstance(messages, str) or not messages:
        raise ConfigError(
            f"A ModelClient takes a non-empty list of chat messages, got {messages!r:.60}; "
            "pass e.g. [{'role': 'user', 'content': text}]."
        )
    try:
        return convert_to_messages([dict(message) for message in messages])
    except (ValueError, TypeError, NotImplementedError) as exc:
        raise ConfigError(f"Could not read the messages {messages!r:.80}: {exc}") from exc
