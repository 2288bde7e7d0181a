"""`LMClient`: a `dspy.LM` (any `dspy.BaseLM`) as a routerkit `ModelClient`.

routerkit's `resolve_client` hook returns one for DSPy LMs, so the core's compositions (cascades,
pipelines) can call DSPy models. Calls go through the LM's public `lm(Request)` / `lm.acall(Request)`,
so its cache, retries, history and callbacks apply.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Iterator, Mapping

import dspy
from dspy import lm15
from routerkit.clients import ChatMessages, Completion, Usage
from routerkit.errors import ConfigError

__all__ = ["LMClient"]

_CONFIG_FIELDS = tuple(f.name for f in dataclasses.fields(lm15.Config) if f.name != "extensions")


class LMClient:
    """Calls one `dspy.BaseLM` through routerkit's `ModelClient` protocol.

    Options passed to `complete(messages, **options)` are `dspy.lm15.Config` fields
    (`max_tokens`, `temperature`, `top_p`, `stop`, `seed`, ...). DSPy LMs stream only inside
    `dspy.streamify`, so `stream`/`astream` yield the whole answer as one chunk.

    Args:
        lm: the DSPy LM to call, e.g. `dspy.LM("openai/gpt-4o-mini")`.

    Raises:
        ConfigError: if `lm` is not a `dspy.BaseLM`.
    """

    def __init__(self, lm: dspy.BaseLM) -> None:
        if not isinstance(lm, dspy.BaseLM):
            raise ConfigError(f"`LMClient` wraps a `dspy.BaseLM`, got {type(lm).__name__} ({lm!r:.60}).")
        self.lm = lm
        self.name: str = lm.model

    def complete(self, messages: ChatMessages, **options: object) -> Completion:
        """Answer `messages` (OpenAI-style dicts) in one piece."""
        return self._completion(self.lm(_request(self.name, messages, options)))

    async def acomplete(self, messages: ChatMessages, **options: object) -> Completion:
        """Async twin of `complete`."""
        return self._completion(await self.lm.acall(_request(self.name, messages, options)))

    def stream(self, messages: ChatMessages, **options: object) -> Iterator[str]:
        """The whole answer as one chunk (see the class docstring)."""
        yield self.complete(messages, **options).text

    async def astream(self, messages: ChatMessages, **options: object) -> AsyncIterator[str]:
        """Async twin of `stream`."""
        yield (await self.acomplete(messages, **options)).text

    def _completion(self, response: lm15.Response) -> Completion:
        usage = Usage(input_tokens=response.usage.input_tokens, output_tokens=response.usage.output_tokens)
        return Completion(text=response.text or "", model=self.name, usage=usage, raw=response)

    def __repr__(self) -> str:
        return f"LMClient({self.lm.model!r})"


def _request(model: str, messages: ChatMessages, options: dict[str, object]) -> lm15.Request:
    """Build the `dspy.lm15.Request` for OpenAI-style messages; system turns become `Request.system`."""
    if isinstance(messages, str) or not messages:
        raise ConfigError(
            f"`messages` must be a non-empty list of {{'role', 'content'}} dicts, got {messages!r:.60}. "
            "Pass e.g. [{'role': 'user', 'content': 'Hello'}]."
        )
    system = [_content(m) for m in messages if _role(m) == "system"]
    turns = tuple(_message(m) for m in messages if _role(m) != "system")
    if not turns:
        raise ConfigError("`messages` has only system turns; add a user message to answer.")
    return lm15.Request(model=model, messages=turns, system="\n\n".join(system) or None, config=_config(options))


def _message(message: object) -> lm15.Message:
    role = _role(message)
    if role == "user":
        return lm15.Message.user(_content(message))
    if role == "assistant":
        return lm15.Message.assistant(_content(message))
    raise ConfigError(
        f"Message roles must be 'system', 'user' or 'assistant', got {role!r}. Tool turns need a framework "
        "client that knows their call ids; pass text turns here."
    )


def _role(message: object) -> object:
    return message.get("role") if isinstance(message, Mapping) else None


def _content(message: object) -> str:
    content = message.get("content") if isinstance(message, Mapping) else None
    if not isinstance(content, str) or not content:
        raise ConfigError(f"Each message needs non-empty string 'content', got {message!r:.80}.")
    return content


def _config(options: dict[str, object]) -> lm15.Config:
    unknown = sorted(set(options) - set(_CONFIG_FIELDS))
    if unknown:
        raise ConfigError(f"Unknown option(s) {unknown!r} for a DSPy LM. Known: {list(_CONFIG_FIELDS)!r}.")
    try:
        return lm15.Config(**options)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"Invalid option(s) {options!r} for a DSPy LM: {exc}.") from exc
