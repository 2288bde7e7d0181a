"""The chat-completions wire format: request bodies, answers, stream events, upstream errors and cost.

Pure functions over parsed JSON and text, shared by the sync and async paths of `OpenAIClient`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from routerkit.clients.base import ChatMessages, Completion, Usage
from routerkit.errors import ConfigError, ModelCallError

__all__ = [
    "StreamState",
    "cost_usd",
    "error_detail",
    "logprobs_from",
    "parse_completion",
    "request_body",
    "retryable_status",
    "usage_from",
]

_RESERVED = ("messages", "model", "stream")
_DONE = "[DONE]"


def request_body(model: str, messages: ChatMessages, options: Mapping[str, object], *, stream: bool) -> dict[str, Any]:
    """The JSON body of a chat-completions request: `model`, `messages`, then every option as given.

    Raises:
        ConfigError: if an option would override what the client sets itself (`model`, `messages`, `stream`).
    """
    clash = [name for name in _RESERVED if name in options]
    if clash:
        raise ConfigError(
            f"Option {clash[0]!r} is set by the client itself and cannot be passed as an option. "
            "Choose the model with `OpenAIClient(model=...)`, and call `stream()` / `astream()` to stream."
        )
    body: dict[str, Any] = {"model": model, "messages": [dict(message) for message in messages], **options}
    if stream:
        given = options.get("stream_options")
        body["stream"] = True
        body["stream_options"] = {**(given if isinstance(given, dict) else {}), "include_usage": True}
    return body


def retryable_status(status: int) -> bool:
    """Whether an HTTP error status is worth retrying: 429 (rate limited) and 5xx; other 4xx are not."""
    return status == 429 or status >= 500


def error_detail(body: bytes) -> str:
    """The upstream's own explanation of an error: OpenAI's `error.message`, else the start of the body."""
    try:
        payload = json.loads(body)
    except ValueError:
        payload = None
    if isinstance(payload, dict):
        error = payload.get("error")
        message = error.get("message") if isinstance(error, dict) else error
        if isinstance(message, str) and message:
            return message
    text = body.decode("utf-8", errors="replace").strip()
    return text[:300] if text else "(empty body)"


def usage_from(payload: Mapping[str, Any]) -> Usage | None:
    """The `usage` of a completion or of a stream's last chunk, or None when it has none."""
    usage = payload.get("usage")
    if not isinstance(usage, dict):
        return None
    prompt, completion = usage.get("prompt_tokens"), usage.get("completion_tokens")
    return Usage(
        input_tokens=prompt if isinstance(prompt, int) else None,
        output_tokens=completion if isinstance(completion, int) else None,
    )


def cost_usd(usage: Usage, input_usd_per_mtok: float | None, output_usd_per_mtok: float | None) -> float | None:
    """What a call cost: tokens × USD per million tokens; None when a price or a token count is unknown."""
    if input_usd_per_mtok is None or output_usd_per_mtok is None:
        return None
    if usage.input_tokens is None or usage.output_tokens is None:
        return None
    return (usage.input_tokens * input_usd_per_mtok + usage.output_tokens * output_usd_per_mtok) / 1_000_000


def logprobs_from(choice: Mapping[str, Any]) -> tuple[float, ...] | None:
    """The output tokens' log-probabilities of a choice (`logprobs.content[].logprob`), or None."""
    logprobs = choice.get("logprobs")
    content = logprobs.get("content") if isinstance(logprobs, dict) else None
    if not isinstance(content, list) or not content:
        return None
    values = [token.get("logprob") if isinstance(token, dict) else None for token in content]
    if not all(isinstance(value, (int, float)) and not isinstance(value, bool) for value in values):
        return None
    return tuple(float(value) for value in values)  # type: ignore[arg-type]


def parse_completion(body: bytes, where: str) -> tuple[str, Usage, dict[str, Any]]:
    """The text, usage and parsed JSON of a non-streaming `chat.completion` answer.

    The text is `choices[0].message.content`, or `""` when the model answered with tool calls only.

    Raises:
        ModelCallError: if the body is not a chat completion.
    """
    try:
        payload = json.loads(body)
        message = payload["choices"][0]["message"]
        content = message.get("content")
    except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
        raise ModelCallError(
            f"{where} answered with something that is not a chat completion: {body[:200]!r}. "
            "Check that `base_url` points at an OpenAI-compatible API (usually ending in `/v1`)."
        ) from exc
    return (content if isinstance(content, str) else ""), (usage_from(payload) or Usage()), payload


@dataclass
class StreamState:
    """What a stream has delivered so far: its text pieces, its usage, and whether `[DONE]` arrived."""

    where: str
    """Names the upstream in error messages."""
    pieces: list[str] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    done: bool = False

    def feed(self, line: str) -> str:
        """Take one line of the server-sent events; return its text (`""` for none).

        Raises:
            ModelCallError: if the line carries an error event or is not JSON.
        """
        if not line.startswith("data:"):
            return ""  # blank separators, `event:` and `:` comment lines carry no text
        data = line[len("data:") :].strip()
        if data == _DONE:
            self.done = True
            return ""
        try:
            chunk = json.loads(data)
        except ValueError as exc:
            raise ModelCallError(f"{self.where} sent a stream event that is not JSON: {data[:200]!r}.") from exc
        return self._take(chunk)

    def _take(self, chunk: Any) -> str:
        if not isinstance(chunk, dict):
            raise ModelCallError(f"{self.where} sent a stream event that is not an object: {chunk!r}.")
        if "error" in chunk:
            detail = error_detail(json.dumps(chunk).encode())
            raise ModelCallError(f"{self.where} ended the stream with an error: {detail}")
        self.usage = usage_from(chunk) or self.usage
        choices = chunk.get("choices")
        delta = choices[0].get("delta") if isinstance(choices, list) and choices else None
        content = delta.get("content") if isinstance(delta, dict) else None
        if isinstance(content, str) and content:
            self.pieces.append(content)
            return content
        return ""

    def completion(self, name: str, cost: float | None) -> Completion:
        """The whole answer the stream delivered, as one `Completion` (its `raw` is None)."""
        return Completion(text="".join(self.pieces), model=name, usage=self.usage, cost_usd=cost)
