"""Fixtures for the LlamaIndex integration: routers, counting handlers and a Settings sandbox."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import routerkit
from llama_index.core import Settings
from llama_index.core.base.llms.types import ChatMessage, ChatResponse
from llama_index.core.callbacks import CBEventType
from llama_index.core.callbacks.base_handler import BaseCallbackHandler
from llama_index.core.instrumentation import get_dispatcher
from llama_index.core.instrumentation.event_handlers import BaseEventHandler
from llama_index.core.instrumentation.events import BaseEvent
from llama_index.core.llms import MockFunctionCallingLLM
from llama_index.core.llms.callbacks import llm_chat_callback
from routerkit.plugins import Plugins
from routerkit.routers import Router


class LegacyCounter(BaseCallbackHandler):
    """Counts LlamaIndex callback events (the legacy `CallbackManager` path) by type and phase."""

    def __init__(self) -> None:
        super().__init__(event_starts_to_ignore=[], event_ends_to_ignore=[])
        self.counts: Counter[str] = Counter()

    def on_event_start(
        self,
        event_type: CBEventType,
        payload: dict[str, Any] | None = None,
        event_id: str = "",
        parent_id: str = "",
        **kwargs: Any,
    ) -> str:
        self.counts[f"{event_type.value}_start"] += 1
        return event_id

    def on_event_end(
        self, event_type: CBEventType, payload: dict[str, Any] | None = None, event_id: str = "", **kwargs: Any
    ) -> None:
        self.counts[f"{event_type.value}_end"] += 1

    def start_trace(self, trace_id: str | None = None) -> None:
        """Traces are not counted."""

    def end_trace(self, trace_id: str | None = None, trace_map: dict[str, list[str]] | None = None) -> None:
        """Traces are not counted."""


class EventCounter(BaseEventHandler):
    """Counts instrumentation events by class name and keeps them."""

    counts: Counter[str]
    events: list[BaseEvent]

    @classmethod
    def class_name(cls) -> str:
        return "EventCounter"

    def handle(self, event: BaseEvent, **kwargs: Any) -> None:
        self.counts[event.class_name()] += 1
        self.events.append(event)

    def llm_events(self) -> dict[str, int]:
        """Start and end events of LLM calls (in-progress stream events left out), plus decisions."""
        names = ("Start", "End", "RoutingDecision")
        return {k: v for k, v in self.counts.items() if k.startswith(("LLM", "Routing")) and any(n in k for n in names)}


class SingleEventMockLLM(MockFunctionCallingLLM):
    """`MockFunctionCallingLLM` whose `achat` records one LLM event, like a real provider.

    The library's mock implements `achat` by calling its own decorated `chat`, so it records two LLM
    events per async call; counting "one event per routed call" needs a route that records one.
    """

    @llm_chat_callback()
    async def achat(self, messages: Any, **kwargs: Any) -> ChatResponse:
        content = messages[-1].content or ""
        return ChatResponse(message=ChatMessage(role="assistant", content=content))


@pytest.fixture
def length_router() -> Router:
    """Deterministic, artifact-free: prompts over 500 characters go to `big`, shorter ones to `small`."""
    return routerkit.load("length", strong="big", weak="small", threshold=0.5, plugins=Plugins())


@pytest.fixture
def legacy() -> LegacyCounter:
    """A fresh legacy callback counter."""
    return LegacyCounter()


@pytest.fixture
def events() -> Iterator[EventCounter]:
    """An instrumentation counter on LlamaIndex's root dispatcher, removed after the test."""
    counter = EventCounter(counts=Counter(), events=[])
    root = get_dispatcher()
    root.add_event_handler(counter)
    yield counter
    root.event_handlers.remove(counter)


@pytest.fixture
def settings_sandbox(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let a test set `Settings.llm`, `embed_model` and `callback_manager`; the originals come back after."""
    for name in ("_llm", "_embed_model", "_callback_manager"):
        monkeypatch.setattr(Settings, name, getattr(Settings, name))


@pytest.fixture
def single_event_llm() -> type[SingleEventMockLLM]:
    """The class of a function-calling mock that records exactly one LLM event per call."""
    return SingleEventMockLLM
