"""LangChain test doubles: a tool-capable fake chat model, a counting callback handler, and a router."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any
from uuid import UUID

import pytest
from langchain_core.callbacks import BaseCallbackHandler, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, ToolCall, UsageMetadata
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult, LLMResult
from langchain_core.runnables import Runnable
from langchain_core.utils.function_calling import convert_to_openai_tool
from langchain_routerkit import ChatRouterkit
from pydantic import Field
from routerkit.routers.base import Scores
from routerkit.routers.baselines import LengthRouter

LONG = "Explain, step by step and with proofs, " + "why this matters " * 40  # > 500 chars: "big"
SHORT = "hi there"  # "small"


class ToolFake(BaseChatModel):
    """Answers `reply` (word by word when streaming) with token usage; calls the first bound tool.

    None of langchain-core's fakes implements `bind_tools`; this one converts tools like a provider
    would and records every call's keyword arguments.
    """

    model_name: str = "fake"
    reply: str = "fake answer"
    tool_args: dict[str, Any] = Field(default_factory=dict)
    calls: list[dict[str, Any]] = Field(default_factory=list)

    def bind_tools(
        self, tools: Sequence[Any], *, tool_choice: Any = None, **kwargs: Any
    ) -> Runnable[LanguageModelInput, AIMessage]:
        return self.bind(tools=[convert_to_openai_tool(t) for t in tools], tool_choice=tool_choice, **kwargs)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        self.calls.append({"messages": messages, "stop": stop, **kwargs})
        tools = kwargs.get("tools") or []
        tool_calls = [ToolCall(name=tools[0]["function"]["name"], args=self.tool_args, id="call_1")] if tools else []
        message = AIMessage(
            content=self.reply, tool_calls=tool_calls, usage_metadata=self._usage(), response_metadata=self._meta()
        )
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        self.calls.append({"messages": messages, "stop": stop, "streamed": True, **kwargs})
        words = self.reply.split(" ")
        for i, word in enumerate(words):
            last = i == len(words) - 1
            message = AIMessageChunk(
                content=word if last else word + " ",
                usage_metadata=self._usage() if last else None,
                response_metadata=self._meta() if last else {},
            )
            chunk = ChatGenerationChunk(message=message)
            if run_manager:
                run_manager.on_llm_new_token(chunk.text, chunk=chunk)
            yield chunk

    def _usage(self) -> UsageMetadata:
        return UsageMetadata(input_tokens=7, output_tokens=3, total_tokens=10)

    def _meta(self) -> dict[str, Any]:
        return {"model_name": self.model_name}

    @property
    def _llm_type(self) -> str:
        return "tool-fake"


class CountingRouter(LengthRouter):
    """The `length` router, counting how often it is asked to score (and how many prompts)."""

    def __init__(self, **options: Any) -> None:
        super().__init__(strong="big", weak="small", threshold=0.5, **options)
        self.score_calls: list[int] = []

    def _score_texts(self, texts: list[str]) -> Scores:
        self.score_calls.append(len(texts))
        return super()._score_texts(texts)


class Counter(BaseCallbackHandler):
    """Counts chat-model and chain events, thread-safely (`batch` runs routes in a thread pool)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.chat_starts: list[dict[str, Any]] = []
        self.llm_ends: list[LLMResult] = []
        self.tokens: list[str] = []
        self.chains: dict[UUID, str] = {}
        self.routed: set[UUID] = set()
        self.chain_ends: list[Any] = []
        self.chain_errors: list[BaseException] = []

    def on_chat_model_start(
        self,
        serialized: dict[str, Any],
        messages: list[list[BaseMessage]],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        with self.lock:
            self.chat_starts.append({"parent": parent_run_id, "metadata": metadata or {}})

    def on_llm_end(self, response: LLMResult, **kwargs: Any) -> None:
        with self.lock:
            self.llm_ends.append(response)

    def on_llm_new_token(self, token: str, **kwargs: Any) -> None:
        with self.lock:
            self.tokens.append(token)

    def on_chain_start(self, serialized: Any, inputs: Any, *, run_id: UUID, **kwargs: Any) -> None:
        with self.lock:
            self.chains[run_id] = kwargs.get("name", "")
            if isinstance(inputs, dict) and set(inputs) == {"messages"}:
                self.routed.add(run_id)  # the shape of the router's own chain run (wrappers see the raw input)

    def on_chain_end(self, outputs: Any, **kwargs: Any) -> None:
        with self.lock:
            self.chain_ends.append(outputs)

    def on_chain_error(self, error: BaseException, **kwargs: Any) -> None:
        with self.lock:
            self.chain_errors.append(error)

    def router_runs(self) -> set[UUID]:
        """Run ids of the `ChatRouterkit` chain runs that route a call."""
        return self.routed

    def output_tokens(self) -> int:
        """Output tokens summed over every LLM run that ended (each reported once)."""
        total = 0
        for result in self.llm_ends:
            message = result.generations[0][0].message  # type: ignore[attr-defined]
            total += (message.usage_metadata or {}).get("output_tokens", 0)
        return total


@pytest.fixture
def router() -> CountingRouter:
    """`length` router between "big" (prompts over 500 characters) and "small"."""
    return CountingRouter()


@pytest.fixture
def make_model(router: CountingRouter) -> Callable[..., ChatRouterkit]:
    """Build a `ChatRouterkit` over `router` with fresh `ToolFake` routes named "big" and "small"."""

    def make(**options: Any) -> ChatRouterkit:
        routes = (
            options.pop("routes")
            if "routes" in options
            else {
                "big": ToolFake(model_name="big", reply="big answer"),
                "small": ToolFake(model_name="small", reply="small answer"),
            }
        )
        return ChatRouterkit(router=options.pop("router", router), routes=routes, **options)

    return make


@pytest.fixture
def fake() -> type[ToolFake]:
    """The tool-capable fake chat model class (test modules cannot import from conftest)."""
    return ToolFake


@pytest.fixture
def counter() -> Counter:
    """A fresh counting callback handler."""
    return Counter()
