"""The iterators `OpenAIClient.stream` and `astream` return: text chunks, then the whole answer."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Callable, Generator, Iterator

from routerkit.clients._wire import StreamState
from routerkit.clients.base import Completion

__all__ = ["AsyncTextStream", "TextStream"]


class TextStream(Iterator[str]):
    """The text chunks of one streamed answer, in order; `completion` holds the whole answer once it ends.

    The request is sent when iteration starts. Close the stream (or exhaust it) to release the connection.
    """

    def __init__(self, chunks: Generator[str, None, None], state: StreamState, finish: Callable[[], Completion]):
        """Wrap `chunks`; use `OpenAIClient.stream` rather than calling this directly."""
        self._chunks, self._state, self._finish = chunks, state, finish
        self._completion: Completion | None = None

    def __iter__(self) -> TextStream:
        """The stream itself."""
        return self

    def __next__(self) -> str:
        """The next text chunk."""
        return next(self._chunks)

    @property
    def completion(self) -> Completion | None:
        """The answer the stream delivered (text, usage, cost), or None until the stream has ended."""
        if self._completion is None and self._state.done:
            self._completion = self._finish()
        return self._completion

    def close(self) -> None:
        """Stop early and release the connection."""
        self._chunks.close()


class AsyncTextStream(AsyncIterator[str]):
    """Async twin of `TextStream`: `async for` the chunks, then read `completion`."""

    def __init__(self, chunks: AsyncGenerator[str, None], state: StreamState, finish: Callable[[], Completion]) -> None:
        """Wrap `chunks`; use `OpenAIClient.astream` rather than calling this directly."""
        self._chunks, self._state, self._finish = chunks, state, finish
        self._completion: Completion | None = None

    def __aiter__(self) -> AsyncTextStream:
        """The stream itself."""
        return self

    async def __anext__(self) -> str:
        """The next text chunk."""
        return await self._chunks.__anext__()

    @property
    def completion(self) -> Completion | None:
        """The answer the stream delivered (text, usage, cost), or None until the stream has ended."""
        if self._completion is None and self._state.done:
            self._completion = self._finish()
        return self._completion

    async def aclose(self) -> None:
        """Stop early and release the connection."""
        await self._chunks.aclose()


TextStream.__module__ = AsyncTextStream.__module__ = "routerkit.clients"  # their public home
