"""Model clients: the `ModelClient` protocol, and `OpenAIClient` for OpenAI-compatible HTTP endpoints.

The protocol and its types live in `routerkit.clients.base`; `OpenAIClient` (in `routerkit.clients.openai`)
is imported on first access, so `import routerkit.clients` does not import httpx.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from routerkit._lazy import lazy_exports
from routerkit.clients.base import ChatMessages, Completion, ModelClient, Usage, resolve_client

__all__ = [
    "AsyncTextStream",
    "ChatMessages",
    "Completion",
    "ModelClient",
    "OpenAIClient",
    "TextStream",
    "Usage",
    "resolve_client",
]

if TYPE_CHECKING:
    from routerkit.clients._streams import AsyncTextStream, TextStream
    from routerkit.clients.openai import OpenAIClient

_LAZY = {
    "AsyncTextStream": "routerkit.clients._streams",
    "OpenAIClient": "routerkit.clients.openai",
    "TextStream": "routerkit.clients._streams",
}

__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())
