"""Token usage read from upstream answers (JSON or SSE, without altering them) and its cost in USD."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TypeGuard

from routerkit.server.config import Price

__all__ = ["SseUsageTap", "TokenUsage", "usage_from_json"]


@dataclass(frozen=True)
class TokenUsage:
    """The `usage` an upstream reported."""

    prompt_tokens: int
    completion_tokens: int

    def cost_usd(self, price: Price | None) -> float | None:
        """What these tokens cost at `price` (None without a price)."""
        if price is None:
            return None
        return (
            self.prompt_tokens * price.input_usd_per_mtok + self.completion_tokens * price.output_usd_per_mtok
        ) / 1e6


def usage_from_json(payload: object) -> TokenUsage | None:
    """The `usage` of a chat completion (or of a stream chunk), None when absent or malformed.

    Token counts must be whole numbers >= 0: a bool (an `int` in Python), a negative number or a float
    makes the whole `usage` malformed, so it never reaches the token and cost metrics.
    """
    if not isinstance(payload, dict):
        return None
    usage = payload.get("usage")
    if not isinstance(usage, dict):
        return None
    prompt, completion = usage.get("prompt_tokens"), usage.get("completion_tokens")
    if not _is_count(prompt) or not _is_count(completion):
        return None
    return TokenUsage(prompt, completion)


def _is_count(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


class SseUsageTap:
    """Watches a server-sent-event byte stream as it is relayed and keeps the last `usage` seen.

    Only `data:` lines that mention `"usage"` are parsed, so relaying stays cheap; the bytes themselves
    are never changed.
    """

    def __init__(self) -> None:
        self.usage: TokenUsage | None = None
        self._pending = b""

    def feed(self, chunk: bytes) -> None:
        """Consume the next relayed chunk (events may span chunks)."""
        lines = (self._pending + chunk).split(b"\n")
        self._pending = lines.pop()
        for line in lines:
            if line.startswith(b"data:") and b'"usage"' in line:
                self._parse(line[5:].strip())

    def _parse(self, data: bytes) -> None:
        try:
            usage = usage_from_json(json.loads(data))
        except (ValueError, RecursionError):  # not JSON (a partial or foreign event), or nested too deep
            return
        if usage is not None:
            self.usage = usage
