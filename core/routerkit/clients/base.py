"""Model clients: the one protocol through which core compositions call a model.

Anything that can answer chat messages can be a `ModelClient`. Framework integrations turn their own
model objects (a LangChain chat model, a LlamaIndex LLM, a `dspy.LM`) into clients by implementing the
`resolve_client` hook; `resolve_client(model)` asks them, so a cascade or a pipeline in the core can
call any framework's models without importing the framework.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from routerkit.errors import ConfigError, PluginError
from routerkit.plugins.manager import Plugins, default_plugins

__all__ = ["ChatMessages", "Completion", "ModelClient", "Usage", "resolve_client"]

ChatMessages = Sequence[Mapping[str, str]]
"""OpenAI-style messages: `[{"role": "system" | "user" | "assistant", "content": "..."}]`."""


@dataclass(frozen=True)
class Usage:
    """Token counts of one call, as the model reported them (None where it did not)."""

    input_tokens: int | None = None
    output_tokens: int | None = None


@dataclass(frozen=True)
class Completion:
    """A model's answer to one call."""

    text: str
    model: str
    """The model that answered (its client's `name`)."""
    usage: Usage = field(default_factory=Usage)
    cost_usd: float | None = None
    """What the call cost, where the client knows the model's prices."""
    raw: object = None
    """The framework's own response object, for callers that need more than the text."""
    logprobs: tuple[float, ...] | None = None
    """The log-probability of each output token, where the model returned them (None where it did not)."""


@runtime_checkable
class ModelClient(Protocol):
    """Calls one model: sync and async, whole answers and streamed text chunks."""

    name: str
    """The model's name, as routers and prices know it."""

    def complete(self, messages: ChatMessages, **options: object) -> Completion:
        """Answer `messages` in one piece."""
        ...

    async def acomplete(self, messages: ChatMessages, **options: object) -> Completion:
        """Async twin of `complete`."""
        ...

    def stream(self, messages: ChatMessages, **options: object) -> Iterator[str]:
        """Answer `messages` as text chunks."""
        ...

    def astream(self, messages: ChatMessages, **options: object) -> AsyncIterator[str]:
        """Async twin of `stream`."""
        ...


def resolve_client(model: object, *, plugins: Plugins | None = None) -> ModelClient:
    """Turn `model` into a `ModelClient`: itself if it already is one, else the first plugin that can.

    Raises:
        ConfigError: if no installed integration knows the model's type; the message lists the
            loaded plugins and the integrations to install.
        PluginError: if a plugin answers with something that is not a `ModelClient`.
    """
    if isinstance(model, ModelClient):
        return model
    registry = plugins or default_plugins()
    client = registry.manager.hook.resolve_client(model=model)
    if client is None:
        kind = f"{type(model).__module__}.{type(model).__qualname__}"
        raise ConfigError(
            f"No installed integration can call a {kind} (plugins: {', '.join(registry.plugin_names())}). "
            "Install the integration for its framework (langchain-routerkit, llama-index-llms-routerkit, "
            "dspy-routerkit), or pass an object with `name`, `complete`, `acomplete`, `stream` and `astream`."
        )
    if not isinstance(client, ModelClient):
        raise PluginError(f"A `resolve_client` plugin returned {client!r}, which is not a ModelClient.")
    return client
