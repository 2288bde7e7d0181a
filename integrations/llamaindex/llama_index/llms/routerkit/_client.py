"""`LlamaIndexClient`: a LlamaIndex LLM seen through routerkit's `ModelClient` protocol."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any

from llama_index.core.base.llms.types import ChatMessage, ChatResponse, MessageRole
from llama_index.core.llms import LLM

from routerkit.clients import ChatMessages, Completion, Usage
from routerkit.errors import ConfigError

__all__ = ["LlamaIndexClient"]

# Where LlamaIndex integrations report token counts: OpenAI-style and Anthropic-style names.
_INPUT_KEYS = ("prompt_tokens", "input_tokens")
_OUTPUT_KEYS = ("completion_tokens", "output_tokens")


class LlamaIndexClient:
    """Calls a LlamaIndex `LLM` with OpenAI-style messages, for routerkit's compositions.

    `routerkit.clients.resolve_client(llm)` returns one for any LlamaIndex LLM (this package's
    `resolve_client` hook). Calls go through the LLM's `chat` / `achat` / `stream_chat` /
    `astream_chat`, so its callbacks and instrumentation events fire as usual; options are passed on
    as keyword arguments.

    Args:
        llm: the LlamaIndex LLM to call.
        name: the model name routers and prices know it by (default: the LLM's `metadata.model_name`,
            or its class name when that is `unknown`).

    Raises:
        ConfigError: if `llm` is not a LlamaIndex `LLM`.
    """

    __module__ = "llama_index.llms.routerkit"  # the public path, for reprs, docs and pickles

    def __init__(self, llm: LLM, name: str | None = None) -> None:
        if not isinstance(llm, LLM):
            raise ConfigError(
                f"`LlamaIndexClient` wraps a LlamaIndex `LLM`, got {type(llm).__name__} ({llm!r:.60}). "
                "Call `routerkit.clients.resolve_client(model)` to find the integration for other models."
            )
        self.llm = llm
        self.name = name or _model_name(llm)

    def complete(self, messages: ChatMessages, **options: object) -> Completion:
        """Answer `messages` with the LLM's `chat`."""
        return self._completion(self.llm.chat(_chat_messages(messages), **options))

    async def acomplete(self, messages: ChatMessages, **options: object) -> Completion:
        """Answer `messages` with the LLM's `achat`."""
        return self._completion(await self.llm.achat(_chat_messages(messages), **options))

    def stream(self, messages: ChatMessages, **options: object) -> Iterator[str]:
        """Yield the text deltas of the LLM's `stream_chat`."""
        for chunk in self.llm.stream_chat(_chat_messages(messages), **options):
            yield chunk.delta or ""

    async def astream(self, messages: ChatMessages, **options: object) -> AsyncIterator[str]:
        """Yield the text deltas of the LLM's `astream_chat`."""
        async for chunk in await self.llm.astream_chat(_chat_messages(messages), **options):
            yield chunk.delta or ""

    def _completion(self, response: ChatResponse) -> Completion:
        return Completion(text=response.message.content or "", model=self.name, usage=_usage(response), raw=response)

    def __repr__(self) -> str:
        return f"<LlamaIndexClient {self.name!r} ({type(self.llm).__name__})>"


def _model_name(llm: LLM) -> str:
    name = llm.metadata.model_name
    return name if name and name != "unknown" else llm.class_name()


def _chat_messages(messages: ChatMessages) -> list[ChatMessage]:
    if isinstance(messages, str) or not messages:
        raise ConfigError(
            f"`messages` must be a non-empty list of {{'role': ..., 'content': ...}} dicts, got {messages!r:.60}."
        )
    return [_chat_message(message) for message in messages]


def _chat_message(message: Mapping[str, str]) -> ChatMessage:
    roles = [role.value for role in MessageRole]
    role = message.get("role") if isinstance(message, Mapping) else None
    if role not in roles:
        raise ConfigError(f"Each message needs a `role` among {roles!r}, got {message!r:.80}.")
    return ChatMessage(role=MessageRole(role), content=message.get("content", ""))


def _usage(response: ChatResponse) -> Usage:
    """Token counts from the response's `additional_kwargs`, else from the provider's `raw.usage`."""
    sources: list[Any] = [response.additional_kwargs, _field(response.raw, "usage")]
    for source in sources:
        input_tokens, output_tokens = _first_int(source, _INPUT_KEYS), _first_int(source, _OUTPUT_KEYS)
        if input_tokens is not None or output_tokens is not None:
            return Usage(input_tokens=input_tokens, output_tokens=output_tokens)
    return Usage()


def _first_int(source: object, keys: tuple[str, ...]) -> int | None:
    for key in keys:
        value = _field(source, key)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def _field(source: object, key: str) -> object:
    if isinstance(source, Mapping):
        return source.get(key)
    return getattr(source, key, None)
