"""The `routerkit` entry point of this integration: `resolve_client` for LlamaIndex LLMs.

routerkit imports this module whenever it loads plugins, so it imports no LlamaIndex code: the hook
first checks the model's class hierarchy by module name and imports the adapter only for LlamaIndex
objects.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import routerkit

if TYPE_CHECKING:
    from routerkit.clients import ModelClient

__all__ = ["resolve_client"]

_FRAMEWORK_PREFIX = "llama_index."


def _is_llama_index_object(model: object) -> bool:
    # LlamaIndex LLMs from integration packages live in `llama_index.llms.*`, but all derive from
    # `llama_index.core`, so walking the MRO catches them without importing anything.
    return any(cls.__module__.startswith(_FRAMEWORK_PREFIX) for cls in type(model).__mro__)


@routerkit.hookimpl
def resolve_client(model: object) -> ModelClient | None:
    """Wrap a LlamaIndex `LLM` as a `LlamaIndexClient`; None for anything else."""
    if not _is_llama_index_object(model):
        return None
    from llama_index.core.llms import LLM
    from llama_index.llms.routerkit._client import LlamaIndexClient

    return LlamaIndexClient(model) if isinstance(model, LLM) else None
