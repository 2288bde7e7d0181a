"""Fixtures for the DSPy integration: a deterministic router, DSPy's own fakes, and a recording engine."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator

import dspy
import pytest
import routerkit
from dspy import lm15
from dspy.utils import DummyLM
from routerkit.routers.base import Router


@pytest.fixture
def router() -> Router:
    """Prompts over 500 characters go to "big", shorter ones to "small" (no artifact, deterministic)."""
    return routerkit.load("length", strong="big", weak="small", threshold=0.5)


@pytest.fixture
def dummy_lms() -> dict[str, DummyLM]:
    """One `DummyLM` per route, each answering with its own name (dict answers: any prompt matches)."""
    return {name: DummyLM({"": {"answer": f"from {name}"}}) for name in ("big", "small")}


class RecordingEngine:
    """A canonical DSPy engine (`complete(Request) -> Response`) that records every request it gets."""

    def __init__(self, answer: str, usage: lm15.Usage | None = None) -> None:
        self.answer = answer
        self.usage = usage or lm15.Usage(input_tokens=11, output_tokens=7)
        self.requests: list[lm15.Request] = []

    def complete(self, request: lm15.Request) -> lm15.Response:
        self.requests.append(request)
        text = f"[[ ## answer ## ]]\n{self.answer}\n\n[[ ## completed ## ]]"
        message = lm15.Message.assistant(text)
        return lm15.Response(id=None, model=request.model, message=message, finish_reason="stop", usage=self.usage)

    def stream(self, request: lm15.Request) -> Iterator[lm15.StreamEvent]:
        return iter(lm15.response_to_events(self.complete(request)))

    def close(self) -> None:
        pass


class AsyncRecordingEngine:
    """The async twin DSPy needs for `acall`; it records into the sync engine."""

    def __init__(self, sync: RecordingEngine) -> None:
        self.sync = sync

    async def complete(self, request: lm15.Request) -> lm15.Response:
        return self.sync.complete(request)

    async def stream(self, request: lm15.Request) -> AsyncIterator[lm15.StreamEvent]:
        for event in self.sync.stream(request):
            yield event

    async def aclose(self) -> None:
        pass


def recording_lm(model: str, answer: str, **options: object) -> tuple[dspy.LM, RecordingEngine]:
    """A real `dspy.LM` named `model` on a `RecordingEngine`, and that engine."""
    engine = RecordingEngine(answer)
    lm = dspy.LM(model, engine=engine, async_engine=AsyncRecordingEngine(engine), cache=False, **options)
    return lm, engine


@pytest.fixture
def make_recording_lm() -> Callable[..., tuple[dspy.LM, RecordingEngine]]:
    """Factory: `make_recording_lm("fake/big", "an answer", max_tokens=...)` → (LM, engine)."""
    return recording_lm
