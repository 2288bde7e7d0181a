"""The `routerkit` entry point of langchain-routerkit: `resolve_client` for LangChain chat models.

routerkit imports this module whenever it loads plugins (e.g. inside `routerkit.load`), so it must not
import LangChain: the hook recognises LangChain objects by their class names, and imports the adapter
only when it is handed one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import routerkit

if TYPE_CHECKING:
    from routerkit.clients import ModelClient

__all__ = ["resolve_client"]

_CHAT_MODEL_BASE = ("langchain_core.language_models.chat_models", "BaseChatModel")


@routerkit.hookimpl
def resolve_client(model: object) -> ModelClient | None:
    """A `ChatModelClient` for a LangChain chat model; None for anything else (without importing LangChain)."""
    if not is_langchain_chat_model(model):
        return None
    from langchain_routerkit._client import ChatModelClient

    return ChatModelClient(model)  # type: ignore[arg-type]  # `is_langchain_chat_model` checked the type by name


def is_langchain_chat_model(model: object) -> bool:
    """Whether `model`'s class derives from LangChain's `BaseChatModel`, judged from class names only."""
    return any((cls.__module__, cls.__qualname__) == _CHAT_MODEL_BASE for cls in type(model).__mro__)
