"""routerkit for LangChain: a chat model that routes each request to the model that should answer it.

- `ChatRouterkit`: a `BaseChatModel` that asks a routerkit router which route answers each call.
- `RouterkitDecision`: a runnable that returns the `routerkit.Decision` alone, for your own branching.
- `ChatModelClient`: a LangChain chat model as a routerkit `ModelClient` (what `resolve_client` returns).
- `RouterkitCascade`, `RouterkitPipeline`: routerkit's compositions (a weak→strong cascade that learns
  strategies; Archon layers of generate / critique / rank / fuse) over LangChain chat models, as runnables.

Names are imported lazily: routerkit imports this package's plugin whenever it loads plugins, and that
must not import LangChain for people who do not use it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from routerkit._lazy import lazy_exports

__version__ = "0.1.0"

_EXPORTS = {
    "ChatModelClient": "langchain_routerkit._client",
    "ChatRouterkit": "langchain_routerkit._chat_model",
    "RouterkitCascade": "langchain_routerkit._compositions",
    "RouterkitDecision": "langchain_routerkit._decision",
    "RouterkitPipeline": "langchain_routerkit._compositions",
}

__all__ = [
    "ChatModelClient",
    "ChatRouterkit",
    "RouterkitCascade",
    "RouterkitDecision",
    "RouterkitPipeline",
    "__version__",
]

if TYPE_CHECKING:
    from langchain_routerkit._chat_model import ChatRouterkit
    from langchain_routerkit._client import ChatModelClient
    from langchain_routerkit._compositions import RouterkitCascade, RouterkitPipeline
    from langchain_routerkit._decision import RouterkitDecision


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
