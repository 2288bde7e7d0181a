"""routerkit for LlamaIndex: an LLM that routes each call to the LLM that should answer it, and a selector.

Example::

    import routerkit
    from llama_index.llms.routerkit import RouterkitLLM

    llm = RouterkitLLM(routes={"gpt-4-1106-preview": strong, "mixtral-8x7b-instruct-v0.1": weak},
                       router=routerkit.load("mf"))
    Settings.llm = llm

Names are imported lazily: routerkit imports this package's `_plugin` module whenever it loads plugins,
and that must not import LlamaIndex for users who do not use it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from routerkit._lazy import lazy_exports

__version__ = "0.1.0"

_EXPORTS = {
    "LlamaIndexClient": "llama_index.llms.routerkit._client",
    "RouterkitLLM": "llama_index.llms.routerkit._llm",
    "RouterkitSelector": "llama_index.llms.routerkit._selector",
    "RoutingDecisionEvent": "llama_index.llms.routerkit._events",
}

__all__ = ["LlamaIndexClient", "RouterkitLLM", "RouterkitSelector", "RoutingDecisionEvent", "__version__"]

if TYPE_CHECKING:
    from llama_index.llms.routerkit._client import LlamaIndexClient
    from llama_index.llms.routerkit._events import RoutingDecisionEvent
    from llama_index.llms.routerkit._llm import RouterkitLLM
    from llama_index.llms.routerkit._selector import RouterkitSelector


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
