"""`RouterkitChatBase`: the parts of `ChatRouterkit` that are LangChain plumbing, not routing.

`BaseChatModel` funnels `generate`, `_generate` and `stream_events(version="v3")` into a single model's
own generation; a router has none. These overrides send the legacy entry points through the routed
`batch`, and refuse the paths that would bypass routing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any, Literal

from langchain_core.callbacks import CallbackManagerForLLMRun, Callbacks
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult, LLMResult
from langchain_core.runnables import RunnableConfig

if TYPE_CHECKING:
    import uuid

    from langchain_core.runnables.schema import StreamEvent

__all__ = ["RouterkitChatBase"]


class RouterkitChatBase(BaseChatModel):
    """A chat model whose answers come from `invoke`/`batch` overrides, never from `_generate`."""

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        raise NotImplementedError(
            "ChatRouterkit answers through `invoke` (and `ainvoke`, `stream`, `astream`, `batch`, `abatch`), "
            "which delegate to the chosen route as a child run. `_generate` would bill the route's call twice "
            "in callbacks and tracing, so it is never used."
        )

    def generate(
        self,
        messages: list[list[BaseMessage]],
        stop: list[str] | None = None,
        callbacks: Callbacks = None,
        *,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        run_name: str | None = None,
        run_id: uuid.UUID | None = None,
        **kwargs: Any,
    ) -> LLMResult:
        """The legacy entry point (`generate_prompt` uses it): routes each message list through `batch`."""
        config = _legacy_config(callbacks, tags, metadata, run_name, run_id)
        return _llm_result(self.batch(list(messages), config, stop=stop, **kwargs))

    async def agenerate(
        self,
        messages: list[list[BaseMessage]],
        stop: list[str] | None = None,
        callbacks: Callbacks = None,
        *,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        run_name: str | None = None,
        run_id: uuid.UUID | None = None,
        **kwargs: Any,
    ) -> LLMResult:
        """Async `generate`."""
        config = _legacy_config(callbacks, tags, metadata, run_name, run_id)
        return _llm_result(await self.abatch(list(messages), config, stop=stop, **kwargs))

    def stream_events(  # type: ignore[override]  # one signature for the base's v1/v2 and v3 overloads
        self,
        input: LanguageModelInput,
        config: RunnableConfig | None = None,
        *,
        version: Literal["v1", "v2", "v3"] = "v2",
        stop: list[str] | None = None,
        **kwargs: Any,
    ) -> Iterator[StreamEvent]:
        """`Runnable.stream_events` for `version="v1"`/`"v2"`; v3 is refused (it would bypass routing)."""
        if version == "v3":
            raise _v3_refused()
        return super().stream_events(input, config, version=version, stop=stop, **kwargs)

    def astream_events(  # type: ignore[override]  # as for `stream_events`
        self,
        input: LanguageModelInput,
        config: RunnableConfig | None = None,
        *,
        version: Literal["v1", "v2", "v3"] = "v2",
        stop: list[str] | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[StreamEvent]:
        """`Runnable.astream_events` for `version="v1"`/`"v2"`; v3 is refused (it would bypass routing)."""
        if version == "v3":
            raise _v3_refused()
        return super().astream_events(input, config, version=version, stop=stop, **kwargs)


def _v3_refused() -> NotImplementedError:
    return NotImplementedError(
        "stream_events(version='v3') drives a chat model's own `_stream` and would bypass routing; "
        "use version='v2', or `stream`/`astream`."
    )


def _legacy_config(
    callbacks: Callbacks,
    tags: list[str] | None,
    metadata: dict[str, Any] | None,
    run_name: str | None,
    run_id: uuid.UUID | None,
) -> RunnableConfig:
    config = RunnableConfig(callbacks=callbacks, tags=tags or [], metadata=metadata or {})
    if run_name is not None:
        config["run_name"] = run_name
    if run_id is not None:
        config["run_id"] = run_id
    return config


def _llm_result(messages: list[AIMessage]) -> LLMResult:
    return LLMResult(generations=[[ChatGeneration(message=message)] for message in messages])
