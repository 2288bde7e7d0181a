"""The chain run that wraps each routed call; the chosen route's call runs as its child."""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import (
    AsyncCallbackManager,
    AsyncCallbackManagerForChainRun,
    BaseCallbackManager,
    CallbackManager,
    CallbackManagerForChainRun,
    Callbacks,
)
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage
from langchain_core.runnables import RunnableConfig

__all__ = ["astart", "start"]


def start(model: BaseChatModel, config: RunnableConfig, messages: list[BaseMessage]) -> CallbackManagerForChainRun:
    """Open `model`'s chain run for one call (`config["run_id"]`, if any, is used and removed)."""
    manager = CallbackManager.configure(*_configure_args(model, config))
    return manager.on_chain_start(None, {"messages": messages}, **_run_args(model, config))


async def astart(
    model: BaseChatModel, config: RunnableConfig, messages: list[BaseMessage]
) -> AsyncCallbackManagerForChainRun:
    """Async `start`."""
    manager = AsyncCallbackManager.configure(*_configure_args(model, config))
    return await manager.on_chain_start(None, {"messages": messages}, **_run_args(model, config))


def _configure_args(model: BaseChatModel, config: RunnableConfig) -> tuple[Any, ...]:
    # The model's own handlers are passed as inheritable: a chat model's `callbacks=` are expected to
    # see its LLM call, which here is the route's child run.
    return (
        _combined(config.get("callbacks"), model.callbacks),
        None,
        model.verbose,
        config.get("tags"),
        model.tags,
        config.get("metadata"),
        model.metadata,
    )


def _run_args(model: BaseChatModel, config: RunnableConfig) -> dict[str, Any]:
    return {"name": config.get("run_name") or model.get_name(), "run_id": config.pop("run_id", None)}


def _combined(inherited: Callbacks, own: Callbacks) -> Callbacks:
    """The call's callbacks plus the model's own handlers, all inheritable."""
    handlers = own.handlers if isinstance(own, BaseCallbackManager) else list(own or [])
    if not handlers:
        return inherited
    if isinstance(inherited, BaseCallbackManager):
        manager = inherited.copy()
        for handler in handlers:
            manager.add_handler(handler, inherit=True)
        return manager
    return [*(inherited or []), *handlers]
