"""routerkit for LangChain: a chat model that routes each request to the model that should answer it.

- `ChatRouterkit`: a `BaseChatModel` that asks a routerkit router which route answers each call.
- `RouterkitDecision`: a runnable that returns the `routerkit.Decision` alone, for your own branching.
- `ChatModelClient`: a LangChain chat model as a routerkit `ModelClient` (what `resolve_client` returns).

Names are imported lazily: routerkit imports this package's plugin whenever it loads plugins, and that
must not import LangChain for people who do not use it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "ChatModelClient": "langchain_routerkit._client",
    "ChatRouterkit": "langchain_routerkit._chat_model",
    "RouterkitDecision": "langchain_routerkit._decision",
}

__all__ = ["ChatModelClient", "ChatRouterkit", "RouterkitDecision", "__version__"]

if TYPE_CHECKING:
    from langchain_routerkit._chat_model import ChatRouterkit
    from langchain_routerkit._client import ChatModelClient
    from langchain_routerkit._decision import RouterkitDecision


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'langchain_routerkit' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # cache: later lookups skip this function
    return value


def __dir__() -> list[str]:
    return __all__
