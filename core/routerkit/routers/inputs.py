"""Turn what a caller passes (a string or chat messages) into the text a router scores."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from routerkit.errors import ConfigError

__all__ = ["PromptInput", "prompt_text"]

Message = Mapping[str, object] | object
PromptInput = str | Sequence[Message]
"""A prompt: plain text, or OpenAI-style chat messages (`{"role": ..., "content": ...}` mappings
or objects with `role`/`content` attributes)."""


def prompt_text(prompt: object) -> str:
    """Return the text to score: the string itself, or the last user turn of a message list.

    Routers were trained on single user prompts, so only the last user turn is embedded; list-form
    content (OpenAI content parts) contributes its text parts.

    Raises:
        ConfigError: for an empty prompt, a non-string, or messages without a user turn.
    """
    if isinstance(prompt, str):
        return _non_empty(prompt, "The prompt")
    if isinstance(prompt, Sequence) and not isinstance(prompt, bytes | bytearray):
        return _last_user_turn(prompt)
    raise ConfigError(
        f"A prompt must be a string or a list of chat messages, got {type(prompt).__name__} "
        f"({prompt!r:.60}). Pass the user's text, or messages like [{{'role': 'user', 'content': '...'}}]."
    )


def _non_empty(text: str, what: str) -> str:
    if not text.strip():
        raise ConfigError(f"{what} is empty ({text!r}); a router needs text to score.")
    return text


def _field(message: object, key: str) -> object:
    if isinstance(message, Mapping):
        return message.get(key)
    return getattr(message, key, None)


def _last_user_turn(messages: Sequence[object]) -> str:
    if not messages:
        raise ConfigError("The message list is empty; pass at least one user message.")
    for message in reversed(messages):
        if _field(message, "role") == "user":
            return _non_empty(_content_text(_field(message, "content")), "The last user message")
    roles = [_field(m, "role") for m in messages]
    raise ConfigError(f"No message with role 'user' among roles {roles!r}; a router scores the last user turn.")


def _content_text(content: object) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, Sequence):
        parts = [_field(part, "text") for part in content if _field(part, "type") == "text"]
        return "\n".join(p for p in parts if isinstance(p, str))
    raise ConfigError(f"Message content must be a string or a list of content parts, got {type(content).__name__}.")
